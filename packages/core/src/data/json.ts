import { ShrinkError } from '../errors.js';
import type { Dataset, Task } from './dataset.js';
import { createDataset } from './dataset-ops.js';
import { areClassIndices, chooseTask, toClassIndices } from './labels.js';
import { readDataFile } from './read-data-file.js';

export interface JsonDatasetOptions {
  name?: string;
  /** Overrides the inferred task: integer labels -> classification, floats or arrays -> regression. */
  task?: Task;
  numClasses?: number;
}

/** The shape of a nested number array, following first elements. */
function shapeOf(v: unknown): number[] {
  const shape: number[] = [];
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * Appends the numbers of `v` (which must have exactly `shape`) to `out`. `at` is the index path of v
 * under `key`; the error text is built only on failure, since this runs once per value.
 */
function flattenInto(v: unknown, shape: readonly number[], key: string, at: number[], file: string, out: number[]): void {
  const depth = at.length - 1;
  const where = () => `${key}${at.map((i) => `[${i}]`).join('')}`;
  if (depth === shape.length) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ShrinkError('INVALID_DATA', `${file}: ${where()} is ${JSON.stringify(v)}, expected a finite number`);
    }
    out.push(v);
    return;
  }
  const len = shape[depth] as number;
  if (!Array.isArray(v) || v.length !== len) {
    const got = Array.isArray(v) ? `an array of ${v.length}` : JSON.stringify(v);
    throw new ShrinkError('INVALID_DATA', `${file}: ${where()} is ${got}, expected an array of ${len} like ${key}[0]`);
  }
  for (let i = 0; i < len; i++) {
    at.push(i);
    flattenInto(v[i], shape, key, at, file, out);
    at.pop();
  }
}

/**
 * A dataset from `{"x": [...], "y": [...]}`: x holds one number, flat array or nested array per sample
 * (the sample shape follows the nesting of x[0]); y holds a number or an array of numbers per sample.
 * Without "y" the samples are unlabeled (see Dataset.unlabeled).
 */
export function jsonToDataset(doc: unknown, file: string, opts: JsonDatasetOptions = {}): Dataset {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ShrinkError('INVALID_DATA', `${file}: expected an object {"x": [...], "y": [...]}`);
  }
  const { x, y } = doc as { x?: unknown; y?: unknown };
  if (!Array.isArray(x) || x.length === 0) {
    throw new ShrinkError('INVALID_DATA', `${file}: key "x" must be a non-empty array of samples`);
  }
  if (y === undefined) return unlabeledDataset(x, file, opts);
  if (!Array.isArray(y) || y.length !== x.length) {
    const got = Array.isArray(y) ? `${y.length} entries` : 'missing or not an array';
    throw new ShrinkError('INVALID_DATA', `${file}: key "y" is ${got}; expected an array of ${x.length} targets, one per sample in "x"`);
  }
  const sampleShape = shapeOf(x[0]);
  if (sampleShape.some((d) => d === 0)) throw new ShrinkError('INVALID_DATA', `${file}: x[0] has an empty dimension`);
  const xs: number[] = [];
  for (let i = 0; i < x.length; i++) flattenInto(x[i], sampleShape, 'x', [i], file, xs);
  const yShape = shapeOf(y[0]);
  if (yShape.length > 1) throw new ShrinkError('INVALID_DATA', `${file}: y[0] is nested; expected a number or an array of numbers`);
  const ys: number[] = [];
  for (let i = 0; i < y.length; i++) flattenInto(y[i], yShape, 'y', [i], file, ys);
  const name = opts.name ?? file;
  const shape = sampleShape.length === 0 ? [1] : sampleShape;
  const task = chooseTask(opts.task, yShape.length === 0 && areClassIndices(ys));
  if (task === 'classification') {
    if (yShape.length > 0) {
      throw new ShrinkError('INVALID_DATA', `${file}: y holds arrays; classification needs one class index per sample`);
    }
    const { y: labels, numClasses } = toClassIndices(ys, file, (i) => `${file}: y[${i}]`);
    return createDataset({
      name,
      task,
      sampleShape: shape,
      x: Float32Array.from(xs),
      y: labels,
      numClasses: opts.numClasses ?? numClasses,
    });
  }
  return createDataset({
    name,
    task,
    sampleShape: shape,
    x: Float32Array.from(xs),
    y: Float32Array.from(ys),
    targetSize: yShape[0] ?? 1,
  });
}

/** Samples without labels: placeholders in y, `unlabeled` set (see Dataset.unlabeled). */
function unlabeledDataset(x: unknown[], file: string, opts: JsonDatasetOptions): Dataset {
  const sampleShape = shapeOf(x[0]);
  if (sampleShape.some((d) => d === 0)) throw new ShrinkError('INVALID_DATA', `${file}: x[0] has an empty dimension`);
  const xs: number[] = [];
  for (let i = 0; i < x.length; i++) flattenInto(x[i], sampleShape, 'x', [i], file, xs);
  const shape = sampleShape.length === 0 ? [1] : sampleShape;
  const ds = createDataset({
    name: opts.name ?? file,
    task: 'classification',
    sampleShape: shape,
    x: Float32Array.from(xs),
    y: new Int32Array(x.length),
    numClasses: opts.numClasses ?? 1,
  });
  return { ...ds, unlabeled: true };
}

/** Loads a .json (or gzipped) dataset file; see jsonToDataset. */
export async function loadJsonDataset(file: string, opts: JsonDatasetOptions = {}): Promise<Dataset> {
  const text = (await readDataFile(file)).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ShrinkError('INVALID_DATA', `${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return jsonToDataset(doc, file, opts);
}
