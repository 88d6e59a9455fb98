import { stat } from 'node:fs/promises';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { isShrinkError, ShrinkError, type onnx } from '@shrink/core';
import type { Task } from '@shrink/core/data';
import { loadModel } from '@shrink/core/io';
import { importFromOnnx, layersFinalOp, loadLayersModel, LOGITS_LAYER, logitsModel, PROBS_LAYER, TF_PRESETS } from '@shrink/core/tfjs';
import { formatStudentSpec, parseStudentSpec, type StudentSpec } from '../student-spec.js';

type Tf = typeof tfjs;

/** What the student must fit: the data's sample shape and the teacher's output width. */
export interface StudentShape {
  inputShape: readonly number[];
  outputs: number;
  task: Task;
}

export interface Student {
  /** The model to ship: for classifiers probabilities, or logits when a given student model outputs them; values for regression. */
  model: tfjs.LayersModel;
  /** Pre-softmax output of `model` (the model's own output for regression). */
  logits: tfjs.SymbolicTensor;
  /** How it was made, e.g. "MLP 784-64-10" or "preset digits-mlp". */
  description: string;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function head(tf: Tf, x: tfjs.SymbolicTensor, shape: StudentShape, seed: number): tfjs.SymbolicTensor {
  const init = tf.initializers.glorotUniform({ seed });
  if (shape.task === 'regression')
    return tf.layers.dense({ name: 'out', units: shape.outputs, kernelInitializer: init }).apply(x) as tfjs.SymbolicTensor;
  const logits = tf.layers.dense({ name: LOGITS_LAYER, units: shape.outputs, kernelInitializer: init }).apply(x) as tfjs.SymbolicTensor;
  return tf.layers.activation({ name: PROBS_LAYER, activation: 'softmax' }).apply(logits) as tfjs.SymbolicTensor;
}

function dense(tf: Tf, x: tfjs.SymbolicTensor, sizes: readonly number[], seed: number): tfjs.SymbolicTensor {
  let h = x;
  sizes.forEach((units, i) => {
    h = tf.layers
      .dense({ name: `fc${i + 1}`, units, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 100 + i }) })
      .apply(h) as tfjs.SymbolicTensor;
  });
  return h;
}

/**
 * A fresh student from `--student` (layer sizes, conv spec or preset name), or an existing model
 * (.onnx or tfjs folder). Specs are checked against the data and the teacher before anything trains.
 */
export async function buildStudent(tf: Tf, specText: string, shape: StudentShape, seed: number): Promise<Student> {
  const spec = parseStudentSpec(specText);
  const flat = numel(shape.inputShape);
  const wantOut =
    shape.task === 'classification'
      ? `the data has ${shape.outputs} classes (one teacher output each)`
      : `the data has ${shape.outputs} target(s) per sample`;
  checkSize(specText, spec, shape);
  if (spec.kind === 'mlp') {
    if (spec.input !== flat) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `${specText} takes ${spec.input} inputs but the data's samples have ${flat} values ([${shape.inputShape.join(', ')}]); write ${flat}-${[...spec.hidden, spec.outputs].join('-')}`,
        { option: 'student' },
      );
    }
    if (spec.outputs !== shape.outputs)
      throw new ShrinkError('INVALID_ARGUMENT', `${specText} has ${spec.outputs} outputs but ${wantOut}`, { option: 'student' });
    const input = tf.input({ shape: [...shape.inputShape], name: 'input' });
    const x = shape.inputShape.length > 1 ? (tf.layers.flatten({ name: 'flatten' }).apply(input) as tfjs.SymbolicTensor) : input;
    return finish(tf, input, head(tf, dense(tf, x, spec.hidden, seed), shape, seed), shape, `MLP ${formatStudentSpec(spec)}`);
  }
  if (spec.kind === 'conv') {
    if (shape.inputShape.length !== 3) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `${specText}: a conv student needs image samples [height, width, channels]; the data's are [${shape.inputShape.join(', ')}]`,
        { option: 'student' },
      );
    }
    if (spec.outputs !== shape.outputs)
      throw new ShrinkError('INVALID_ARGUMENT', `${specText} has ${spec.outputs} outputs but ${wantOut}`, { option: 'student' });
    const input = tf.input({ shape: [...shape.inputShape], name: 'input' });
    let h: tfjs.SymbolicTensor = input;
    spec.filters.forEach((filters, i) => {
      h = tf.layers
        .conv2d({
          name: `conv${i + 1}`,
          filters,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 200 + i }),
        })
        .apply(h) as tfjs.SymbolicTensor;
      if ((h.shape[1] ?? 0) >= 2 && (h.shape[2] ?? 0) >= 2)
        h = tf.layers.maxPooling2d({ name: `pool${i + 1}`, poolSize: 2 }).apply(h) as tfjs.SymbolicTensor;
    });
    h = tf.layers.flatten({ name: 'flatten' }).apply(h) as tfjs.SymbolicTensor;
    return finish(tf, input, head(tf, dense(tf, h, spec.hidden, seed), shape, seed), shape, `CNN ${formatStudentSpec(spec)}`);
  }
  const preset = TF_PRESETS.get(spec.name);
  if (preset) {
    if (numel(preset.inputShape) !== flat || preset.outputs !== shape.outputs || preset.task !== shape.task) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `${specText}: the preset is a ${preset.task} model of [${preset.inputShape.join(', ')}] -> ${preset.outputs}; the data and teacher need [${shape.inputShape.join(', ')}] -> ${shape.outputs} (${shape.task})`,
        { option: 'student' },
      );
    }
    return { ...withLogits(tf, preset.build(tf, seed), shape), description: `preset ${preset.name}` };
  }
  const model = await loadStudentModel(tf, spec.name);
  const got = model.outputs[0]?.shape.at(-1);
  if (got !== shape.outputs)
    throw new ShrinkError('INVALID_ARGUMENT', `${specText}: the model gives ${got} output(s) per sample but ${wantOut}`, {
      option: 'student',
    });
  return { ...withLogits(tf, model, shape), description: `model ${path.basename(spec.name)}` };
}

