// Models with numbers that break math, and the scan every output of the degenerate tests goes through.
import { Graph, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, readTensor, toFloat32, type onnx } from '@shrink/core';
import { forEachTensor } from '@shrink/core/io';
import { createSession } from '@shrink/core/runtime';
import { tinyConv, tinyMlp } from '../fuzz/corpus.js';

/** A copy of `model` with initializer `name`'s float32 values rewritten by `edit`. */
export function withWeights(model: onnx.ModelProto, name: string, edit: (w: Float32Array) => void): onnx.ModelProto {
  const g = Graph.from(model);
  const t = g.readInitializer(name);
  const w = Float32Array.from(t.data as Float32Array);
  edit(w);
  g.setInitializer(name, 'float32', t.dims, w);
  return g.toModel();
}

export type Degenerate = readonly [label: string, model: () => onnx.ModelProto];

/** One weight of each kind of trouble, in the MLP's first layer and in the conv net's kernel. */
export const DEGENERATE: readonly Degenerate[] = [
  ['NaN weight', () => withWeights(tinyMlp(), 'w1', (w) => (w[5] = NaN))],
  ['+Inf weight', () => withWeights(tinyMlp(), 'w1', (w) => (w[5] = Infinity))],
  ['-Inf conv weight', () => withWeights(tinyConv(), 'cw', (w) => (w[0] = -Infinity))],
  ['all-zero weight (range 0, scale 0)', () => withWeights(tinyMlp(), 'w1', (w) => w.fill(0))],
  ['all-zero conv kernel', () => withWeights(tinyConv(), 'cw', (w) => w.fill(0))],
  ['constant non-zero weight (range 0)', () => withWeights(tinyMlp(), 'w2', (w) => w.fill(0.25))],
  ['denormal weights', () => withWeights(tinyMlp(), 'w1', (w) => w.forEach((_, i) => (w[i] = (i % 2 ? 1 : -1) * 1e-40)))],
  [
    'huge weights (beyond float16)',
    () => withWeights(tinyMlp(), 'w1', (w) => w.forEach((v, i) => (w[i] = v * 1e6 + (i === 0 ? 3e38 : 0)))),
  ],
  ['one weight of 2e38 (2 * max|w| > FLT_MAX)', () => withWeights(tinyMlp(), 'w1', (w) => (w[0] = 2e38))],
  ['weights of ±3.4e38 (max - min beyond float32)', () => withWeights(tinyMlp(), 'w1', (w) => ((w[0] = 3.4e38), (w[1] = -3.4e38)))],
];

/** A model whose only weights are integers: nothing for a float pass to do. */
export function noFloatWeights(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [makeNode('Add', ['x', 'k'], ['s']), makeNode('Cast', ['s'], ['y'], { to: 1 })],
      inputs: [makeValueInfo('x', 'int32', ['N', 4])],
      outputs: [makeValueInfo('y', 'float32', ['N', 4])],
      initializers: [makeTensor('k', 'int32', [4], [1, 2, 3, 4])],
    }),
  );
}

/** Every NaN in the model's float tensors (initializers, attribute tensors, subgraphs), as 'name[i]'. */
export function nanIn(model: onnx.IModelProto): string[] {
  return scan(model, (x) => Number.isNaN(x));
}

/** Every NaN or ±Infinity in the model's float tensors, as 'name[i]' (the first of each tensor). */
export function nonFiniteIn(model: onnx.IModelProto): string[] {
  return scan(model, (x) => !Number.isFinite(x));
}

function scan(model: onnx.IModelProto, bad: (x: number) => boolean): string[] {
  const found: string[] = [];
  forEachTensor(model, (t, label) => {
    let v;
    try {
      v = readTensor(t);
    } catch {
      return;
    }
    if (!['float32', 'float16', 'float64', 'bfloat16'].includes(v.dtype)) return;
    const f = toFloat32(v);
    const i = f.findIndex(bad);
    if (i >= 0) found.push(`${label}[${i}]`);
  });
  return found;
}

/** Runs `model` once on a fixed batch of 2 (symbolic dims set to 2, float values in [0, 1), int32 in 0..6) and returns every non-finite output element, as 'name[i]=v'. */
export async function nonFiniteOutputs(model: onnx.IModelProto): Promise<string[]> {
  const session = await createSession(model, { threads: 1 });
  try {
    const feeds: Record<string, { data: Float32Array | Int32Array; dims: number[] }> = {};
    for (const input of session.inputs) {
      const dims = (input.shape ?? []).map((d) => (typeof d === 'number' ? d : 2));
      const n = dims.reduce((a, b) => a * b, 1);
      feeds[input.name] = {
        data:
          input.type === 'int32'
            ? Int32Array.from({ length: n }, (_, i) => i % 7)
            : Float32Array.from({ length: n }, (_, i) => (i % 7) / 7),
        dims,
      };
    }
    const out = await session.run(feeds);
    const found: string[] = [];
    for (const [name, t] of Object.entries(out)) {
      if (!(t.data instanceof Float32Array)) continue;
      const i = t.data.findIndex((x) => !Number.isFinite(x));
      if (i >= 0) found.push(`${name}[${i}]=${t.data[i]}`);
    }
    return found;
  } finally {
    await session.release();
  }
}
