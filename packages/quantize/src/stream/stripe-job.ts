/**
 * One piece of a streamed MatMulNBits weight: columns n0..n1 of B [K, N] read from where the weight is
 * stored and quantized by the chosen algorithm. MatMulNBits blocks run along K inside one column, so a
 * stripe of whole columns quantizes to exactly the rows n0..n1 of the whole weight's codes, scales and
 * zero points: stripes bound memory without changing a byte. Runs in a worker thread or in the caller's.
 */
import { readFully, withFileSync } from '@shrink/core/io';
import { transpose } from '../math/transpose.js';
import type { GridBits } from '../ops/nbits-blocks.js';
import { WEIGHT_QUANTIZERS, type WeightAlgo } from '../ops/weight-quantizers.js';

/** Where a weight's float32 bytes are: a range of an external data file, or raw_data held in memory. */
export type StripeSource = { readonly file: string; readonly offset: number } | { readonly bytes: Uint8Array };

export interface StripeJob {
  readonly source: StripeSource;
  /** How the bytes are laid out: [K, N] (MatMul, Gemm transB=0) or [N, K] (Gemm transB=1). */
  readonly layout: 'KN' | 'NK';
  readonly K: number;
  readonly N: number;
  /** Columns n0 <= n < n1 of B as the node reads it. */
  readonly n0: number;
  readonly n1: number;
  /** Gemm's alpha, folded into the weight (1: none). */
  readonly alpha: number;
  readonly algo: Exclude<WeightAlgo, 'gptq'>;
  readonly bits: GridBits;
  readonly blockSize: number;
  readonly symmetric: boolean;
  /** The weight's tensor name, for errors. */
  readonly name: string;
}

export interface StripeResult {
  /** uint8 [n1 - n0, nBlocks, blobSize]. */
  packed: Uint8Array;
  /** [n1 - n0, nBlocks]. */
  scales: Float32Array;
  /** uint8 [n1 - n0, zeroPointBytes] or float [n1 - n0, nBlocks]; absent for symmetric blocks. */
  zeroPoints?: Uint8Array | Float32Array;
}

/** B[:, n0:n1] as a row-major [K, n1 - n0] float32 matrix, scaled by alpha; reads only those bytes. */
export function readStripe(job: StripeJob): Float32Array {
  const { K, N, n0, n1, layout } = job;
  const w = n1 - n0;
  const out = new Float32Array(K * w);
  const bytes = new Uint8Array(out.buffer);
  const rowBytes = w * 4;
  const src = job.source;
  if ('bytes' in src) {
    const all = new Float32Array(src.bytes.buffer.slice(src.bytes.byteOffset, src.bytes.byteOffset + K * N * 4));
    if (layout === 'NK') out.set(all.subarray(n0 * K, n1 * K));
    else for (let k = 0; k < K; k++) out.set(all.subarray(k * N + n0, k * N + n1), k * w);
  } else {
    withFileSync(src.file, (fd) => {
      // [N, K] rows n0..n1 and whole [K, N] tensors are one contiguous range; a column stripe of [K, N] is one range per row.
      if (layout === 'NK') readFully(fd, bytes, 0, w * K * 4, src.offset + n0 * K * 4, src.file);
      else if (w === N) readFully(fd, bytes, 0, K * N * 4, src.offset, src.file);
      else for (let k = 0; k < K; k++) readFully(fd, bytes, k * rowBytes, rowBytes, src.offset + (k * N + n0) * 4, src.file);
    });
  }
  const b = layout === 'NK' ? transpose(out, w, K) : out;
  // As planWeight does: the product rounded to float32 in the array.
  if (job.alpha !== 1) for (let i = 0; i < b.length; i++) b[i] = b[i]! * job.alpha;
  return b;
}

/** Reads and quantizes one stripe with the algorithm's own quantizer (nothing of the math is repeated here). */
export function quantizeStripe(job: StripeJob): StripeResult {
  const b = readStripe(job);
  const w = job.n1 - job.n0;
  const q = WEIGHT_QUANTIZERS[job.algo](b, job.K, w, {
    bits: job.bits,
    blockSize: job.blockSize,
    symmetric: job.symmetric,
    name: job.name,
  });
  return { packed: q.packed, scales: q.scales, ...(q.zeroPoints ? { zeroPoints: q.zeroPoints } : {}) };
}
