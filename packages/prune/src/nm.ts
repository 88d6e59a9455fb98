import { ShrinkError, tensorNumel, type onnx } from '@shrink/core';
import { runUnstructured } from './magnitude.js';
import type { ResolvedPruneOptions } from './options.js';
import type { PruneResult } from './types.js';

/**
 * How many weights a group of `len` keeps. A full group keeps N. The last group along an axis whose
 * length is not a multiple of M is shorter: it keeps ceil(N * len / M), so its density never falls
 * below N/M (e.g. 2:4 over K = 10: groups of 4, 4, 2 keep 2, 2, 1).
 */
export const keptInGroup = (n: number, m: number, len: number): number => (len >= m ? n : Math.min(len, Math.ceil((n * len) / m)));

/**
 * N:M pruning of one tensor in place: along `axis`, every run of M consecutive elements (at each
 * position of the other axes) keeps its N largest |w|; ties keep the lower index.
 */
export function pruneNMTensor(values: Float32Array, dims: readonly number[], axis: number, n: number, m: number): void {
  const len = dims[axis] ?? 1;
  const inner = tensorNumel(dims.slice(axis + 1));
  const outer = tensorNumel(dims.slice(0, axis));
  const idx: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      for (let g = 0; g < len; g += m) {
        const size = Math.min(m, len - g);
        const keep = keptInGroup(n, m, size);
        if (keep >= size) continue;
        idx.length = 0;
        for (let r = g; r < g + size; r++) idx.push(base + r * inner);
        // Largest |w| first; Array.prototype.sort is stable, so equal magnitudes keep the lower index.
        idx.sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!));
        for (let j = keep; j < size; j++) values[idx[j]!] = 0;
      }
    }
  }
}

/**
 * N:M semi-structured pruning of the constant weights of MatMul, Gemm, Conv and ConvTranspose, along
 * the reduction axis each op sums over (ops/weights.ts): MatMul B [K, N] in groups of M consecutive
 * k per column; Gemm B [N, K] (transB=1) along its last axis, [K, N] along the first; Conv W
 * [O, I, kh, kw] along I at each (o, kh, kw); ConvTranspose W [I, O, kh, kw] along I. Ranking is by
 * |w|; biases are never touched (N:M is a property of the weight matrix). `sparsity`, `scope` and
 * `pruneBias` do not apply; the target sparsity is 1 - N/M. 8-bit quantized weights (MatMulInteger,
 * ConvInteger, DequantizeLinear codes) are ranked by |q - zp| * scale and pruned to their zero point,
 * with the same groups; MatMulNBits (packed 4-bit) is skipped.
 */
export function pruneNM(model: onnx.IModelProto, options: ResolvedPruneOptions): PruneResult {
  const { n, m } = options;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || m < 1 || n > m) {
    throw new ShrinkError('INVALID_ARGUMENT', `prune nm: need whole numbers 1 <= n <= m, got n=${n}, m=${m} (e.g. n=2, m=4)`);
  }
  return runUnstructured(
    model,
    options,
    false,
    (targets) => {
      for (const t of targets) pruneNMTensor(t.weight.values, t.weight.dims, t.axis, n, m);
    },
    {
      method: 'nm',
      targetSparsity: 1 - n / m,
      notes: [
        `${n}:${m} sparsity along each op's reduction axis; a group shorter than ${m} at the end of an axis keeps ceil(${n} * length / ${m})`,
        `onnxruntime runs ${n}:${m}-sparse weights with its dense kernels (no speed-up); the zeros pay off in the compressed (gzip) size of the model file, or on hardware with N:M sparse kernels`,
      ],
    },
  );
}