/** A student this large would exhaust memory in tfjs (a crash, not an error): refuse it up front. */
export const MAX_STUDENT_PARAMS = 50_000_000;

function checkSize(specText: string, spec: StudentSpec, shape: StudentShape): void {
  let params = 0;
  if (spec.kind === 'mlp') {
    const sizes = [spec.input, ...spec.hidden, spec.outputs];
    for (let i = 1; i < sizes.length; i++) params += (sizes[i - 1]! + 1) * sizes[i]!;
  } else if (spec.kind === 'conv') {
    let [h = 1, w = 1, c = 1] = shape.inputShape;
    for (const f of spec.filters) {
      params += (9 * c + 1) * f;
      c = f;
      if (h >= 2 && w >= 2) [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
    }
    const sizes = [h * w * c, ...spec.hidden, spec.outputs];
    for (let i = 1; i < sizes.length; i++) params += (sizes[i - 1]! + 1) * sizes[i]!;
  }
  if (params > MAX_STUDENT_PARAMS) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `${specText}: ${params.toLocaleString('en-US')} parameters; a student has at most ${MAX_STUDENT_PARAMS.toLocaleString('en-US')} (it is meant to be small)`,
      { option: 'student' },
    );
  }
}

function finish(tf: Tf, input: tfjs.SymbolicTensor, output: tfjs.SymbolicTensor, shape: StudentShape, description: string): Student {
  return { ...withLogits(tf, tf.model({ inputs: input, outputs: output, name: 'student' }), shape), description };
}

async function loadStudentModel(tf: Tf, given: string): Promise<tfjs.LayersModel> {
  // A tfjs model may be named by its folder or by its model.json, as everywhere else in Shrink.
  const p = path.basename(given) === 'model.json' ? path.dirname(given) : given;
  const st = await stat(p).catch(() => undefined);
  const presets = [...TF_PRESETS.keys()].join(', ');
  if (!st) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `${p}: not a layer spec (784-64-10, c16-c32-64-10), a preset (${presets}) or an existing .onnx file / tfjs folder`,
      { option: 'student' },
    );
  }
  try {
    if (st.isDirectory()) return await loadLayersModel(p);
    const model: onnx.ModelProto = await loadModel(p);
    return importFromOnnx(model, tf).model;
  } catch (e) {
    if (isShrinkError(e)) throw new ShrinkError(e.code, `${given}: ${e.message}`, { option: 'student', cause: e });
    throw e;
  }
}

/**
 * The classifier with its pre-softmax tensor: the `logits` layer of Shrink's presets and specs, the
 * input of a final softmax Activation, or the output itself when the model outputs logits (a PyTorch
 * classifier: core's layersFinalOp decides, as for every training path). When the softmax is fused into
 * the last Dense (imported models) that layer is rebuilt as a linear Dense with the same weights plus a
 * separate softmax.
 */
function withLogits(tf: Tf, model: tfjs.LayersModel, shape: StudentShape): { model: tfjs.LayersModel; logits: tfjs.SymbolicTensor } {
  const out = model.outputs[0]!;
  if (shape.task === 'regression') return { model, logits: out };
  if (model.layers.some((l) => l.name === LOGITS_LAYER)) return { model, logits: logitsModel(tf, model).outputs[0]! };
  const final = layersFinalOp(model);
  // Log-probabilities differ from logits by a per-row constant, which no tempered softmax sees.
  if (final.activation === 'linear' || final.activation === 'logSoftmax') return { model, logits: out };
  const last = final.layer;
  const cfg = last.getConfig() as { activation?: string };
  if (last.getClassName() === 'Activation' && cfg.activation === 'softmax') return { model, logits: last.input as tfjs.SymbolicTensor };
  if (last.getClassName() === 'Dense' && cfg.activation === 'softmax') {
    const linear = tf.layers.dense({ ...(cfg as object), activation: 'linear', name: LOGITS_LAYER } as Parameters<
      Tf['layers']['dense']
    >[0]);
    const logits = linear.apply(last.input) as tfjs.SymbolicTensor;
    linear.setWeights(last.getWeights());
    const probs = tf.layers.activation({ name: PROBS_LAYER, activation: 'softmax' }).apply(logits) as tfjs.SymbolicTensor;
    return { model: tf.model({ inputs: model.inputs, outputs: probs, name: model.name }), logits };
  }
  throw new ShrinkError(
    'INVALID_ARGUMENT',
    `student model ${model.name}: cannot find its logits (no layer named "${LOGITS_LAYER}", and its output comes from ${final.what}, neither a softmax nor linear); distillation needs the pre-softmax output`,
  );
}
