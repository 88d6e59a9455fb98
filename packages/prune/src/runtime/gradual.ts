import type * as tfjs from '@tensorflow/tfjs';
import { z } from 'zod';
import { loggerOf, parseOptions, progressOf, ShrinkError, type Ctx, type onnx, type OutputKindDecision } from '@shrink/core';
import type { Dataset, Split } from '@shrink/core/data';
import {
  datasetTensors,
  evaluateModel,
  exportToOnnx,
  importFromOnnx,
  initTf,
  labelLoss,
  shuffledEpoch,
  type EvalMetrics,
} from '@shrink/core/tfjs';
import { isPruningStep, sparsityAt, type SparsitySchedule } from '../schedule.js';

type Tf = typeof tfjs;

/** Layer classes whose kernel is pruned by default (biases are never touched). */
const PRUNABLE_CLASSES = new Set(['Dense', 'Conv2D']);

const trainingShape = {
  epochs: z.number().int().positive().describe('Training epochs'),
  batchSize: z.number().int().positive().default(32).describe('Samples per optimizer step'),
  lr: z.number().positive().default(0.001).describe('Adam learning rate'),
  seed: z.number().int().optional().describe('Sample order; default ctx.seed, else 0'),
  layers: z.array(z.string()).optional().describe('Names of the layers whose kernels are pruned; default every Dense and Conv2D layer'),
};

export const fineTuneOptionsSchema = z.strictObject(trainingShape);

export const gradualOptionsSchema = z.strictObject({
  ...trainingShape,
  schedule: z
    .enum(['cubic', 'constant'])
    .describe('cubic: Zhu & Gupta 2017 ramp from initialSparsity to finalSparsity; constant: finalSparsity throughout'),
  finalSparsity: z
    .number()
    .min(0)
    .lt(1)
    .describe('Kernel sparsity at the end, in [0, 1): per layer, or over all the pruned kernels together (scope global)'),
  scope: z
    .enum(['layer', 'global'])
    .default('layer')
    .describe(
      'layer: every kernel at the scheduled sparsity; global: one |w| threshold over all the pruned kernels, so small layers keep more',
    ),
  initialSparsity: z.number().min(0).lt(1).default(0).describe('cubic: sparsity at the first pruning step'),
  frequency: z.number().int().positive().describe('Optimizer steps between mask updates'),
  pruningEnd: z
    .number()
    .gt(0)
    .max(1)
    .default(0.75)
    .describe('cubic: share of the training steps by which finalSparsity is reached; the rest fine-tunes with fixed masks'),
});

export type FineTuneOptions = z.input<typeof fineTuneOptionsSchema>;
export type GradualPruneOptions = z.input<typeof gradualOptionsSchema>;

export interface PruneEpoch {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  valLoss: number;
  valAccuracy?: number;
  valMae?: number;
  /** Zeros / elements over the masked kernels at the end of the epoch. */
  sparsity: number;
  seconds: number;
}

export interface LayerMaskSummary {
  layer: string;
  /** The tfjs weight name ('fc1/kernel'). */
  weight: string;
  elements: number;
  zeros: number;
  sparsity: number;
}

export interface GradualPruneResult {
  /** The model passed in, its kernels pruned and the rest fine-tuned. */
  model: tfjs.LayersModel;
  history: PruneEpoch[];
  masks: LayerMaskSummary[];
  /** The schedule followed, in optimizer steps. */
  schedule?: SparsitySchedule;
  steps: number;
  test: EvalMetrics;
  /** Classification: whether the model outputs logits or probabilities, which chose the cross-entropy. */
  outputs?: OutputKindDecision;
}

export interface OnnxGradualResult extends Omit<GradualPruneResult, 'model'> {
  model: onnx.ModelProto;
}

interface Mask {
  layer: string;
  variable: tfjs.LayerVariable;
  mask?: tfjs.Tensor;
}

function kernelOf(layer: tfjs.layers.Layer): tfjs.LayerVariable | undefined {
  return layer.weights.find((w) => w.originalName.split('/').pop() === 'kernel');
}

