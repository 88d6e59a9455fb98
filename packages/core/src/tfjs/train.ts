import type * as tfjs from '@tensorflow/tfjs';
import type { Ctx } from '../context.js';
import { loggerOf, progressOf } from '../context.js';
import { ShrinkError } from '../errors.js';
import type { Dataset, Split } from '../data/dataset.js';
import { reshapeDataset, sampleSize, targetWidth } from '../data/dataset-ops.js';
import { resolveSplit, type ResolveDataOptions } from '../data/resolve.js';
import { createRng, deriveSeed, permutation } from '../data/rng.js';
import { splitDataset } from '../data/split.js';
import { initTf, type TfBackendName, type TfPreference } from './backend.js';
import { getPreset, scheduledLr, type LrSchedule, type PresetLoss, type TfPreset } from './presets.js';
import { labelLoss } from './label-loss.js';
import type { OutputKindDecision } from '../measure/output-kind.js';

type Tf = typeof tfjs;

export interface EarlyStopping {
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Smallest decrease of the monitored loss that counts as improvement. Default 0. */
  minDelta?: number;
  /** Put back the weights of the best epoch when stopping or finishing. Default true. */
  restoreBest?: boolean;
}

export interface TrainModelOptions {
  epochs: number;
  batchSize: number;
  /** Seeds the per-epoch sample order. Default ctx.seed, else 0. */
  seed?: number;
  /**
   * Compile the model with Adam(lr) and this loss before training. 'categoricalCrossentropy' is taken
   * from logits or on probabilities as the model's output is (see labelLoss). Without it the model
   * must already be compiled (e.g. by the caller, with its own optimizer state to keep).
   */
  compile?: { lr: number; loss: PresetLoss; lrSchedule?: LrSchedule };
  /** Held-out data for the per-epoch validation loss (which early stopping then watches). */
  validation?: Dataset;
  earlyStopping?: EarlyStopping;
  /** Label for progress and logs. */
  label?: string;
}

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  seconds: number;
}

export interface EvalMetrics {
  n: number;
  loss: number;
  /** Classification. */
  accuracy?: number;
  /** Regression: mean absolute error. */
  mae?: number;
}

export interface TrainModelResult {
  history: EpochRecord[];
  /** Epoch whose weights the model holds at the end (the best one when restoreBest applies). */
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Metrics on the test set, when one was given. */
  test?: EvalMetrics;
  /** How the cross-entropy was chosen, when trainModel compiled a classifier. */
  outputs?: OutputKindDecision;
  seconds: number;
}

/**
 * The epoch's samples in a seeded order: tfjs's own `shuffle` is not seeded, so training (and every
 * fine-tuning loop built on it) shuffles here and passes shuffle: false. The caller disposes both.
 */
export function shuffledEpoch(
  tf: Tf,
  all: { x: tfjs.Tensor; y: tfjs.Tensor },
  seed: number,
  epoch: number,
): { xs: tfjs.Tensor; ys: tfjs.Tensor } {
  const n = all.x.shape[0];
  const order = tf.tensor1d(permutation(n, createRng(deriveSeed(seed, epoch))), 'int32');
  try {
    return { xs: tf.gather(all.x, order), ys: tf.gather(all.y, order) };
  } finally {
    order.dispose();
  }
}

/** x as [n, ...sampleShape] and y as one-hot [n, classes] or [n, targetSize] tensors. */
export function datasetTensors(tf: Tf, ds: Dataset): { x: tfjs.Tensor; y: tfjs.Tensor } {
  return tf.tidy(() => {
    const x = tf.tensor(ds.x, [ds.n, ...ds.sampleShape], 'float32');
    if (ds.task === 'classification') {
      const classes = ds.numClasses ?? 0;
      return { x, y: tf.oneHot(tf.tensor1d(ds.y as Int32Array, 'int32'), classes).toFloat() };
    }
    return { x, y: tf.tensor2d(ds.y as Float32Array, [ds.n, targetWidth(ds)], 'float32') };
  });
}

