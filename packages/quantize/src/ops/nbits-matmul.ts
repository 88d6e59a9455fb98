/**
 * MatMul / Gemm with a constant 2-D weight -> com.microsoft MatMulNBits (weight-only blockwise int4/int8).
 * The replacement writes the original output name, so downstream nodes and graph outputs are unchanged.
 */
import {
  attrFloat,
  attrInt,
  float32ToFloat16,
  makeNode,
  tensorNumel,
  toFloat32,
  type Graph,
  type TensorValue,
  type onnx,
} from '@shrink/core';
import { transpose } from '../math/transpose.js';
import type { ResolvedQuantizeOptions } from '../options.js';
import type { NodeOutcome, OpQuantizer } from '../types.js';
import { quantizeBlockwise, zeroPointBytes, type NBits } from './nbits-blocks.js';

export const MS_DOMAIN = 'com.microsoft';

/** What the pass hands every handler: the bit width and a cache so a weight shared by several nodes is stored once. */
export interface NBitsExtra {
  bits: NBits;
  /** Weight value name (+ alpha, transB) -> the initializer names written for it. */
  written: Map<string, { b: string; scales: string; zeroPoints?: string; bytes: NodeOutcome['weights'] }>;
}

type Weights = NonNullable<NodeOutcome['weights']>;

/** Labelled by the node's own name, as the rest of the weight-only report. */
export function skipped(node: onnx.NodeProto, reason: string): NodeOutcome {
  return { name: node.name, opType: node.opType, action: 'skipped', reason };
}

/**
 * Quantizes weight `bName` ([K, N] after an optional transpose, times `alpha`) once per distinct
 * (name, transB, alpha) and returns the initializer names. Scales take the weight's float type, as
 * MatMulNBits wants scales in A's type.
 */
function writeWeights(
  graph: Graph,
  bName: string,
  opts: { transB: boolean; alpha: number; options: ResolvedQuantizeOptions; extra: NBitsExtra },
): { b: string; scales: string; zeroPoints?: string; K: number; N: number; weights: Weights } | string {
  const v = graph.constantValue(bName);
  if (!v) return `weight '${bName}' is computed at run time; only constant weights are quantized`;
  if (v.dtype !== 'float32' && v.dtype !== 'float16') return `weight '${bName}' is ${v.dtype}; only float32/float16 weights are quantized`;
  if (v.dims.length !== 2) return `weight '${bName}' has rank ${v.dims.length}; MatMulNBits takes a 2-D weight`;
  const [r, c] = v.dims as [number, number];
  const [K, N] = opts.transB ? [c, r] : [r, c];
  const { extra, options } = opts;
  const key = `${bName}|${opts.transB ? 1 : 0}|${opts.alpha}`;
  const hit = extra.written.get(key);
  if (hit) return { b: hit.b, scales: hit.scales, ...(hit.zeroPoints ? { zeroPoints: hit.zeroPoints } : {}), K, N, weights: hit.bytes ?? [] };
  let data = toFloat32(v);
  if (opts.transB) data = transpose(data, r, c);
  if (opts.alpha !== 1) data = data.map((x) => x * opts.alpha);
  const w = quantizeBlockwise(data, K, N, { bits: extra.bits, blockSize: options.blockSize, symmetric: options.symmetric, name: bName });
  const base = bName.replace(/[^A-Za-z0-9_.:/-]/g, '_');
  const bq = graph.uniqueName(`${base}_Q${extra.bits}`);
  const sq = graph.uniqueName(`${base}_scales`);
  graph.setInitializer(bq, 'uint8', [N, w.nBlocks, w.blobSize], w.packed);
  if (v.dtype === 'float16') graph.setInitializer(sq, 'float16', [N, w.nBlocks], float32ToFloat16(w.scales));
  else graph.setInitializer(sq, 'float32', [N, w.nBlocks], w.scales);
  const weights: Weights = [
    { name: bq, dtype: `uint8 (${extra.bits}-bit codes)`, elements: K * N, bytes: w.packed.byteLength },
    { name: sq, dtype: v.dtype, elements: w.scales.length, bytes: w.scales.length * (v.dtype === 'float16' ? 2 : 4) },
  ];
  let zq: string | undefined;
  if (w.zeroPoints) {
    zq = graph.uniqueName(`${base}_zero_points`);
    graph.setInitializer(zq, 'uint8', [N, zeroPointBytes(w.nBlocks, extra.bits)], w.zeroPoints);
    weights.push({ name: zq, dtype: `uint8 (${extra.bits}-bit zero points)`, elements: N * w.nBlocks, bytes: w.zeroPoints.byteLength });
  }
  extra.written.set(key, { b: bq, scales: sq, ...(zq ? { zeroPoints: zq } : {}), bytes: weights });
  return { b: bq, scales: sq, ...(zq ? { zeroPoints: zq } : {}), K, N, weights };
}

