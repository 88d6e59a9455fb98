/**
 * MatMul / Gemm with a constant 2-D weight -> com.microsoft MatMulNBits (weight-only blockwise int4/int8).
 * The replacement writes the original output name, so downstream nodes and graph outputs are unchanged.
 */
import { attrFloat, attrInt, tensorNumel, toFloat32, type Graph, type TensorValue } from '@shrink/core';
import { transpose } from '../math/transpose.js';
import { skip, type NBitsBias, type NBitsOp, type NBitsWeight } from './nbits-types.js';

/**
 * Weight `bName` as MatMulNBits reads it ([K, N] after an optional transpose, times `alpha`), or why it
 * does not qualify.
 */
function planWeight(graph: Graph, bName: string, transB: boolean, alpha: number): NBitsWeight | string {
  const v = graph.constantValue(bName);
  if (!v) return `weight '${bName}' is computed at run time; only constant weights are quantized`;
  if (v.dtype !== 'float32' && v.dtype !== 'float16') return `weight '${bName}' is ${v.dtype}; only float32/float16 weights are quantized`;
  if (v.dims.length !== 2) return `weight '${bName}' has rank ${v.dims.length}; MatMulNBits takes a 2-D weight`;
  const [r, c] = v.dims as [number, number];
  const [K, N] = transB ? [c, r] : [r, c];
  let data = toFloat32(v);
  if (transB) data = transpose(data, r, c);
  if (alpha !== 1) data = data.map((x) => x * alpha);
  return { key: `${bName}|${transB ? 1 : 0}|${alpha}`, source: bName, data, K, N, floatType: v.dtype };
}

export const planMatMulNBits: NBitsOp = (node, { graph }) => {
  const [a, bName] = node.input;
  if (!a || !bName) return skip('MatMul needs two inputs');
  const aShape = graph.shapeOf(a);
  if (aShape && aShape.length < 2) return skip(`input '${a}' has rank ${aShape.length}; MatMulNBits needs A of rank >= 2`);
  const weight = planWeight(graph, bName, false, 1);
  if (typeof weight === 'string') return skip(weight);
  return { kind: 'plan', plan: { input: a, weight, output: node.output[0]! } };
};

/**
 * Gemm Y = alpha * A' B' + beta * C maps onto MatMulNBits when A is not transposed: transB is folded
 * into the packing, alpha into the weights, and a constant C of N values (or none) becomes the bias
 * input, scaled by beta. Other Gemms are left as they are.
 */
export const planGemmNBits: NBitsOp = (node, { graph }) => {
  const [a, bName, c] = node.input;
  if (!a || !bName) return skip('Gemm needs inputs A and B');
  if (attrInt(node, 'transA', 0) !== 0) return skip('transA=1 has no MatMulNBits form');
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const bv = graph.constantValue(bName);
  const transB = attrInt(node, 'transB', 0) !== 0;
  let biasValue: { value: TensorValue; cells: number } | undefined;
  if (c && beta !== 0) {
    const cv = graph.constantValue(c);
    if (!cv) return skip(`bias '${c}' is computed at run time; MatMulNBits takes a constant bias of N values`);
    if (cv.dtype !== 'float32' && cv.dtype !== 'float16') return skip(`bias '${c}' is ${cv.dtype}, not float`);
    const n = bv?.dims.length === 2 ? bv.dims[transB ? 0 : 1]! : -1;
    const cells = tensorNumel(cv.dims);
    const rowVector = cv.dims.every((d, i) => i === cv.dims.length - 1 || d === 1);
    if (!rowVector || (cells !== n && cells !== 1)) {
      return skip(`bias '${c}' has shape [${cv.dims.join(', ')}]; MatMulNBits takes a bias of N=${n} values`);
    }
    biasValue = { value: cv, cells };
  }
  const weight = planWeight(graph, bName, transB, alpha);
  if (typeof weight === 'string') return skip(weight);
  let bias: NBitsBias | undefined;
  if (biasValue && c) {
    // MatMulNBits wants the bias as [N] in A's (= the scales') float type.
    const { value, cells } = biasValue;
    if (beta === 1 && cells === weight.N && value.dims.length === 1 && value.dtype === weight.floatType) bias = { value: c };
    else {
      const cf = toFloat32(value);
      bias = { base: `${c}_bias`, data: new Float32Array(weight.N).map((_, i) => beta * cf[cells === 1 ? 0 : i]!) };
    }
  }
  return { kind: 'plan', plan: { input: a, weight, ...(bias ? { bias } : {}), output: node.output[0]! } };
};