function selectKernels(model: tfjs.LayersModel, names: readonly string[] | undefined): Mask[] {
  if (names === undefined) {
    const picked = model.layers.filter((l) => PRUNABLE_CLASSES.has(l.getClassName()) && kernelOf(l));
    if (picked.length === 0) {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `model ${model.name} has no Dense or Conv2D layer to prune; pass layers: [...] naming layers with a kernel`,
      );
    }
    return picked.map((l) => ({ layer: l.name, variable: kernelOf(l)! }));
  }
  const withKernel = model.layers.filter((l) => kernelOf(l)).map((l) => l.name);
  return names.map((name) => {
    const layer = model.layers.find((l) => l.name === name);
    const variable = layer && kernelOf(layer);
    if (!variable) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `layers: model ${model.name} has no layer '${name}' with a kernel; layers with one: ${withKernel.join(', ')}`,
      );
    }
    return { layer: name, variable };
  });
}

/** 1 where a weight survives: exactly round(s * size) zeros, the smallest |w| (ties by position). */
function magnitudeMask(w: Float32Array, sparsity: number): Float32Array {
  const k = Math.round(sparsity * w.length);
  const mask = new Float32Array(w.length).fill(1);
  if (k === 0) return mask;
  const abs = w.map(Math.abs);
  const threshold = abs.slice().sort()[k - 1]!;
  let below = 0;
  for (const a of abs) if (a < threshold) below++;
  let ties = k - below;
  abs.forEach((a, i) => {
    if (a < threshold || (a === threshold && ties-- > 0)) mask[i] = 0;
  });
  return mask;
}

function setMask(tf: Tf, m: Mask, values: Float32Array): void {
  m.mask?.dispose();
  m.mask = tf.tensor(values, m.variable.shape as number[], 'float32');
}

/** One magnitude mask over every kernel's weights together, cut back into per-kernel masks. */
function setGlobalMasks(tf: Tf, masks: readonly Mask[], sparsity: number): void {
  const parts = masks.map((m) => m.variable.read().dataSync() as Float32Array);
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const mask = magnitudeMask(all, sparsity);
  at = 0;
  masks.forEach((m, i) => {
    setMask(tf, m, mask.slice(at, at + parts[i]!.length));
    at += parts[i]!.length;
  });
}

function applyMasks(tf: Tf, masks: readonly Mask[]): void {
  tf.tidy(() => {
    for (const m of masks) if (m.mask) m.variable.write(tf.mul(m.variable.read(), m.mask));
  });
}

function summarize(masks: readonly Mask[]): LayerMaskSummary[] {
  return masks.map((m) => {
    const w = m.variable.read().dataSync();
    let zeros = 0;
    for (const v of w) if (v === 0) zeros++;
    return { layer: m.layer, weight: m.variable.originalName, elements: w.length, zeros, sparsity: zeros / w.length };
  });
}

/** Zeros / elements over all the masked kernels together (0 when there are none). */
export function overallSparsity(s: readonly LayerMaskSummary[]): number {
  const elements = s.reduce((a, l) => a + l.elements, 0);
  return elements === 0 ? 0 : s.reduce((a, l) => a + l.zeros, 0) / elements;
}