function isCompiled(model: tfjs.LayersModel): boolean {
  // `optimizer` is set by compile(); tfjs offers no public "compiled" flag.
  return (model as unknown as { optimizer?: unknown }).optimizer != null;
}

function metricKind(model: tfjs.LayersModel): 'accuracy' | 'mae' {
  const loss = (model as unknown as { loss?: unknown }).loss;
  return loss === 'meanSquaredError' ? 'mae' : 'accuracy';
}

/** Loss and accuracy (classification) or MAE (regression) of a compiled model on a dataset. */
export async function evaluateModel(tf: Tf, model: tfjs.LayersModel, ds: Dataset, batchSize = 256): Promise<EvalMetrics> {
  if (!isCompiled(model)) throw new ShrinkError('INVALID_ARGUMENT', `model ${model.name} must be compiled to evaluate on ${ds.name}`);
  const { x, y } = datasetTensors(tf, ds);
  try {
    const out = model.evaluate(x, y, { batchSize });
    const scalars = Array.isArray(out) ? out : [out];
    const values = await Promise.all(scalars.map(async (s) => (await s.data())[0] as number));
    scalars.forEach((s) => s.dispose());
    const [loss = Number.NaN, metric] = values;
    if (ds.task === 'classification') return { n: ds.n, loss, ...(metric === undefined ? {} : { accuracy: metric }) };
    return { n: ds.n, loss, ...(metric === undefined ? {} : { mae: metric }) };
  } finally {
    x.dispose();
    y.dispose();
  }
}

