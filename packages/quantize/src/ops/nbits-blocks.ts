/**
 * Blockwise weight quantization in onnxruntime's MatMulNBits layout (com.microsoft, ContribOperators.md;
 * MLAS BlockwiseQuantizer in q4_dq.cpp). For B [K, N] of a MatMul, each column n is cut along K into
 * n_blocks = ceil(K / block_size) blocks, each with its own scale (and zero point):
 *   B          uint8 [N, n_blocks, blob_size], blob_size = block_size * bits / 8, codes along K, low nibble first
 *   scales     [N, n_blocks]
 *   zero_points uint8 [N, ceil(n_blocks * bits / 8)] (4-bit: two per byte, low nibble first), or absent:
 *              then every block's zero point is 2^(bits-1) (8 or 128).
 * Dequantized weight: (code - zero_point) * scale.
 */
import { ShrinkError } from '@shrink/core';
import { chooseParams, refuseOverflow } from '../math/params.js';
import { roundHalfEven } from '../math/round.js';
import { nibbleAt, packInt4Into } from '../pack.js';

export type NBits = 4 | 8;

export interface BlockwiseWeights {
  bits: NBits;
  blockSize: number;
  K: number;
  N: number;
  nBlocks: number;
  blobSize: number;
  /** uint8 [N, nBlocks, blobSize]. */
  packed: Uint8Array;
  /** [N, nBlocks]; may be negative (symmetric blocks take the sign of their largest magnitude). */
  scales: Float32Array;
  /** uint8 [N, zeroPointBytes(nBlocks)], or undefined for the default mid-code zero point. */
  zeroPoints?: Uint8Array;
}

/** How B is cut into blocks and coded. */
export interface BlockwiseOptions {
  bits: NBits;
  blockSize: number;
  /** No zero points: every block's zero point is the mid code. */
  symmetric: boolean;
  /** The tensor errors name. */
  name?: string;
}

/** Bytes of one column's packed zero points. */
export function zeroPointBytes(nBlocks: number, bits: NBits): number {
  return Math.ceil((nBlocks * bits) / 8);
}

function checkShape(K: number, N: number, bits: number, blockSize: number): void {
  if (bits !== 4 && bits !== 8) throw new ShrinkError('INVALID_ARGUMENT', `MatMulNBits bits must be 4 or 8, got ${bits}`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new ShrinkError('INVALID_ARGUMENT', `MatMulNBits block size must be a power of two >= 16, got ${blockSize}`);
  }
  if (!Number.isInteger(K) || !Number.isInteger(N) || K < 1 || N < 1) {
    throw new ShrinkError('INVALID_ARGUMENT', `MatMulNBits weight must be [K, N] with K, N >= 1, got [${K}, ${N}]`);
  }
}

/**
 * Quantizes B [K, N] (row-major, as a MatMul's second input) block by block along K.
 * Symmetric blocks follow MLAS: scale = (the value of largest magnitude, with its sign) / -2^(bits-1),
 * so that value lands exactly on code 0 and the whole [-8, 7] (or [-128, 127]) grid is used; zero point
 * 2^(bits-1) and no zero-point tensor. Asymmetric blocks use the range widened to include 0 (chooseParams)
 * with a stored zero point. The tail of a last partial block is filled with the zero-point code, so it
 * dequantizes to exactly 0 whatever the kernel does with it. Non-finite weights are refused.
 */
export function quantizeBlockwise(b: Float32Array, K: number, N: number, opts: BlockwiseOptions): BlockwiseWeights {
  const { bits, blockSize, symmetric } = opts;
  checkShape(K, N, bits, blockSize);
  const label = opts.name ? `tensor '${opts.name}'` : 'weight tensor';
  if (b.length !== K * N) {
    throw new ShrinkError('INVALID_ARGUMENT', `${label}: [${K}, ${N}] holds ${K * N} values but ${b.length} were given`);
  }
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i]!)) {
      throw new ShrinkError(
        'INVALID_MODEL',
        `${label} holds ${b[i]} at flat index ${i}; integer quantization needs finite weights (the range and its scale would be infinite)`,
      );
    }
  }
  const nBlocks = Math.ceil(K / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const packed = new Uint8Array(N * nBlocks * blobSize);
  const scales = new Float32Array(N * nBlocks);
  const zpBytes = zeroPointBytes(nBlocks, bits);
  const zeroPoints = symmetric ? undefined : new Uint8Array(N * zpBytes);
  const codes = new Uint8Array(blockSize);
  const columnZps = new Uint8Array(nBlocks);
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const k0 = blk * blockSize;
      const k1 = Math.min(k0 + blockSize, K);
      let lo = Infinity;
      let hi = -Infinity;
      for (let k = k0; k < k1; k++) {
        const v = b[k * N + n]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let scale: number;
      let zp: number;
      if (symmetric) {
        const peak = Math.abs(hi) > Math.abs(lo) ? hi : lo;
        scale = Math.fround(peak / -mid);
        zp = mid;
      } else {
        const p = chooseParams(lo, hi, bits === 4 ? 'uint4' : 'uint8', false);
        scale = p.scale;
        zp = p.zeroPoint;
      }
      if (lo <= hi) refuseOverflow(`${label} block ${blk} of column ${n}`, lo, hi, scale, zp, bits === 4 ? 'uint4' : 'uint8', false);
      const s = blk + n * nBlocks;
      scales[s] = scale;
      const inv = scale === 0 ? 0 : 1 / scales[s];
      codes.fill(zp);
      for (let k = k0; k < k1; k++) {
        const c = roundHalfEven(Math.fround(b[k * N + n]! * inv)) + zp;
        codes[k - k0] = c < 0 ? 0 : c > qmax ? qmax : c;
      }
      const base = s * blobSize;
      if (bits === 8) packed.set(codes, base);
      else packInt4Into(codes, packed, base);
      columnZps[blk] = zp;
    }
    if (zeroPoints) {
      // An odd block count leaves one spare nibble per column: it gets the default zero point, as in MLAS.
      if (bits === 8) zeroPoints.set(columnZps, n * zpBytes);
      else packInt4Into(columnZps, zeroPoints, n * zpBytes, mid);
    }
  }
  return zeroPoints
    ? { bits, blockSize, K, N, nBlocks, blobSize, packed, scales, zeroPoints }
    : { bits, blockSize, K, N, nBlocks, blobSize, packed, scales };
}

/** Zero point of block `blk` of column `n`. */
function zeroPointOf(w: BlockwiseWeights, n: number, blk: number): number {
  if (!w.zeroPoints) return 1 << (w.bits - 1);
  const row = n * zeroPointBytes(w.nBlocks, w.bits);
  if (w.bits === 8) return w.zeroPoints[row + blk]!;
  return nibbleAt(w.zeroPoints.subarray(row), blk);
}

/** The float32 weight [K, N] the packed blocks stand for: (code - zero_point) * scale, as MatMulNBits reads it. */
export function dequantizeBlockwise(w: BlockwiseWeights): Float32Array {
  const { K, N, nBlocks, blobSize, blockSize, bits } = w;
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const s = n * nBlocks + blk;
      const scale = w.scales[s]!;
      const zp = zeroPointOf(w, n, blk);
      const base = s * blobSize;
      const k0 = blk * blockSize;
      const k1 = Math.min(k0 + blockSize, K);
      for (let k = k0; k < k1; k++) {
        const j = k - k0;
        const code = bits === 8 ? w.packed[base + j]! : nibbleAt(w.packed, 2 * base + j);
        out[k * N + n] = (code - zp) * scale;
      }
    }
  }
  return out;
}
