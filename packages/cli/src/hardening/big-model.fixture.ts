import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';

/** y = x[N,K] @ W[K,256]: W holds `mb` MiB of float32 whose values depend on `seed` (old vs new file). */
export function bigModel(mb: number, seed: number): onnx.ModelProto {
  const cols = 256;
  const rows = Math.max(1, Math.floor((mb * 2 ** 20) / 4 / cols));
  const w = new Float32Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < w.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    w[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  return makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'w'], ['y'], {}, { name: 'big' })],
      inputs: [makeValueInfo('x', 'float32', ['N', rows])],
      outputs: [makeValueInfo('y', 'float32', ['N', cols])],
      initializers: [makeTensor('w', 'float32', [rows, cols], w, { copy: false })],
    }),
  );
}
