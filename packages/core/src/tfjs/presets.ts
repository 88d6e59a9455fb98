import type * as tfjs from '@tensorflow/tfjs';
import { ShrinkError } from '../errors.js';
import type { Task } from '../data/dataset.js';

type Tf = typeof tfjs;

/**
 * Output convention of every classifier preset: a linear Dense layer named `logits` followed by a
 * separate `Activation('softmax')` layer named `probs`. The model outputs probabilities (what
 * accuracy and the ONNX export use); distillation takes the `logits` layer's output
 * (see logitsModel) to apply its temperature before the softmax.
 */
export const LOGITS_LAYER = 'logits';
export const PROBS_LAYER = 'probs';

export type PresetLoss = 'categoricalCrossentropy' | 'meanSquaredError';

/**
 * How Adam's learning rate moves over the epochs: 'constant', or 'cosine' (from lr at the first epoch
 * down a half cosine to near 0 at the last): the last epochs settle into a minimum instead of
 * bouncing around it, worth about half a point of Fashion-MNIST accuracy at the same epoch count.
 */
export type LrSchedule = 'constant' | 'cosine';

/** The learning rate of `epoch` (1-based) out of `epochs`. */
export function scheduledLr(lr: number, schedule: LrSchedule, epoch: number, epochs: number): number {
  if (schedule === 'constant' || epochs <= 1) return lr;
  return (lr * (1 + Math.cos((Math.PI * (epoch - 1)) / epochs))) / 2;
}

export interface TfPreset {
  readonly name: string;
  readonly description: string;
  /** Default `--data` spec (see resolveData). */
  readonly data: string;
  readonly task: Task;
  /** Shape of one input sample. */
  readonly inputShape: readonly number[];
  /** Classes (classification) or targets per sample (regression). */
  readonly outputs: number;
  readonly epochs: number;
  readonly batchSize: number;
  /** Adam learning rate (at the first epoch). */
  readonly lr: number;
  readonly lrSchedule: LrSchedule;
  /** One-hot categorical cross-entropy on `probs` for classifiers, MSE for regression. */
  readonly loss: PresetLoss;
  /** Reported besides the loss: accuracy for classifiers, mean absolute error for regression. */
  readonly metric: 'accuracy' | 'mae';
  /**
   * A fresh, uncompiled model. Every kernel initializer is seeded (seed + layer position) and every
   * layer is named, so the same seed gives the same weights and names in any process.
   */
  build(tf: Tf, seed: number): tfjs.LayersModel;
}

function dense(tf: Tf, name: string, units: number, seed: number, activation: 'relu' | 'linear', inputShape?: number[]) {
  return tf.layers.dense({
    name,
    units,
    activation,
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    biasInitializer: 'zeros',
    ...(inputShape ? { inputShape } : {}),
  });
}

function classifierHead(tf: Tf, model: tfjs.Sequential, classes: number, seed: number): tfjs.Sequential {
  model.add(dense(tf, LOGITS_LAYER, classes, seed, 'linear'));
  model.add(tf.layers.activation({ name: PROBS_LAYER, activation: 'softmax' }));
  return model;
}

const seedPreset: TfPreset = {
  name: 'seed',
  description: 'the reference MLP Linear 1000->200->ReLU->100->ReLU->1 (MSE, Adam 0.001) on seeded synthetic regression data',
  data: 'seed',
  task: 'regression',
  inputShape: [1000],
  outputs: 1,
  // About 12 s per epoch on wasm; validation MSE flattens near 0.15 (target variance ~1.35) by epoch 4.
  epochs: 5,
  batchSize: 32,
  lr: 0.001,
  lrSchedule: 'constant',
  loss: 'meanSquaredError',
  metric: 'mae',
  build(tf, seed) {
    const m = tf.sequential({ name: 'seed' });
    m.add(dense(tf, 'fc1', 200, seed, 'relu', [1000]));
    m.add(dense(tf, 'fc2', 100, seed + 1, 'relu'));
    m.add(dense(tf, 'out', 1, seed + 2, 'linear'));
    return m;
  },
};