function checkShape(model: tfjs.LayersModel, ds: Dataset, label: string): void {
  const want = model.inputs[0]?.shape.slice(1) ?? [];
  if (want.length !== ds.sampleShape.length || want.some((d, i) => d !== null && d !== ds.sampleShape[i])) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${label}: ${ds.name} has samples of shape [${ds.sampleShape.join(', ')}], the model takes [${want.join(', ')}]`,
    );
  }
}

function cloneWeights(model: tfjs.LayersModel): tfjs.Tensor[] {
  return model.getWeights().map((w) => w.clone());
}

/**
 * Trains a model on `train` with a seeded sample order (tfjs's own shuffle cannot be seeded, so each
 * epoch gathers a permutation drawn from deriveSeed(seed, epoch) and fits with shuffle off). Adam state
 * carries over between epochs. Reports each epoch through ctx.progress; honours ctx.signal between epochs.
 */
export async function trainModel(
  tf: Tf,
  model: tfjs.LayersModel,
  train: Dataset,
  test: Dataset | undefined,
  opts: TrainModelOptions,
  ctx?: Ctx,
): Promise<TrainModelResult> {
  const label = opts.label ?? model.name;
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) {
    throw new ShrinkError('INVALID_ARGUMENT', `epochs ${opts.epochs} must be a positive integer`);
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new ShrinkError('INVALID_ARGUMENT', `batchSize ${opts.batchSize} must be a positive integer`);
  }
  const es = opts.earlyStopping;
  if (es && !(Number.isInteger(es.patience) && es.patience >= 1)) {
    throw new ShrinkError('INVALID_ARGUMENT', `earlyStopping.patience ${es.patience} must be a positive integer`);
  }
  for (const ds of [train, opts.validation, test]) {
    if (!ds) continue;
    checkShape(model, ds, label);
    if (ds.unlabeled)
      throw new ShrinkError(
        'INVALID_DATA',
        `${label}: ${ds.name} has no labels ("y"); training needs them (distillation can learn from a teacher instead)`,
      );
  }
  let outputs: OutputKindDecision | undefined;
  if (opts.compile) {
    const chosen =
      opts.compile.loss === 'categoricalCrossentropy' && train.task === 'classification' ? labelLoss(tf, model, train) : undefined;
    outputs = chosen?.outputs;
    model.compile({
      optimizer: tf.train.adam(opts.compile.lr),
      loss: chosen?.loss ?? opts.compile.loss,
      metrics: [opts.compile.loss === 'meanSquaredError' ? 'mae' : 'accuracy'],
    });
  } else if (!isCompiled(model)) {
    throw new ShrinkError('INVALID_ARGUMENT', `${label}: model is not compiled; pass compile: { lr, loss }`);
  }
  const seed = opts.seed ?? ctx?.seed ?? 0;
  const log = loggerOf(ctx);
  const progress = progressOf(ctx);
  const started = performance.now();
  const all = datasetTensors(tf, train);
  const history: EpochRecord[] = [];
  let best = Number.POSITIVE_INFINITY;
  let bestEpoch = 0;
  let bestWeights: tfjs.Tensor[] | undefined;
  let stoppedEarly = false;
  const restoreBest = es?.restoreBest ?? true;
  const accKey = metricKind(model) === 'accuracy';
  // tfjs optimizers read their learningRate field at every step; it has no public setter.
  const schedule = opts.compile?.lrSchedule ?? 'constant';
  const optimizer = (model as unknown as { optimizer: { learningRate?: number } }).optimizer;
  progress.start(`train ${label}`, opts.epochs);
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      ctx?.signal?.throwIfAborted();
      const t0 = performance.now();
      if (opts.compile && schedule !== 'constant') optimizer.learningRate = scheduledLr(opts.compile.lr, schedule, epoch, opts.epochs);
      const { xs, ys } = shuffledEpoch(tf, all, seed, epoch);
      let h: tfjs.History;
      try {
        h = await model.fit(xs, ys, { epochs: 1, batchSize: opts.batchSize, shuffle: false, verbose: 0 });
      } finally {
        xs.dispose();
        ys.dispose();
      }
      const rec: EpochRecord = { epoch, loss: Number(h.history['loss']?.[0]), seconds: 0 };
      if (accKey) {
        const acc = h.history['acc'] ?? h.history['accuracy'];
        if (acc) rec.accuracy = Number(acc[0]);
      }
      if (opts.validation) {
        const v = await evaluateModel(tf, model, opts.validation);
        rec.valLoss = v.loss;
        if (v.accuracy !== undefined) rec.valAccuracy = v.accuracy;
      }
      rec.seconds = (performance.now() - t0) / 1000;
      history.push(rec);
      const watched = rec.valLoss ?? rec.loss;
      const detail =
        `loss ${rec.loss.toFixed(4)}` +
        (rec.valLoss === undefined ? '' : ` val ${rec.valLoss.toFixed(4)}`) +
        (rec.valAccuracy === undefined ? '' : ` val acc ${(rec.valAccuracy * 100).toFixed(1)}%`);
      log.debug(`${label} epoch ${epoch}/${opts.epochs}: ${detail} (${rec.seconds.toFixed(1)} s)`);
      progress.tick(1, detail);
      if (!Number.isFinite(watched)) {
        throw new ShrinkError('RUNTIME', `${label}: loss became ${watched} at epoch ${epoch}; try a lower learning rate`);
      }
      if (watched < best - (es?.minDelta ?? 0)) {
        best = watched;
        bestEpoch = epoch;
        if (es && restoreBest) {
          bestWeights?.forEach((w) => w.dispose());
          bestWeights = cloneWeights(model);
        }
      } else if (es && epoch - bestEpoch >= es.patience) {
        stoppedEarly = true;
        log.info(`${label}: early stop at epoch ${epoch}, best epoch ${bestEpoch}`);
        break;
      }
    }
    if (bestWeights) {
      if (bestEpoch !== history.length) model.setWeights(bestWeights);
    } else {
      bestEpoch = history.length;
    }
  } finally {
    progress.stop();
    all.x.dispose();
    all.y.dispose();
    bestWeights?.forEach((w) => w.dispose());
  }
  const result: TrainModelResult = { history, bestEpoch, stoppedEarly, ...(outputs ? { outputs } : {}), seconds: 0 };
  if (test) result.test = await evaluateModel(tf, model, test);
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

export interface TrainPresetOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** `--data` spec (default: the preset's). */
  data?: string;
  /** Options for resolving `data` (limit, split seed, CSV label...). */
  dataOptions?: ResolveDataOptions;
  /** Weights and sample order. Default ctx.seed, else 0. */
  seed?: number;
  earlyStopping?: EarlyStopping;
  /** Share of the training part held out for validation loss. Default 0.1; 0 turns it off. */
  validationFraction?: number;
  backend?: TfPreference;
}

export interface TrainPresetResult extends TrainModelResult {
  preset: TfPreset;
  model: tfjs.LayersModel;
  backend: TfBackendName;
  backendNote: string;
  /** Names of the datasets used. */
  data: { train: string; validation?: string; test: string };
}

/** Makes `ds` fit a preset: same sample size viewed in the preset's shape; right task and classes. */
function fitToPreset(ds: Dataset, p: TfPreset): Dataset {
  if (ds.task !== p.task) {
    throw new ShrinkError('INVALID_DATA', `preset ${p.name} is ${p.task}; data ${ds.name} is ${ds.task}`);
  }
  if (sampleSize(ds.sampleShape) !== sampleSize(p.inputShape)) {
    throw new ShrinkError(
      'INVALID_DATA',
      `preset ${p.name} takes samples of shape [${p.inputShape.join(', ')}]; data ${ds.name} has [${ds.sampleShape.join(', ')}]`,
    );
  }
  const outputs = ds.task === 'classification' ? (ds.numClasses ?? 0) : targetWidth(ds);
  if (ds.task === 'classification' ? outputs > p.outputs : outputs !== p.outputs) {
    throw new ShrinkError('INVALID_DATA', `preset ${p.name} has ${p.outputs} outputs; data ${ds.name} needs ${outputs}`);
  }
  const shaped = reshapeDataset(ds, p.inputShape);
  return ds.task === 'classification' ? { ...shaped, numClasses: p.outputs } : shaped;
}

/** Builds, trains and evaluates a preset model (see TF_PRESETS). */
export async function trainPreset(name: string, opts: TrainPresetOptions = {}, ctx?: Ctx): Promise<TrainPresetResult> {
  const preset = getPreset(name);
  const { tf, backend, note } = await initTf(ctx, opts.backend);
  const seed = opts.seed ?? ctx?.seed ?? 0;
  const split: Split = await resolveSplit(opts.data ?? preset.data, opts.dataOptions);
  const test = fitToPreset(split.test, preset);
  let train = fitToPreset(split.train, preset);
  let validation: Dataset | undefined;
  const vf = opts.validationFraction ?? 0.1;
  if (vf > 0) {
    const parts = splitDataset(train, { testFraction: vf, seed });
    train = { ...parts.train, name: split.train.name };
    validation = { ...parts.test, name: `${split.train.name}:validation` };
  }
  const model = preset.build(tf, seed);
  const result = await trainModel(
    tf,
    model,
    train,
    test,
    {
      epochs: opts.epochs ?? preset.epochs,
      batchSize: opts.batchSize ?? preset.batchSize,
      seed,
      compile: { lr: opts.lr ?? preset.lr, loss: preset.loss, lrSchedule: preset.lrSchedule },
      ...(validation ? { validation } : {}),
      ...(opts.earlyStopping ? { earlyStopping: opts.earlyStopping } : {}),
      label: preset.name,
    },
    ctx,
  );
  return {
    ...result,
    preset,
    model,
    backend,
    backendNote: note,
    data: { train: train.name, ...(validation ? { validation: validation.name } : {}), test: test.name },
  };
}