function matMulNBits(
  graph: Graph,
  node: onnx.NodeProto,
  a: string,
  w: { b: string; scales: string; zeroPoints?: string; K: number; N: number },
  bias: string | undefined,
  options: ResolvedQuantizeOptions,
  bits: NBits,
): onnx.NodeProto {
  // Inputs: A, B, scales, zero_points?, g_idx?, bias?; empty names stand for absent optional inputs.
  const inputs = [a, w.b, w.scales];
  if (w.zeroPoints || bias) inputs.push(w.zeroPoints ?? '');
  if (bias) inputs.push('', bias);
  return makeNode(
    'MatMulNBits',
    inputs,
    [node.output[0]!],
    {
      K: w.K,
      N: w.N,
      bits,
      block_size: options.blockSize,
      // 0 is the schema default; leaving it out keeps the node loadable by providers that ignore it.
      accuracy_level: options.accuracyLevel === 0 ? undefined : options.accuracyLevel,
    },
    { name: graph.uniqueNodeName(`${node.name || node.opType}_Q${bits}`), domain: MS_DOMAIN },
  );
}

export const quantizeMatMulNBits: OpQuantizer<NBitsExtra> = (graph, node, options, extra) => {
  const [a, bName] = node.input;
  if (!a || !bName) return skipped(node, 'MatMul needs two inputs');
  const aShape = graph.shapeOf(a);
  if (aShape && aShape.length < 2) return skipped(node, `input '${a}' has rank ${aShape.length}; MatMulNBits needs A of rank >= 2`);
  const w = writeWeights(graph, bName, { transB: false, alpha: 1, options, extra });
  if (typeof w === 'string') return skipped(node, w);
  const q = matMulNBits(graph, node, a, w, undefined, options, extra.bits);
  graph.replaceNode(node, q);
  return { name: node.name, opType: node.opType, action: 'quantized', replacedBy: [q.name], weights: w.weights };
};

/**
 * Gemm Y = alpha * A' B' + beta * C maps onto MatMulNBits when A is not transposed: transB is folded
 * into the packing, alpha into the weights, and a constant C of N values (or none) becomes the bias
 * input, scaled by beta. Other Gemms are left as they are.
 */
export const quantizeGemmNBits: OpQuantizer<NBitsExtra> = (graph, node, options, extra) => {
  const [a, bName, c] = node.input;
  if (!a || !bName) return skipped(node, 'Gemm needs inputs A and B');
  if (attrInt(node, 'transA', 0) !== 0) return skipped(node, 'transA=1 has no MatMulNBits form');
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const bv = graph.constantValue(bName);
  const transB = attrInt(node, 'transB', 0) !== 0;
  let bias: { value: TensorValue; cells: number } | undefined;
  if (c && beta !== 0) {
    const cv = graph.constantValue(c);
    if (!cv) return skipped(node, `bias '${c}' is computed at run time; MatMulNBits takes a constant bias of N values`);
    if (cv.dtype !== 'float32' && cv.dtype !== 'float16') return skipped(node, `bias '${c}' is ${cv.dtype}, not float`);
    const n = bv?.dims.length === 2 ? bv.dims[transB ? 0 : 1]! : -1;
    const cells = tensorNumel(cv.dims);
    const rowVector = cv.dims.every((d, i) => i === cv.dims.length - 1 || d === 1);
    if (!rowVector || (cells !== n && cells !== 1)) {
      return skipped(node, `bias '${c}' has shape [${cv.dims.join(', ')}]; MatMulNBits takes a bias of N=${n} values`);
    }
    bias = { value: cv, cells };
  }
  const w = writeWeights(graph, bName, { transB, alpha, options, extra });
  if (typeof w === 'string') return skipped(node, w);
  const weights = [...w.weights];
  let biasName: string | undefined;
  if (bias && c) {
    // MatMulNBits wants the bias as [N] in A's (= the scales') float type.
    const type = graph.dtypeOf(w.scales) === 'float16' ? 'float16' : 'float32';
    const { value, cells } = bias;
    if (beta === 1 && cells === w.N && value.dims.length === 1 && value.dtype === type) biasName = c;
    else {
      const cf = toFloat32(value);
      const data = new Float32Array(w.N).map((_, i) => beta * cf[cells === 1 ? 0 : i]!);
      biasName = graph.uniqueName(`${c}_bias`);
      if (type === 'float16') graph.setInitializer(biasName, 'float16', [w.N], float32ToFloat16(data));
      else graph.setInitializer(biasName, 'float32', [w.N], data);
      weights.push({ name: biasName, dtype: type, elements: w.N, bytes: w.N * (type === 'float16' ? 2 : 4) });
    }
  }
  const q = matMulNBits(graph, node, a, w, biasName, options, extra.bits);
  graph.replaceNode(node, q);
  return { name: node.name, opType: node.opType, action: 'quantized', replacedBy: [q.name], weights };
};