const digitsMlp: TfPreset = {
  name: 'digits-mlp',
  description: 'MLP 64->256->128->10 on the UCI 8x8 digits',
  data: 'digits',
  task: 'classification',
  inputShape: [64],
  outputs: 10,
  // Under a second per epoch; ~94% test accuracy after 3 epochs, ~97% after 20.
  epochs: 20,
  batchSize: 32,
  lr: 0.001,
  lrSchedule: 'constant',
  loss: 'categoricalCrossentropy',
  metric: 'accuracy',
  build(tf, seed) {
    const m = tf.sequential({ name: 'digits_mlp' });
    m.add(dense(tf, 'fc1', 256, seed, 'relu', [64]));
    m.add(dense(tf, 'fc2', 128, seed + 1, 'relu'));
    return classifierHead(tf, m, 10, seed + 2);
  },
};

const fashionMlp: TfPreset = {
  name: 'fashion-mlp',
  description: 'MLP 784->512->256->10 on Fashion-MNIST',
  data: 'fashion-mnist',
  task: 'classification',
  inputShape: [28, 28, 1],
  outputs: 10,
  // About 90 CPU-seconds per epoch over the 54k training images on wasm; 8 with a cosine decay give
  // 89.46 % test accuracy (validation 86.3 % after the first, 90.6 % after the last), par being 88 %.
  epochs: 8,
  batchSize: 64,
  lr: 0.001,
  lrSchedule: 'cosine',
  loss: 'categoricalCrossentropy',
  metric: 'accuracy',
  build(tf, seed) {
    const m = tf.sequential({ name: 'fashion_mlp' });
    m.add(tf.layers.flatten({ name: 'flatten', inputShape: [28, 28, 1] }));
    m.add(dense(tf, 'fc1', 512, seed, 'relu'));
    m.add(dense(tf, 'fc2', 256, seed + 1, 'relu'));
    return classifierHead(tf, m, 10, seed + 2);
  },
};

const fashionCnn: TfPreset = {
  name: 'fashion-cnn',
  description: 'small CNN (conv 3x3x16, pool, conv 3x3x32, pool, dense 64, 10) on Fashion-MNIST',
  data: 'fashion-mnist',
  task: 'classification',
  inputShape: [28, 28, 1],
  outputs: 10,
  // About 90 CPU-seconds per epoch on wasm; 784->26x26x16->13x13->11x11x32->5x5x32->64->10. 10 epochs
  // with a cosine decay from 0.002 give 91.14 % test accuracy (validation 86.2 % after the first, 91.9 %
  // after the last), par being 90 %.
  epochs: 10,
  batchSize: 64,
  lr: 0.002,
  lrSchedule: 'cosine',
  loss: 'categoricalCrossentropy',
  metric: 'accuracy',
  build(tf, seed) {
    const conv = (name: string, filters: number, s: number, inputShape?: number[]) =>
      tf.layers.conv2d({
        name,
        filters,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: s }),
        biasInitializer: 'zeros',
        ...(inputShape ? { inputShape } : {}),
      });
    const m = tf.sequential({ name: 'fashion_cnn' });
    m.add(conv('conv1', 16, seed, [28, 28, 1]));
    m.add(tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }));
    m.add(conv('conv2', 32, seed + 1));
    m.add(tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }));
    m.add(tf.layers.flatten({ name: 'flatten' }));
    m.add(dense(tf, 'fc1', 64, seed + 2, 'relu'));
    return classifierHead(tf, m, 10, seed + 3);
  },
};

export const TF_PRESETS: ReadonlyMap<string, TfPreset> = new Map([seedPreset, digitsMlp, fashionMlp, fashionCnn].map((p) => [p.name, p]));

export function getPreset(name: string): TfPreset {
  const p = TF_PRESETS.get(name);
  if (!p) {
    throw new ShrinkError('INVALID_ARGUMENT', `unknown training preset "${name}"; valid presets: ${[...TF_PRESETS.keys()].join(', ')}`);
  }
  return p;
}

/**
 * The same model up to its `logits` layer (shared weights, no copy): what distillation needs from a
 * preset classifier. NOT_FOUND if the model has no layer of that name.
 */
export function logitsModel(tf: Tf, model: tfjs.LayersModel): tfjs.LayersModel {
  const layer = model.layers.find((l) => l.name === LOGITS_LAYER);
  if (!layer) {
    throw new ShrinkError(
      'NOT_FOUND',
      `model ${model.name} has no layer named "${LOGITS_LAYER}"; layers: ${model.layers.map((l) => l.name).join(', ')}`,
    );
  }
  return tf.model({ inputs: model.inputs, outputs: layer.output, name: `${model.name}_logits` });
}
