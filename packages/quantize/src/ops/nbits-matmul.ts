/**
 * MatMul / Gemm with a constant 2-D weight -> com.microsoft MatMulNBits (weight-only blockwise int4/int8).
 * The replacement writes the original output name, so downstream nodes and graph outputs are unchanged.
 */
import { attrFloat, attrInt, attrInts, isDefaultDomain, tensorNumel, type Graph } from '@shrink/core';
import { floatWeight, type FloatWeight } from '../float-weight.js';
import { transpose } from '../math/transpose.js';
import { skip, type NBitsBias, type NBitsOp, type NBitsWeight } from './nbits-types.js';

/**
 * Weight `bName` as MatMulNBits reads it ([K, N] after an optional transpose, times `alpha`), or why it
 * does not qualify.
 */
export function planWeight(graph: Graph, bName: string, transB: boolean, alpha: number): NBitsWeight | string {
  const v = floatWeight(graph, bName, 'weight');
  if (typeof v === 'string') return `${v}; only constant weights are quantized`;
  if (v.dims.length !== 2) return `weight '${bName}' has rank ${v.dims.length}; MatMulNBits takes a 2-D weight`;
  const [r, c] = v.dims as [number, number];
  const [K, N] = transB ? [c, r] : [r, c];
  let data = v.data;
  if (transB) data = transpose(data, r, c);
  if (alpha !== 1) data = data.map((x) => x * alpha);
  // The scales (and bias) take the type the node computes in, float16 for a float16 weight read directly.
  return { key: `${bName}|${transB ? 1 : 0}|${alpha}`, source: bName, data, K, N, floatType: v.readAs };
}

export const planMatMulNBits: NBitsOp = (node, { graph }) => {
  const [a, bName] = node.input;
  if (!a || !bName) return skip('MatMul needs two inputs');
  const aShape = graph.shapeOf(a);
  if (aShape && aShape.length < 2) return skip(`input '${a}' has rank ${aShape.length}; MatMulNBits needs A of rank >= 2`);
  // B = Transpose(perm [1, 0]) of a constant table (a tied LM head: GPT-style exports keep the embedding
  // [V, D] and transpose it for the head) is a constant weight too: the transpose is folded into the plan
  // (the same key as Gemm transB and the embedding lookup, so the table is stored once); the Transpose node,
  // read by nothing afterwards, is dropped as dead.
  const source = transposedConstant(graph, bName);
  const weight = source ? planWeight(graph, source, true, 1) : planWeight(graph, bName, false, 1);
  if (typeof weight === 'string') return skip(weight);
  return { kind: 'plan', plan: { input: a, weight, output: node.output[0]! } };
};

/**
 * The tensor `name` is a Transpose (perm [1, 0] or none) of, when `isTable` says that is a constant 2-D
 * float table, else undefined. `isTable` is the caller's: the in-memory pass reads values, the streamed
 * planner only the tensor's type and shape.
 */
export function transposedTable(graph: Graph, name: string, isTable: (source: string) => boolean): string | undefined {
  const t = graph.producer(name);
  if (!t || t.opType !== 'Transpose' || !isDefaultDomain(t) || !t.input[0]) return undefined;
  const perm = attrInts(t, 'perm');
  if (perm !== undefined && !(perm.length === 2 && perm[0] === 1 && perm[1] === 0)) return undefined;
  return isTable(t.input[0]) ? t.input[0] : undefined;
}

/** The constant 2-D float tensor `name` transposes, else undefined. */
function transposedConstant(graph: Graph, name: string): string | undefined {
  return transposedTable(graph, name, (source) => {
    const w = floatWeight(graph, source, 'weight');
    return typeof w !== 'string' && w.dims.length === 2;
  });
}

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
  const transB = attrInt(node, 'transB', 0) !== 0;
  let biasValue: { value: FloatWeight; cells: number } | undefined;
  const bDims = graph.shapeOf(bName) ?? floatDims(graph, bName);
  if (c && beta !== 0) {
    const cv = floatWeight(graph, c, 'bias');
    if (typeof cv === 'string') return skip(`${cv}; MatMulNBits takes a constant bias of N values`);
    const n = bDims?.length === 2 ? Number(bDims[transB ? 0 : 1]) : -1;
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
    const readDirectly = value.source === c && value.stored === weight.floatType;
    if (beta === 1 && cells === weight.N && value.dims.length === 1 && readDirectly) bias = { value: c };
    else bias = { base: `${c}_bias`, data: new Float32Array(weight.N).map((_, i) => beta * value.data[cells === 1 ? 0 : i]!) };
  }
  return { kind: 'plan', plan: { input: a, weight, ...(bias ? { bias } : {}), output: node.output[0]! } };
};

/** Dims of a weight read through a Cast (which declares no shape). */
function floatDims(graph: Graph, name: string): readonly number[] | undefined {
  const w = floatWeight(graph, name, 'B');
  return typeof w === 'string' ? undefined : w.dims;
}
