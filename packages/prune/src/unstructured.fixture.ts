// Test support for the unstructured passes (magnitude, N:M): small seeded models built with the
// core builder, and a runner that feeds them to onnxruntime.
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { mulberry32 } from '@shrink/core/data';
import { createSession } from '@shrink/core/runtime';

/** Roughly normal values (sum of three uniforms), scaled. */
export function randn(seed: number, n: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() + r() + r() - 1.5) * 2 * scale);
}

/**
 * x[B,64] -> fc1 (MatMul, w1 [64,32], scale s1) + b1 -> Relu -> fc2 (Gemm transB=1, w2 [16,32], scale s2, b2) -> y[B,16].
 * The two weight scales differ so a global threshold hits the layers differently.
 */
export function mlp(s1 = 1, s2 = 1): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w1'], ['h0'], {}, { name: 'fc1' }),
        makeNode('Add', ['h0', 'b1'], ['h1'], {}, { name: 'fc1_bias' }),
        makeNode('Relu', ['h1'], ['h'], {}, { name: 'act' }),
        makeNode('Gemm', ['h', 'w2', 'b2'], ['y'], { transB: 1 }, { name: 'fc2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 64])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 16])],
      initializers: [
        makeTensor('w1', 'float32', [64, 32], randn(1, 64 * 32, s1)),
        makeTensor('b1', 'float32', [32], randn(2, 32, 0.1)),
        makeTensor('w2', 'float32', [16, 32], randn(3, 16 * 32, s2)),
        makeTensor('b2', 'float32', [16], randn(4, 16, 0.1)),
      ],
    }),
  );
}

/** x[B,6,8,8] -> conv1 (W [8,6,3,3]) -> Relu -> conv2 (W [4,8,3,3], no bias) -> y[B,4,8,8]. I = 6 leaves a partial 4-group. */
export function convNet(): onnx.ModelProto {
  const conv = { pads: [1, 1, 1, 1], kernel_shape: [3, 3] };
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'cw1', 'cb1'], ['c1'], conv, { name: 'conv1' }),
        makeNode('Relu', ['c1'], ['r1'], {}, { name: 'act' }),
        makeNode('Conv', ['r1', 'cw2'], ['y'], conv, { name: 'conv2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 6, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 4, 8, 8])],
      initializers: [
        makeTensor('cw1', 'float32', [8, 6, 3, 3], randn(5, 8 * 6 * 9, 0.3)),
        makeTensor('cb1', 'float32', [8], randn(6, 8, 0.1)),
        makeTensor('cw2', 'float32', [4, 8, 3, 3], randn(7, 4 * 8 * 9, 0.3)),
      ],
    }),
  );
}

/** Runs `model` on one input and returns its first output. */
export async function runModel(model: onnx.IModelProto, input: string, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run({ [input]: { data, dims } });
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

export const zerosOf = (a: ArrayLike<number>): number => Array.from(a).filter((v) => v === 0).length;
