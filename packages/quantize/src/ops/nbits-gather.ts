/**
 * Gather over a constant float table (axis 0: an embedding lookup) -> com.microsoft GatherBlockQuantized,
 * 4 or 8 bits, blocks along the last axis. The table E [V, D] is planned as the weight E^T [K = D, N = V],
 * the form a head MatMul(h, Transpose(E)) or Gemm(h, E, transB=1) reads, under the same key: MatMulNBits
 * blocks of E^T column n are the blocks of row n of E along D, so one packed tensor serves both ops
 * (nbits-place.ts).
 *
 * The schema (onnxruntime contrib_ops/cpu/quantization/gather_block_quantized.cc, opset com.microsoft 1):
 *   inputs   data T1, indices Tind (int32 | int64), scales T2 (float | float16), zero_points T1 (optional)
 *   attrs    gather_axis (default 0), quantize_axis (default 1), block_size (default 128, power of 2 >= 16),
 *            bits (default 4; uint8 data: 4 or 8, 2 in newer builds; int4/uint4 data: 4)
 *   uint8    data follows MatMulNBits' conventions: codes packed lowest bits first along the last axis
 *            (data [V, D * bits / 8]); gather_axis must be 0 and quantize_axis the last; scales [V, ceil(D /
 *            block)]; zero points uint8 packed like the codes, [V, ceil(n_blocks * bits / 8)], or absent
 *            for the mid code (8 or 128). No float zero points (HQQ's), unlike MatMulNBits.
 * Measured 2026-12-03 with onnxruntime-node 1.30.0 (x86-64 CPU), one model reading one packed table
 * through both ops, 4 and 8 bits, with and without zero points, block 32, D 64: the gathered rows equal
 * the TS dequantization exactly and the head's logits are within 1.3e-5. MatMulNBits refuses B in the 2-D
 * shape (PrePack: "B initializer shape {8,32} does not match attribute-derived shape [8,2,16]") and
 * GatherBlockQuantized refuses the 3-D one without 3-D scales (shape inference: "scales must have the same
 * rank as data"), so the shared table is stored [V, n_blocks, blob] and the lookup reads it through a
 * Reshape to [V, D * bits / 8] (same bytes; scales and zero points have the same shape in both ops).
 */
import { attrInt, type onnx } from '@shrink/core';
import { planWeight } from './nbits-matmul.js';
import { skip, type NBitsOp } from './nbits-types.js';

/** A Gather that looks up rows (axis 0) of its data, or why not; whether the data is a table is the caller's. */
export function gatherRows(node: onnx.NodeProto): { table: string; indices: string } | string {
  const [table, indices] = node.input;
  if (!table || !indices) return 'Gather needs data and indices';
  const axis = attrInt(node, 'axis', 0);
  if (axis !== 0 && axis !== -2) return `Gather axis ${axis}: GatherBlockQuantized looks up rows (axis 0) of a 2-D table`;
  return { table, indices };
}

/**
 * A table planned as a weight ([K = D, N = V]) as a lookup's, or why it cannot be one (the weight's own
 * reason, worded for a table). Rows of D codes must be whole blocks (MatMulNBits pads each column's last
 * block to the block size; GatherBlockQuantized reads D codes per row), so other tables stay float.
 */
export function asTable<W extends { readonly K: number }>(table: string, weight: W | string, blockSize: number | undefined): W | string {
  if (typeof weight === 'string') return weight.replace(/MatMulNBits takes a 2-D weight/, 'GatherBlockQuantized takes a 2-D table');
  if (blockSize !== undefined && weight.K % blockSize !== 0) {
    return `table '${table}' rows hold ${weight.K} values, not a multiple of block size ${blockSize}`;
  }
  return weight;
}

export const planGatherNBits: NBitsOp = (node, { graph, blockSize }) => {
  const g = gatherRows(node);
  if (typeof g === 'string') return skip(g);
  // planWeight refuses non-constant and non-float data; rank is checked there too (as B of a MatMul).
  const weight = asTable(g.table, planWeight(graph, g.table, true, 1), blockSize);
  if (typeof weight === 'string') return skip(weight);
  return { kind: 'plan', plan: { input: g.indices, weight, output: node.output[0]!, lookup: true } };
};