function checkData(model: tfjs.LayersModel, ds: Dataset): void {
  const want = model.inputs[0]?.shape.slice(1) ?? [];
  if (model.inputs.length !== 1 || want.length !== ds.sampleShape.length || want.some((d, i) => d !== null && d !== ds.sampleShape[i])) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${ds.name} has samples of shape [${ds.sampleShape.join(', ')}]; model ${model.name} takes one input of shape [${want.join(', ')}]`,
    );
  }
}

type Resolved = z.output<typeof fineTuneOptionsSchema>;

/**
 * The training loop both modes share. core's trainModel fits whole epochs with no per-batch hook, and
 * masks must be re-applied after every optimizer step (Adam moves pruned weights off zero), so this
 * steps through seeded batches with trainOnBatch. `beforeStep` may choose new masks.
 */
async function trainMasked(
  tf: Tf,
  model: tfjs.LayersModel,
  data: Split,
  opts: Resolved,
  masks: Mask[],
  beforeStep: (step: number) => void,
  label: string,
  ctx?: Ctx,
): Promise<{ history: PruneEpoch[]; steps: number; test: EvalMetrics; outputs?: OutputKindDecision }> {
  const { train, test } = data;
  checkData(model, train);
  checkData(model, test);
  const log = loggerOf(ctx);
  const { loss, metric, outputs } = labelLoss(tf, model, train);
  model.compile({ optimizer: tf.train.adam(opts.lr), loss, metrics: [metric] });
  if (outputs) log.debug(`${label}: cross-entropy ${outputs.kind === 'logits' ? 'from logits' : 'on probabilities'}; ${outputs.reason}`);
  const seed = opts.seed ?? ctx?.seed ?? 0;
  const progress = progressOf(ctx);
  const all = datasetTensors(tf, train);
  const history: PruneEpoch[] = [];
  let step = 0;
  progress.start(label, opts.epochs);
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      ctx?.signal?.throwIfAborted();
      const t0 = performance.now();
      const { xs, ys } = shuffledEpoch(tf, all, seed, epoch);
      // model.fit with per-batch callbacks rather than trainOnBatch: trainOnBatch re-validates its inputs
      // and syncs the loss on every call, several times slower on many small batches.
      let lossSum = 0;
      let batches = 0;
      try {
        await model.fit(xs, ys, {
          epochs: 1,
          batchSize: opts.batchSize,
          shuffle: false,
          verbose: 0,
          callbacks: {
            onBatchBegin: async () => {
              beforeStep(step);
            },
            onBatchEnd: async (_batch, logs) => {
              lossSum += logs?.['loss'] ?? Number.NaN;
              applyMasks(tf, masks);
              batches++;
              step++;
            },
          },
        });
      } finally {
        xs.dispose();
        ys.dispose();
      }
      const v = await evaluateModel(tf, model, test);
      const rec: PruneEpoch = {
        epoch,
        loss: lossSum / batches,
        valLoss: v.loss,
        ...(v.accuracy === undefined ? {} : { valAccuracy: v.accuracy }),
        ...(v.mae === undefined ? {} : { valMae: v.mae }),
        sparsity: overallSparsity(summarize(masks)),
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(rec);
      if (!Number.isFinite(rec.loss)) {
        throw new ShrinkError('RUNTIME', `${label}: loss became ${rec.loss} at epoch ${epoch}; try a lower lr`);
      }
      const detail =
        `loss ${rec.loss.toFixed(4)} sparsity ${(rec.sparsity * 100).toFixed(1)}%` +
        (rec.valAccuracy === undefined ? '' : ` val acc ${(rec.valAccuracy * 100).toFixed(1)}%`);
      log.debug(`${label} epoch ${epoch}/${opts.epochs}: ${detail}`);
      progress.tick(1, detail);
    }
  } finally {
    progress.stop();
    all.x.dispose();
    all.y.dispose();
  }
  const last = history[history.length - 1];
  const testMetrics: EvalMetrics = {
    n: test.n,
    loss: last?.valLoss ?? Number.NaN,
    ...(last?.valAccuracy === undefined ? {} : { accuracy: last.valAccuracy }),
    ...(last?.valMae === undefined ? {} : { mae: last.valMae }),
  };
  return { history, steps: step, test: testMetrics, ...(outputs ? { outputs } : {}) };
}

function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.ceil(n / batchSize);
}

/** The schedule in optimizer steps: cubic starts at step 0 and reaches s_f at `pruningEnd` of training. */
function planSchedule(opts: z.output<typeof gradualOptionsSchema>, totalSteps: number): SparsitySchedule {
  if (opts.schedule === 'constant') return { kind: 'constant', sparsity: opts.finalSparsity, frequency: opts.frequency };
  if (opts.initialSparsity > opts.finalSparsity) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `initialSparsity ${opts.initialSparsity} must be at most finalSparsity ${opts.finalSparsity}`,
    );
  }
  const endStep = Math.floor(opts.pruningEnd * (totalSteps - 1));
  if (opts.frequency > endStep) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `frequency ${opts.frequency} must be at most ${endStep}: cubic pruning ends at step ${endStep} of ${totalSteps} (epochs x batches per epoch x pruningEnd); lower frequency or add epochs`,
    );
  }
  return {
    kind: 'cubic',
    initialSparsity: opts.initialSparsity,
    finalSparsity: opts.finalSparsity,
    beginStep: 0,
    frequency: opts.frequency,
    pruningSteps: Math.floor(endStep / opts.frequency),
  };
}

function finish(masks: Mask[]): LayerMaskSummary[] {
  const summary = summarize(masks);
  masks.forEach((m) => m.mask?.dispose());
  return summary;
}

/**
 * Gradual magnitude pruning with fine-tuning (Zhu & Gupta 2017): trains `model` on `train` while the
 * kernel masks follow the schedule — every `frequency` steps each layer keeps its largest-|w| weights
 * to the scheduled sparsity — and re-applies the masks after every optimizer step so pruned weights
 * stay exactly zero. Mutates and returns `model` (recompiled with Adam(lr)).
 */
export async function pruneGradually(
  model: tfjs.LayersModel,
  train: Dataset,
  test: Dataset,
  options: GradualPruneOptions,
  ctx?: Ctx,
): Promise<GradualPruneResult> {
  const opts = parseOptions(gradualOptionsSchema, options, 'pruneGradually options');
  const { tf } = await initTf(ctx);
  const masks = selectKernels(model, opts.layers);
  const totalSteps = opts.epochs * stepsPerEpoch(train.n, opts.batchSize);
  const schedule = planSchedule(opts, totalSteps);
  const beforeStep = (step: number): void => {
    if (!isPruningStep(schedule, step)) return;
    const s = sparsityAt(schedule, step);
    if (opts.scope === 'global') setGlobalMasks(tf, masks, s);
    else for (const m of masks) setMask(tf, m, magnitudeMask(m.variable.read().dataSync() as Float32Array, s));
    applyMasks(tf, masks);
  };
  return { model, ...(await trainAndFinish(tf, model, { train, test }, opts, masks, beforeStep, `prune ${model.name}`, ctx)), schedule };
}

/**
 * Fine-tuning after one-shot pruning: the zeros of the selected kernels (mask = w != 0) stay exactly
 * zero while everything else trains. Mutates and returns `model` (recompiled with Adam(lr)).
 */
export async function fineTunePruned(
  model: tfjs.LayersModel,
  train: Dataset,
  test: Dataset,
  options: FineTuneOptions,
  ctx?: Ctx,
): Promise<GradualPruneResult> {
  const opts = parseOptions(fineTuneOptionsSchema, options, 'fineTunePruned options');
  const { tf } = await initTf(ctx);
  const masks = selectKernels(model, opts.layers);
  for (const m of masks)
    setMask(
      tf,
      m,
      (m.variable.read().dataSync() as Float32Array).map((v) => (v === 0 ? 0 : 1)),
    );
  return { model, ...(await trainAndFinish(tf, model, { train, test }, opts, masks, () => {}, `fine-tune ${model.name}`, ctx)) };
}

/** trainMasked, then the masks' final report; the masks are released whether training ends or throws. */
async function trainAndFinish(...args: Parameters<typeof trainMasked>) {
  const masks = args[4];
  try {
    const r = await trainMasked(...args);
    return { ...r, masks: finish(masks) };
  } catch (e) {
    finish(masks);
    throw e;
  }
}

/** pruneGradually for an ONNX model core can import into tfjs; the input model is not mutated. */
export async function pruneOnnxGradually(
  onnxModel: onnx.IModelProto,
  data: Split,
  options: GradualPruneOptions,
  ctx?: Ctx,
): Promise<OnnxGradualResult> {
  const { tf } = await initTf(ctx);
  const imported = importFromOnnx(onnxModel, tf).model;
  try {
    const r = await pruneGradually(imported, data.train, data.test, options, ctx);
    return { ...r, model: exportToOnnx(imported).model };
  } finally {
    imported.dispose();
  }
}
