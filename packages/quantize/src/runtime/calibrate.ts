/**
 * Calibration for static quantization: runs the float model in onnxruntime over a calibration set with
 * the activations the QDQ pass needs exposed as outputs, and summarizes each into a [min, max] range.
 * The set is a dataset (batched through the model's one input) or a feed set (every input by name, one
 * run per sample): what token ids, masks, state tensors and several inputs need.
 */
import { loggerOf, progressOf, ShrinkError, tensorNumel, typeShape, type Ctx, type onnx } from '@shrink/core';
import { createDataset, createRng, type Dataset } from '@shrink/core/data';
import {
  createSession,
  exposeIntermediates,
  feedsFor,
  planInput,
  type FeedSet,
  type Outputs,
  type Session,
  type SessionOptions,
} from '@shrink/core/runtime';
import { createCollector, type CalibrationMethod, type Ranges } from '../calibration/collector.js';
import { calibrationTensors } from '../static.js';

export interface CalibrateOptions {
  /** Default 'minmax'. */
  method?: CalibrationMethod;
  /** Percentile method: the percentile of |x| kept. Default 99.99. */
  percentile?: number;
  /** Samples used at most (the first ones of the dataset). Default 256. */
  samples?: number;
  /** Samples per onnxruntime run. Default 16. */
  batch?: number;
  /** Tensors to collect; default: what the static QDQ pass needs (calibrationTensors). */
  tensors?: readonly string[];
  /** Input the dataset feeds, when the model has several. */
  input?: string;
  session?: SessionOptions;
}

export interface CalibrationResult {
  method: CalibrationMethod;
  /** Samples actually run. */
  samples: number;
  /** Name of the calibration dataset. */
  data: string;
  ranges: Ranges;
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new ShrinkError('INVALID_ARGUMENT', `calibrate: ${what} ${v} must be a positive integer`);
  return v;
}

/** A calibration set: a dataset, or a feed set (model inputs by name, from a feeds file or made up). */
export type CalibrationSet = Dataset | FeedSet;

export const isFeedSet = (data: CalibrationSet): data is FeedSet => 'samples' in data;

/** Samples in a calibration set. */
const sizeOf = (data: CalibrationSet): number => (isFeedSet(data) ? data.samples.length : data.n);

/**
 * Runs `model` on up to `samples` samples of `data` and returns the activation ranges of `tensors`.
 * An empty set is CALIBRATION_EMPTY; dataset samples that do not fit the model input are INVALID_DATA
 * naming both shapes.
 */
export async function calibrate(
  model: onnx.IModelProto,
  data: CalibrationSet,
  opts: CalibrateOptions = {},
  ctx?: Ctx,
): Promise<CalibrationResult> {
  const method = opts.method ?? 'minmax';
  const limit = positiveInt(opts.samples ?? 256, 'samples');
  const batch = positiveInt(opts.batch ?? 16, 'batch');
  if (sizeOf(data) === 0) {
    throw new ShrinkError(
      'CALIBRATION_EMPTY',
      `calibration data '${data.name}' has no samples; static quantization needs at least one (e.g. digits, or random:64 for a smoke test)`,
      { option: 'calibData' },
    );
  }
  const collector = createCollector(method, opts.percentile !== undefined ? { percentile: opts.percentile } : {});
  const tensors = [...(opts.tensors ?? calibrationTensors(model))];
  const ranges: Ranges = new Map();
  if (tensors.length === 0) {
    loggerOf(ctx).info('calibrate: the model has no op the static pass quantizes; nothing to calibrate');
    return { method, samples: 0, data: data.name, ranges };
  }
  const session = await createSession(exposeIntermediates(model, tensors), { label: 'calibration model', ...opts.session }, ctx);
  const n = Math.min(limit, sizeOf(data));
  const progress = progressOf(ctx);
  // Only float32 values are quantized by the QDQ pass; other types have no range to find. Rows beyond
  // `count` are zero padding for a fixed batch size: kept out of the ranges.
  const collect = (out: Outputs, rows: number, count: number): void => {
    for (const name of tensors) {
      const t = out[name]!;
      if (t.type !== 'float32') continue;
      let values = t.data as Float32Array;
      if (rows > count && t.dims[0] === rows) values = values.subarray(0, (values.length / rows) * count);
      collector.collect(name, values);
    }
  };
  try {
    if (isFeedSet(data)) {
      await runFeeds(session, data, n, tensors, collect, `calibrating (${method})`, ctx);
      return { method, samples: n, data: data.name, ranges: collector.ranges() };
    }
    const plan = planInput(session, data, opts.input);
    // A model with a fixed batch dim takes at most that many samples per run.
    const step = Math.min(batch, plan.fixedBatch ?? batch);
    progress.start(`calibrating (${method})`, Math.ceil(n / step));
    for (let start = 0; start < n; start += step) {
      ctx?.signal?.throwIfAborted();
      const count = Math.min(step, n - start);
      const { feeds, rows } = feedsFor(plan, data, start, count);
      collect(await session.run(feeds, tensors), rows, count);
      progress.tick(1);
    }
  } finally {
    progress.stop();
    await session.release();
  }
  return { method, samples: n, data: data.name, ranges: collector.ranges() };
}

/** The first `n` samples of a feed set through `session`, one run each, with progress. */
async function runFeeds(
  session: Session,
  set: FeedSet,
  n: number,
  tensors: readonly string[],
  collect: (out: Outputs, rows: number, count: number) => void,
  label: string,
  ctx?: Ctx,
): Promise<void> {
  const progress = progressOf(ctx);
  progress.start(label, n);
  for (const feeds of set.samples.slice(0, n)) {
    ctx?.signal?.throwIfAborted();
    collect(await session.run(feeds, tensors), 1, 1);
    progress.tick(1);
  }
}

/**
 * `random:N`: N samples uniform in [0, 1), shaped for the model's single input — a smoke test that
 * exercises the pipeline, not a calibration that reflects real data (the name says so in reports).
 */
export function randomCalibration(model: onnx.IModelProto, n: number, seed = 0): Dataset {
  positiveInt(n, 'random sample count');
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  // IR < 4 models list initializers among the inputs too; only the others are fed.
  const inputs = (model.graph?.input ?? []).filter((v) => !inits.has(v.name));
  if (inputs.length !== 1) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `random:${n} feeds exactly one model input; the model has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}) — calibrate with a dataset instead`,
    );
  }
  const input = inputs[0]!;
  const dims = typeShape(input.type) ?? [];
  const sample = dims.slice(1);
  if (dims.length < 2 || sample.some((d) => typeof d !== 'number' || d <= 0)) {
    const shown = dims.map((d) => (d === null ? '?' : String(d))).join(', ');
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `random:${n} needs fixed sample dims after the batch dim; input '${input.name}' is [${shown}]`,
    );
  }
  const shape = sample as number[];
  const per = tensorNumel(shape);
  const rng = createRng(seed);
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  return createDataset({
    name: `random:${n} (uniform [0,1) smoke test)`,
    task: 'classification',
    sampleShape: shape,
    x,
    y: new Int32Array(n),
    numClasses: 1,
  });
}
