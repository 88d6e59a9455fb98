// Test support for explain.test.ts and fallback.test.ts: an MLP with one layer that quantizes badly.
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { createDataset, createRng, type Dataset } from '@shrink/core/data';
import { createSession } from '@shrink/core/runtime';

export type Layer = 'fc1' | 'fc2' | 'fc3';
export const IN = 16;
export const CLASSES = 4;
const WIDTHS: Record<Layer, [number, number]> = { fc1: [IN, 32], fc2: [32, 32], fc3: [32, CLASSES] };

/**
 * x[B,16] -> fc1 (MatMul + Add) -> Relu -> fc2 -> Relu -> fc3 -> y[B,4]. `outlier` puts one weight of
 * 100 (the others are ~N(0, 0.3)) in row 0 of that layer and makes row 0's input always zero (input
 * feature 0 is zero in `dataFor`'s data; a hidden unit is killed by a -1000 bias before its Relu). The
 * float function ignores the outlier, but a per-tensor int8 scale of 100/127 rounds the layer's other
 * weights to a level or two: its SQNR is by far the worst.
 */
export function outlierMlp(opts: { outlier?: Layer; seed?: number; unnamed?: boolean } = {}): onnx.ModelProto {
  const rng = createRng(opts.seed ?? 1);
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  let x = 'x';
  for (const layer of ['fc1', 'fc2', 'fc3'] as const) {
    const [k, n] = WIDTHS[layer];
    const w = Float32Array.from({ length: k * n }, () => rng.normal() * 0.3);
    const b = Float32Array.from({ length: n }, () => rng.normal() * 0.1);
    if (opts.outlier === layer) w[0] = 100;
    // The unit feeding the next layer's row 0 never fires.
    if (opts.outlier === 'fc2' && layer === 'fc1') b[0] = -1000;
    if (opts.outlier === 'fc3' && layer === 'fc2') b[0] = -1000;
    const last = layer === 'fc3';
    const name = (s: string) => (opts.unnamed ? {} : { name: s });
    nodes.push(makeNode('MatMul', [x, `${layer}_w`], [`${layer}_mm`], {}, name(layer)));
    nodes.push(makeNode('Add', [`${layer}_mm`, `${layer}_b`], [last ? 'y' : `${layer}_pre`], {}, name(`${layer}_bias`)));
    if (!last) nodes.push(makeNode('Relu', [`${layer}_pre`], [`${layer}_out`], {}, name(`${layer}_relu`)));
    inits.push(makeTensor(`${layer}_w`, 'float32', [k, n], w), makeTensor(`${layer}_b`, 'float32', [n], b));
    x = `${layer}_out`;
  }
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', ['batch', IN])],
      outputs: [makeValueInfo('y', 'float32', ['batch', CLASSES])],
      initializers: inits,
    }),
  );
}

/**
 * n samples ~N(0, 1) with feature 0 zero, labelled by the float model: its argmax (classification,
 * accuracy 1 by construction) or its outputs plus N(0, 0.1) noise (regression, MSE ~0.01).
 */
export async function dataFor(
  model: onnx.IModelProto,
  n: number,
  task: 'classification' | 'regression' = 'classification',
  seed = 7,
): Promise<Dataset> {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: n * IN }, (_, i) => (i % IN === 0 ? 0 : rng.normal()));
  const s = await createSession(model);
  let y: Float32Array;
  try {
    const out = await s.run({ x: { data: x, dims: [n, IN] } });
    y = Float32Array.from(out['y']!.data as Float32Array);
  } finally {
    await s.release();
  }
  if (task === 'regression') {
    return createDataset({
      name: 'mlp-regression',
      task,
      sampleShape: [IN],
      x,
      y: y.map((v) => v + rng.normal() * 0.1),
      targetSize: CLASSES,
    });
  }
  const labels = Int32Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (y[i * CLASSES + c]! > y[i * CLASSES + best]!) best = c;
    return best;
  });
  return createDataset({ name: 'mlp-argmax', task, sampleShape: [IN], x, y: labels, numClasses: CLASSES });
}
