/**
 * Feeds built from a Dataset for a model input: datasets hold samples row-major in their own layout
 * (images NHWC, the tfjs way), models want theirs (NCHW from PyTorch exports, flat vectors from MLPs).
 */
import { ShrinkError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { float32ToFloat16, tensorNumel } from '../onnx/tensor.js';
import { formatShape, type Feeds, type Session, type TensorType, type TypedArray, type ValueMeta } from './session.js';

/** How a sample is laid out for the model: as stored, reshaped (same order), or NHWC -> NCHW. */
export type LayoutMode = 'as-is' | 'reshape' | 'nhwc-to-nchw';

export interface InputPlan {
  readonly input: string;
  readonly type: TensorType;
  /** Dims of one sample as the model takes it. */
  readonly sampleDims: readonly number[];
  readonly mode: LayoutMode;
  /** Set when the model's batch dimension is a fixed number (partial batches are zero-padded to it). */
  readonly fixedBatch?: number;
}

const squeeze = (dims: readonly number[]) => dims.filter((d) => d !== 1);
const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
/** Model dims against concrete dims: symbolic or unknown model dims match anything. */
const fits = (model: readonly (number | string)[], dims: readonly number[]) =>
  model.length === dims.length && model.every((d, i) => typeof d !== 'number' || d < 0 || d === dims[i]);

const SUPPORTED: ReadonlySet<TensorType> = new Set(['float32', 'float16', 'float64', 'int32', 'int64']);

function pickInput(session: Session, name: string | undefined): ValueMeta {
  if (name !== undefined) {
    const m = session.inputs.find((i) => i.name === name);
    if (!m) throw new ShrinkError('NOT_FOUND', `${session.source}: no model input '${name}'; inputs: ${session.inputNames.join(', ')}`);
    return m;
  }
  if (session.inputs.length !== 1) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${session.source}: the model has ${session.inputs.length} inputs (${session.inputNames.join(', ')}); a dataset feeds exactly one`,
    );
  }
  return session.inputs[0]!;
}

/** Decides once how `dataset` samples map onto the model input (`input`, or the only one). */
export function planInput(session: Session, dataset: Dataset, input?: string): InputPlan {
  const meta = pickInput(session, input);
  const type = meta.type;
  if (!meta.isTensor || type === undefined || !SUPPORTED.has(type)) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `${session.source}: input '${meta.name}' is ${meta.isTensor ? type : 'not a tensor'}; dataset samples can feed float32, float16, float64, int32 or int64 inputs`,
    );
  }
  const s = [...dataset.sampleShape];
  const shape = meta.shape ?? [];
  const base = { input: meta.name, type };
  if (shape.length === 0) return { ...base, sampleDims: s, mode: 'as-is' }; // shape unknown: trust the dataset
  const b = shape[0]!;
  const fixedBatch = typeof b === 'number' && b > 0 ? { fixedBatch: b } : {};
  const m = shape.slice(1);
  if (fits(m, s)) return { ...base, ...fixedBatch, sampleDims: s, mode: 'as-is' };
  if (s.length === 3) {
    const [h, w, c] = s as [number, number, number];
    if (fits(m, [c, h, w])) return { ...base, ...fixedBatch, sampleDims: [c, h, w], mode: c === 1 ? 'reshape' : 'nhwc-to-nchw' };
  }
  if (m.length === 1 && (typeof m[0] !== 'number' || m[0] < 0 || m[0] === tensorNumel(s))) {
    return { ...base, ...fixedBatch, sampleDims: [tensorNumel(s)], mode: 'reshape' };
  }
  if (m.every((d) => typeof d === 'number' && d > 0)) {
    const md = m as number[];
    if (tensorNumel(md) === tensorNumel(s) && (s.length === 1 || sameDims(squeeze(md), squeeze(s)))) {
      return { ...base, ...fixedBatch, sampleDims: md, mode: 'reshape' };
    }
  }
  throw new ShrinkError(
    'INVALID_DATA',
    `${session.source}: input '${meta.name}' wants ${formatShape(shape)} but dataset '${dataset.name}' samples are ${formatShape(s)}; ` +
      'expected the same dims, NHWC images for an NCHW input, or a flat vector of the same size',
  );
}

function convert(x: Float32Array, type: TensorType): TypedArray {
  switch (type) {
    case 'float32':
      return x;
    case 'float16':
      return float32ToFloat16(x);
    case 'float64':
      return Float64Array.from(x);
    case 'int32':
      return Int32Array.from(x, Math.round);
    case 'int64':
      return BigInt64Array.from(x, (v) => BigInt(Math.round(v)));
    default:
      throw new ShrinkError('UNSUPPORTED_MODEL', `cannot feed dataset values to a ${type} input`);
  }
}

export interface BatchFeeds {
  readonly feeds: Feeds;
  /** Real samples in the batch; rows beyond it (padding for a fixed batch size) are zeros. */
  readonly count: number;
  /** Rows in the fed tensor. */
  readonly rows: number;
}

/** Feeds for samples [start, start + count) of `dataset`; pass a plan from `planInput` to skip re-planning. */
export function feedsFor(target: Session | InputPlan, dataset: Dataset, start: number, count: number, input?: string): BatchFeeds {
  const plan = 'mode' in target ? target : planInput(target, dataset, input);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > dataset.n) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `feedsFor: samples [${start}, ${start + count}) are outside dataset '${dataset.name}' (n = ${dataset.n})`,
    );
  }
  const rows = plan.fixedBatch ?? count;
  if (count > rows) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `feedsFor: batch of ${count} but input '${plan.input}' takes exactly ${rows} samples per run`,
    );
  }
  const per = tensorNumel(dataset.sampleShape);
  const src = dataset.x.subarray(start * per, (start + count) * per);
  let x: Float32Array;
  if (plan.mode === 'nhwc-to-nchw') {
    const [c, h, w] = plan.sampleDims as [number, number, number];
    x = new Float32Array(rows * per);
    for (let n = 0; n < count; n++) {
      const base = n * per;
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++)
          for (let ch = 0; ch < c; ch++) x[base + ch * h * w + y * w + xx] = src[base + (y * w + xx) * c + ch]!;
    }
  } else if (rows > count) {
    x = new Float32Array(rows * per);
    x.set(src);
  } else {
    x = src;
  }
  return { feeds: { [plan.input]: { data: convert(x, plan.type), dims: [rows, ...plan.sampleDims] } }, count, rows };
}
