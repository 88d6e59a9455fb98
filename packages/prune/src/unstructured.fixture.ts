// Test support for the unstructured passes (magnitude, N:M): small seeded models built with the
// core builder, and a runner that feeds them to onnxruntime.
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, tensorNumel, type onnx } from '@shrink/core';
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

/** 8-bit codes of a float tensor, per tensor or per `axis`: int8 symmetric (zero point 0) or uint8 asymmetric. */
export interface Codes {
  q: Int8Array | Uint8Array;
  scale: Float32Array;
  zp: Int8Array | Uint8Array;
}

export function quantize(w: Float32Array, dims: number[], type: 'int8' | 'uint8', axis?: number): Codes {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? w.length : tensorNumel(dims.slice(axis + 1));
  const ch = (i: number): number => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const lo = new Float32Array(channels);
  const hi = new Float32Array(channels);
  w.forEach((v, i) => {
    const c = ch(i);
    lo[c] = Math.min(lo[c]!, v);
    hi[c] = Math.max(hi[c]!, v);
  });
  const scale = new Float32Array(channels);
  const zp = type === 'int8' ? new Int8Array(channels) : new Uint8Array(channels);
  for (let c = 0; c < channels; c++) {
    if (type === 'int8') scale[c] = Math.max(Math.abs(lo[c]!), Math.abs(hi[c]!)) / 127 || 1;
    else {
      scale[c] = (hi[c]! - lo[c]!) / 255 || 1;
      zp[c] = Math.min(255, Math.max(0, Math.round(-lo[c]! / scale[c]!)));
    }
  }
  const [min, max] = type === 'int8' ? [-127, 127] : [0, 255];
  const q = type === 'int8' ? new Int8Array(w.length) : new Uint8Array(w.length);
  w.forEach((v, i) => {
    const c = ch(i);
    q[i] = Math.min(max, Math.max(min, Math.round(v / scale[c]!) + zp[c]!));
  });
  return { q, scale, zp };
}

/**
 * The dynamic pattern @shrink/quantize writes for MatMul:
 * DynamicQuantizeLinear(a) -> MatMulInteger(aq, wq, az, wzp) -> Cast -> Mul(·, Mul(a_scale, w_scale)).
 */
function dynamicMatMul(a: string, w: string, out: string, name: string): onnx.NodeProto[] {
  return [
    makeNode('DynamicQuantizeLinear', [a], [`${a}_q`, `${a}_s`, `${a}_z`], {}, { name: `${name}_dql` }),
    makeNode('MatMulInteger', [`${a}_q`, `${w}_q`, `${a}_z`, `${w}_zp`], [`${name}_int`], {}, { name }),
    makeNode('Cast', [`${name}_int`], [`${name}_f`], { to: 1 }, { name: `${name}_cast` }),
    makeNode('Mul', [`${a}_s`, `${w}_scale`], [`${name}_scales`], {}, { name: `${name}_scales_mul` }),
    makeNode('Mul', [`${name}_f`, `${name}_scales`], [out], {}, { name: `${name}_scale_mul` }),
  ];
}

const codeTensors = (w: string, dtype: 'int8' | 'uint8', dims: number[], c: Codes, scaleDims: number[]): onnx.TensorProto[] => [
  makeTensor(`${w}_q`, dtype, dims, c.q),
  makeTensor(`${w}_scale`, 'float32', scaleDims, c.scale),
  makeTensor(`${w}_zp`, dtype, c.zp.length === 1 ? [] : [c.zp.length], c.zp),
];

/**
 * mlp(s1, s2) quantized dynamically: fc1 int8 symmetric per tensor (w1_q [64, 32], zero point 0),
 * fc2 uint8 asymmetric per column (w2 transposed to [32, 16], 16 zero points and scales).
 */
export function dynamicMlp(s1 = 1, s2 = 1): { model: onnx.ModelProto; w1: Codes; w2: Codes } {
  const w1 = quantize(randn(1, 64 * 32, s1), [64, 32], 'int8');
  const w2f = randn(3, 16 * 32, s2);
  const w2t = Float32Array.from({ length: 32 * 16 }, (_, i) => w2f[(i % 16) * 32 + Math.floor(i / 16)]!);
  const w2 = quantize(w2t, [32, 16], 'uint8', 1);
  const model = makeModel(
    makeGraph({
      nodes: [
        ...dynamicMatMul('x', 'w1', 'h0', 'fc1'),
        makeNode('Add', ['h0', 'b1'], ['h1'], {}, { name: 'fc1_bias' }),
        makeNode('Relu', ['h1'], ['h'], {}, { name: 'act' }),
        ...dynamicMatMul('h', 'w2', 'y0', 'fc2'),
        makeNode('Add', ['y0', 'b2'], ['y'], {}, { name: 'fc2_bias' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 64])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 16])],
      initializers: [
        ...codeTensors('w1', 'int8', [64, 32], w1, []),
        makeTensor('b1', 'float32', [32], randn(2, 32, 0.1)),
        ...codeTensors('w2', 'uint8', [32, 16], w2, [16]),
        makeTensor('b2', 'float32', [16], randn(4, 16, 0.1)),
      ],
    }),
  );
  return { model, w1, w2 };
}

/**
 * Static QDQ weights: conv1 W = DequantizeLinear(int8 [8, 6, 3, 3], 8 scales along axis 0) -> Relu ->
 * Flatten -> fc (MatMul) B = DequantizeLinear(uint8 [512, 10], one scale, zero point) -> y[B, 10].
 */
export function qdqNet(): { model: onnx.ModelProto; cw: Codes; fw: Codes } {
  const cw = quantize(randn(5, 8 * 6 * 9, 0.3), [8, 6, 3, 3], 'int8', 0);
  const fw = quantize(randn(8, 512 * 10, 0.05), [512, 10], 'uint8');
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('DequantizeLinear', ['cw_q', 'cw_scale', 'cw_zp'], ['cw'], { axis: 0 }, { name: 'cw_dq' }),
        makeNode('Conv', ['x', 'cw'], ['c1'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, { name: 'conv1' }),
        makeNode('Relu', ['c1'], ['r1'], {}, { name: 'act' }),
        makeNode('Flatten', ['r1'], ['f'], { axis: 1 }, { name: 'flat' }),
        makeNode('DequantizeLinear', ['fw_q', 'fw_scale', 'fw_zp'], ['fw'], {}, { name: 'fw_dq' }),
        makeNode('MatMul', ['f', 'fw'], ['y'], {}, { name: 'fc' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 6, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 10])],
      initializers: [
        makeTensor('cw_q', 'int8', [8, 6, 3, 3], cw.q),
        makeTensor('cw_scale', 'float32', [8], cw.scale),
        makeTensor('cw_zp', 'int8', [8], cw.zp),
        makeTensor('fw_q', 'uint8', [512, 10], fw.q),
        makeTensor('fw_scale', 'float32', [], fw.scale),
        makeTensor('fw_zp', 'uint8', [], fw.zp),
      ],
    }),
  );
  return { model, cw, fw };
}
