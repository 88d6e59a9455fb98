import type * as tfjs from '@tensorflow/tfjs';
import { progressOf, ShrinkError, type Ctx } from '@shrink/core';
import type { Dataset, Task } from '@shrink/core/data';
import { argmaxRow } from '@shrink/core/runtime';
import { shuffledEpoch } from '@shrink/core/tfjs';
import { distillLoss, outputWidth, targetWidth, type LossLayout } from './losses.js';
import type { Student } from './student.js';

type Tf = typeof tfjs;

export interface TrainStudentOptions {
  layout: LossLayout;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  /** Student layers whose activations are matched to the teacher's (same order as layout.hiddenDims). */
  hiddenLayers: readonly string[];
  label: string;
}

export interface StudentEpoch {
  epoch: number;
  loss: number;
  seconds: number;
  /** Scores on the held-out data after this epoch (see StudentScore). */
  test?: StudentScore;
}

export interface StudentScore {
  /** Classification: top-1 accuracy against the labels, and agreement with the teacher's top-1. */
  accuracy?: number;
  agreement?: number;
  /** Regression: MSE against the labels, and against the teacher's outputs. */
  mse?: number;
  mseToTeacher?: number;
}

/**
 * Packs the training targets row by row in the layout the loss reads (see LossLayout): teacher values,
 * label (one-hot for classifiers), whether the label counts, then each matched teacher activation.
 */
export function packTargets(
  l: LossLayout,
  teacher: Float32Array,
  hidden: readonly Float32Array[],
  data: Dataset,
  labelled: boolean,
): Float32Array {
  const w = targetWidth(l);
  const { k } = l;
  const out = new Float32Array(data.n * w);
  for (let i = 0; i < data.n; i++) {
    const o = i * w;
    out.set(teacher.subarray(i * k, (i + 1) * k), o);
    if (l.task === 'classification') {
      const c = data.y[i]!;
      if (labelled && c >= 0 && c < k) out[o + k + c] = 1;
    } else if (labelled) {
      for (let j = 0; j < k; j++) out[o + k + j] = Number(data.y[i * k + j]);
    }
    out[o + 2 * k] = labelled ? 1 : 0;
    let at = o + 2 * k + 1;
    l.hiddenDims.forEach((d, j) => {
      out.set(hidden[j]!.subarray(i * d, (i + 1) * d), at);
      at += d;
    });
  }
  return out;
}

/** The student's outputs on `x` plus one projection per matched hidden layer, concatenated. */
function trainingModel(tf: Tf, student: Student, opts: TrainStudentOptions): tfjs.LayersModel {
  const parts: tfjs.SymbolicTensor[] = [student.logits];
  opts.hiddenLayers.forEach((name, j) => {
    const layer = student.model.layers.find((l) => l.name === name);
    if (!layer) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `the student has no layer "${name}"; layers: ${student.model.layers.map((l) => l.name).join(', ')}`,
        { option: 'hiddenMatch' },
      );
    }
    let h = layer.output as tfjs.SymbolicTensor;
    if (h.shape.length > 2) h = tf.layers.flatten({ name: `distill_flatten_${j + 1}` }).apply(h) as tfjs.SymbolicTensor;
    const proj = tf.layers.dense({
      name: `distill_projection_${j + 1}`,
      units: opts.layout.hiddenDims[j]!,
      kernelInitializer: tf.initializers.glorotUniform({ seed: opts.seed + 300 + j }),
    });
    parts.push(proj.apply(h) as tfjs.SymbolicTensor);
  });
  // tfjs insists that targets and outputs have the same shape even for a custom loss: pad the output
  // with constant zeros (a frozen zero Dense) up to the packed targets' width; the loss never reads them.
  const pad = targetWidth(opts.layout) - outputWidth(opts.layout);
  parts.push(
    tf.layers
      .dense({ name: 'distill_pad', units: pad, useBias: false, kernelInitializer: 'zeros', trainable: false })
      .apply(student.logits) as tfjs.SymbolicTensor,
  );
  const out = tf.layers.concatenate({ axis: -1, name: 'distill_concat' }).apply(parts) as tfjs.SymbolicTensor;
  return tf.model({ inputs: student.model.inputs, outputs: out, name: `${student.model.name}_distill` });
}

