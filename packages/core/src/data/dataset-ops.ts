import { ShrinkError } from '../errors.js';
import { tensorNumel } from '../onnx/tensor.js';
import type { Dataset, Task } from './dataset.js';

/** Values in one sample: the product of `sampleShape`. */
export function sampleSize(shape: readonly number[]): number {
  return tensorNumel(shape);
}

/** Values per sample in `y`: 1 for classification, `targetSize` (default 1) for regression. */
export function targetWidth(ds: Pick<Dataset, 'task' | 'targetSize'>): number {
  return ds.task === 'classification' ? 1 : (ds.targetSize ?? 1);
}

export interface DatasetFields {
  name: string;
  task: Task;
  sampleShape: readonly number[];
  x: Float32Array;
  y: Int32Array | Float32Array;
  numClasses?: number;
  targetSize?: number;
}

/**
 * Builds a Dataset after checking that x, y and the shape agree, so a mismatch is reported where
 * the data was made instead of as a shape error deep inside training.
 */
export function createDataset(f: DatasetFields): Dataset {
  const per = sampleSize(f.sampleShape);
  if (!(per > 0) || f.sampleShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShrinkError('INVALID_DATA', `${f.name}: sampleShape [${f.sampleShape.join(', ')}] must be positive integers`);
  }
  if (f.x.length % per !== 0) {
    throw new ShrinkError('INVALID_DATA', `${f.name}: x has ${f.x.length} values, not a multiple of the sample size ${per}`);
  }
  const n = f.x.length / per;
  if (f.task === 'classification') {
    if (!(f.y instanceof Int32Array)) {
      throw new ShrinkError('INVALID_DATA', `${f.name}: classification labels must be an Int32Array of class indices`);
    }
    if (f.y.length !== n) {
      throw new ShrinkError('INVALID_DATA', `${f.name}: ${n} samples but ${f.y.length} labels`);
    }
    const numClasses = f.numClasses ?? maxLabel(f.y) + 1;
    for (let i = 0; i < n; i++) {
      const c = f.y[i] as number;
      if (c < 0 || c >= numClasses) {
        throw new ShrinkError('INVALID_DATA', `${f.name}: label ${c} of sample ${i} is outside 0..${numClasses - 1}`);
      }
    }
    return { name: f.name, task: f.task, sampleShape: [...f.sampleShape], x: f.x, y: f.y, n, numClasses };
  }
  const targetSize = f.targetSize ?? 1;
  if (f.y.length !== n * targetSize) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${f.name}: ${n} samples x ${targetSize} targets needs ${n * targetSize} y values, got ${f.y.length}`,
    );
  }
  const y = f.y instanceof Float32Array ? f.y : Float32Array.from(f.y);
  return { name: f.name, task: f.task, sampleShape: [...f.sampleShape], x: f.x, y, n, targetSize };
}

function maxLabel(y: Int32Array): number {
  let m = -1;
  for (const v of y) if (v > m) m = v;
  return m;
}

/** The samples at `indices`, in that order (copies). */
export function subsetDataset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const per = sampleSize(ds.sampleShape);
  const tw = targetWidth(ds);
  const x = new Float32Array(indices.length * per);
  const y = ds.y instanceof Int32Array ? new Int32Array(indices.length * tw) : new Float32Array(indices.length * tw);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!(i >= 0 && i < ds.n)) throw new ShrinkError('INVALID_ARGUMENT', `${ds.name}: sample index ${i} outside 0..${ds.n - 1}`);
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    y.set(ds.y.subarray(i * tw, (i + 1) * tw), k * tw);
  }
  return { ...ds, name, x, y, n: indices.length };
}

/** The first `limit` samples (views, no copy); the dataset itself when it is not longer. */
export function takeFirst(ds: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= ds.n) return ds;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ShrinkError('INVALID_ARGUMENT', `limit ${limit} must be a positive integer`);
  }
  const per = sampleSize(ds.sampleShape);
  const tw = targetWidth(ds);
  return { ...ds, x: ds.x.subarray(0, limit * per), y: ds.y.subarray(0, limit * tw), n: limit };
}

/** `a` then `b` in one dataset; both must have the same task, sample shape and targets. */
export function concatDatasets(a: Dataset, b: Dataset, name: string): Dataset {
  if (a.task !== b.task || a.sampleShape.join('x') !== b.sampleShape.join('x') || targetWidth(a) !== targetWidth(b)) {
    throw new ShrinkError('INVALID_DATA', `cannot join ${a.name} and ${b.name}: task, sample shape or target size differ`);
  }
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  const y = a.y instanceof Int32Array ? new Int32Array(a.y.length + b.y.length) : new Float32Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  const numClasses = a.numClasses === undefined ? undefined : Math.max(a.numClasses, b.numClasses ?? 0);
  return { ...a, name, x, y, n: a.n + b.n, ...(numClasses === undefined ? {} : { numClasses }) };
}

/** The same samples seen with another shape of equal size (e.g. digits [64] as an [8, 8, 1] image). */
export function reshapeDataset(ds: Dataset, sampleShape: readonly number[]): Dataset {
  if (sampleSize(sampleShape) !== sampleSize(ds.sampleShape)) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `${ds.name}: cannot view samples of shape [${ds.sampleShape.join(', ')}] as [${sampleShape.join(', ')}]; sizes differ`,
    );
  }
  return { ...ds, sampleShape: [...sampleShape] };
}