/**
 * Trains the student against packed targets with tfjs's `fit` (one seeded permutation per epoch, see
 * shuffledEpoch), scoring it on held-out data after every epoch when `score` is given.
 */
export async function trainStudent(
  tf: Tf,
  student: Student,
  data: Dataset,
  targets: Float32Array,
  opts: TrainStudentOptions,
  score?: () => Promise<StudentScore>,
  ctx?: Ctx,
): Promise<{ history: StudentEpoch[]; seconds: number }> {
  const model = trainingModel(tf, student, opts);
  model.compile({ optimizer: tf.train.adam(opts.lr), loss: distillLoss(tf, opts.layout) });
  const all = {
    x: tf.tensor(data.x, [data.n, ...data.sampleShape], 'float32'),
    y: tf.tensor2d(targets, [data.n, targetWidth(opts.layout)], 'float32'),
  };
  const progress = progressOf(ctx);
  const history: StudentEpoch[] = [];
  const started = performance.now();
  progress.start(`distill ${opts.label}`, opts.epochs);
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      ctx?.signal?.throwIfAborted();
      const t0 = performance.now();
      const { xs, ys } = shuffledEpoch(tf, all, opts.seed, epoch);
      let h: tfjs.History;
      try {
        h = await model.fit(xs, ys, { epochs: 1, batchSize: opts.batch, shuffle: false, verbose: 0 });
      } finally {
        xs.dispose();
        ys.dispose();
      }
      const loss = Number(h.history['loss']?.[0]);
      if (!Number.isFinite(loss))
        throw new ShrinkError('RUNTIME', `${opts.label}: loss became ${loss} at epoch ${epoch}; try a lower learning rate (lr)`);
      const rec: StudentEpoch = { epoch, loss, seconds: (performance.now() - t0) / 1000 };
      if (score) rec.test = await score();
      history.push(rec);
      const t = rec.test;
      const detail =
        `loss ${loss.toFixed(4)}` +
        (t?.accuracy !== undefined ? ` test acc ${(t.accuracy * 100).toFixed(1)}%` : '') +
        (t?.agreement !== undefined ? ` agree ${(t.agreement * 100).toFixed(1)}%` : '') +
        (t?.mse !== undefined ? ` test mse ${t.mse.toPrecision(4)}` : '');
      progress.tick(1, detail);
    }
  } finally {
    progress.stop();
    all.x.dispose();
    all.y.dispose();
    // The optimizer's moments and the training-only layers (projections, padding) would otherwise stay
    // allocated for the life of the process: a search or benchmark distils many students.
    model.optimizer?.dispose();
    for (const l of model.layers) if (l.name.startsWith('distill_')) l.dispose();
  }
  return { history, seconds: (performance.now() - started) / 1000 };
}

/**
 * Scores a student on held-out data against the teacher's outputs there, and against the labels when
 * the data has them.
 */
export function scoreStudent(tf: Tf, model: tfjs.LayersModel, data: Dataset, teacher: Float32Array, k: number, task: Task): StudentScore {
  const labels = !data.unlabeled;
  return tf.tidy(() => {
    const x = tf.tensor(data.x, [data.n, ...data.sampleShape], 'float32');
    const pred = (model.predict(x, { batchSize: 256 }) as tfjs.Tensor).dataSync() as Float32Array;
    if (task === 'classification') {
      let correct = 0;
      let agree = 0;
      for (let i = 0; i < data.n; i++) {
        const s = argmaxRow(pred, i * k, k);
        if (s === data.y[i]) correct++;
        if (s === argmaxRow(teacher, i * k, k)) agree++;
      }
      return { ...(labels ? { accuracy: correct / data.n } : {}), agreement: agree / data.n };
    }
    let se = 0;
    let st = 0;
    for (let j = 0; j < pred.length; j++) {
      se += (pred[j]! - Number(data.y[j])) ** 2;
      st += (pred[j]! - teacher[j]!) ** 2;
    }
    return { ...(labels ? { mse: se / pred.length } : {}), mseToTeacher: st / pred.length };
  });
}
