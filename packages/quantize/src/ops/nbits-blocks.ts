/**
 * Blockwise weight quantization in onnxruntime's MatMulNBits layout (com.microsoft, ContribOperators.md;
 * MLAS BlockwiseQuantizer in q4_dq.cpp). For B [K, N] of a MatMul, each column n is cut along K into
 * n_blocks = ceil(K / block_size) blocks, each with its own scale (and zero point):
 *   B          uint8 [N, n_blocks, blob_size], blob_size = block_size * bits / 8, codes along K, lowest bits
 *              first (2-bit: four per byte; 4-bit: two, low nibble first; 8-bit: one)
 *   scales     [N, n_blocks]
 *   zero_points uint8 [N, ceil(n_blocks * bits / 8)] packed as B, or float [N, n_blocks] in the scales' type
 *              (HQQ), or absent: then every block's zero point is 2^(bits-1) (2, 8 or 128).
 * Dequantized weight: (code - zero_point) * scale.
 */
import { ShrinkError } from '@shrink/core';
import { chooseParams, refuseOverflow } from '../math/params.js';
import { roundHalfEven } from '../math/round.js';
import { nibbleAt } from '../pack.js';

/**
 * Bits of a MatMulNBits code as stored (the node's `bits` attribute). Measured 2026-12-03 with
 * onnxruntime-node 1.30.0 (x86-64 CPU provider) and onnxruntime-web 1.30.0 (WASM under Node), one
 * MatMulNBits node against a float64 dequantize-and-multiply reference:
 *   bits 2, 4: run with no zero points, uint8 zero points and float zero points, accuracy_level 0 and 4;
 *   bits 8:    run with no or uint8 zero points; float zero points fail at run time ("only 2b and 4b for
 *              unpacked compute") in both;
 *   bits 3:    refused when the session is created, in both ("Only 2b, 4b and 8b quantization is supported").
 * Float zero points take the float path even at accuracy_level 4 (onnxruntime-node's error was ~1e-7, the
 * int8-activation path's ~3e-3), so they trade the CPU's int8 kernel for HQQ's exact zero.
 */
export type NBits = 2 | 4 | 8;

/**
 * Levels of the grid weights are rounded to: 2^bits. 3 has no kernel (above), so its 8-level grid is
 * stored in 4-bit codes: the accuracy of 3 bits at the size of 4. That is what lets algorithms be compared
 * at 3 bits (GPTQ's gain over RTN is largest there); a file as small as 3 bits would need a kernel.
 */
export type GridBits = 2 | 3 | 4 | 8;

/** The stored code width of a grid. */
export function storedBits(bits: GridBits): NBits {
  return bits === 3 ? 4 : bits;
}

export interface BlockwiseWeights {
  /** Stored bits: MatMulNBits' `bits`. */
  bits: NBits;
  /** Grid bits when fewer than the stored ones (3 in 4-bit codes); absent: the same. */
  gridBits?: GridBits;
  blockSize: number;
  K: number;
  N: number;
  nBlocks: number;
  blobSize: number;
  /** uint8 [N, nBlocks, blobSize]. */
  packed: Uint8Array;
  /** [N, nBlocks]; may be negative (symmetric blocks take the sign of their largest magnitude). */
  scales: Float32Array;
  /**
   * uint8 [N, zeroPointBytes(nBlocks)] (packed codes), or float [N, nBlocks] in code units (HQQ: the
   * dequantized weight is (code - zp) * scale either way), or undefined for the default mid-code zero point.
   */
  zeroPoints?: Uint8Array | Float32Array;
}

/** How B is cut into blocks and coded. */
export interface BlockwiseOptions {
  bits: GridBits;
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

/**
 * The codes a grid uses inside its stored width. Symmetric grids sit around the stored mid code (the zero
 * point MatMulNBits assumes without a zero-point tensor): 3 bits in 4-bit codes use 4..11 around 8.
 * Asymmetric grids use 0..2^bits - 1 with their zero point among them.
 */
export interface BlockGrid {
  bits: GridBits;
  stored: NBits;
  symmetric: boolean;
  qmin: number;
  qmax: number;
  /** The stored mid code 2^(stored-1): the default zero point. */
  mid: number;
}

export function blockGrid(bits: GridBits, symmetric: boolean): BlockGrid {
  const stored = storedBits(bits);
  const mid = 1 << (stored - 1);
  const half = 1 << (bits - 1);
  return symmetric
    ? { bits, stored, symmetric, qmin: mid - half, qmax: mid + half - 1, mid }
    : { bits, stored, symmetric, qmin: 0, qmax: (1 << bits) - 1, mid };
}

const FLOAT32_TINY = 1.1754943508222875e-38;

/**
 * Round-to-nearest scale and zero point of a block spanning [lo, hi]. Symmetric follows MLAS: scale =
 * (the value of largest magnitude, with its sign) / -2^(bits-1), so that value lands exactly on the lowest
 * code and the whole grid is used. Asymmetric widens the range to include 0 (so 0 is exact) and spreads it
 * over the grid, as onnxruntime's compute_scale_zp (math/params.ts chooseParams, the same numbers for 4 and
 * 8 bits).
 */
export function blockParams(lo: number, hi: number, grid: BlockGrid): { scale: number; zeroPoint: number } {
  if (grid.symmetric) {
    const peak = Math.abs(hi) > Math.abs(lo) ? hi : lo;
    return { scale: Math.fround(peak / -(1 << (grid.bits - 1))), zeroPoint: grid.mid };
  }
  if (grid.bits === 4 || grid.bits === 8) return chooseParams(lo, hi, grid.bits === 4 ? 'uint4' : 'uint8', false);
  const rmin = Math.fround(Math.min(lo, 0));
  const rmax = Math.fround(Math.max(hi, 0));
  const scale64 = Math.fround(rmax - rmin) / grid.qmax;
  if (!(scale64 >= FLOAT32_TINY)) return { scale: 1, zeroPoint: 0 };
  const zp = roundHalfEven(-rmin / scale64);
  return { scale: Math.fround(scale64), zeroPoint: Math.min(grid.qmax, Math.max(0, zp)) };
}

/** The code of `v` under (scale, zero point), clamped to the grid. */
export function codeOf(v: number, scale: number, zeroPoint: number, grid: BlockGrid): number {
  if (scale === 0) return zeroPoint;
  const c = roundHalfEven(Math.fround(v * (1 / scale))) + zeroPoint;
  return c < grid.qmin ? grid.qmin : c > grid.qmax ? grid.qmax : c;
}

function checkShape(K: number, N: number, bits: number, blockSize: number): void {
  if (bits !== 2 && bits !== 3 && bits !== 4 && bits !== 8) {
    throw new ShrinkError('INVALID_ARGUMENT', `MatMulNBits bits must be 2, 3 (stored as 4), 4 or 8, got ${bits}`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new ShrinkError('INVALID_ARGUMENT', `MatMulNBits block size must be a power of two >= 16, got ${blockSize}`);
  }
  if (!Number.isInteger(K) || !Number.isInteger(N) || K < 1 || N < 1) {
    throw new ShrinkError('INVALID_ARGUMENT', `MatMulNBits weight must be [K, N] with K, N >= 1, got [${K}, ${N}]`);
  }
}

/**
 * Checks B [K, N] for every weight quantizer: the options, the value count, and finite weights (the range
 * of a block holding an infinity, and its scale, would be infinite).
 */
export function checkBlockwiseInput(b: Float32Array, K: number, N: number, opts: BlockwiseOptions): string {
  checkShape(K, N, opts.bits, opts.blockSize);
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
  return label;
}

/** ORs `bits`-wide codes into `out` from byte `offset`, lowest bits first (MatMulNBits' order for 2, 4 and 8 bits). */
function packCodesInto(codes: ArrayLike<number>, bits: NBits, out: Uint8Array, offset: number): void {
  if (bits === 8) {
    for (let i = 0; i < codes.length; i++) out[offset + i] = codes[i]!;
    return;
  }
  const per = 8 / bits;
  for (let i = 0; i < codes.length; i++) out[offset + Math.floor(i / per)]! |= codes[i]! << ((i % per) * bits);
}

/** Code `i` of `bits`-wide codes packed lowest bits first. */
export function codeAt(packed: Uint8Array, i: number, bits: NBits): number {
  if (bits === 8) return packed[i]!;
  if (bits === 4) return nibbleAt(packed, i);
  return (packed[i >> 2]! >> ((i & 3) * 2)) & 3;
}

/**
 * Blocks of codes chosen by any algorithm, in MatMulNBits' layout. `codes` is [N, nBlocks * blockSize]
 * (stored codes along K per column; the tail of a partial last block is overwritten with its zero point, so
 * it dequantizes to exactly 0 whatever the kernel does with it), `scales` [N, nBlocks], `zeroPoints`
 * [N, nBlocks] integer codes (packed here) or float code-unit zero points (kept as they are), or undefined
 * (symmetric: the mid code).
 */
export function packBlockwise(
  codes: Uint8Array,
  scales: Float32Array,
  zeroPoints: Uint8Array | Float32Array | undefined,
  shape: { K: number; N: number; blockSize: number; bits: GridBits },
): BlockwiseWeights {
  const { K, N, blockSize } = shape;
  const bits = storedBits(shape.bits);
  const nBlocks = Math.ceil(K / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const mid = 1 << (bits - 1);
  const packed = new Uint8Array(N * nBlocks * blobSize);
  const tail = K - (nBlocks - 1) * blockSize;
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const s = n * nBlocks + blk;
      const block = codes.subarray(s * blockSize, (s + 1) * blockSize);
      if (blk === nBlocks - 1 && tail < blockSize) {
        const zp = zeroPoints instanceof Uint8Array ? zeroPoints[s]! : zeroPoints ? Math.round(zeroPoints[s]!) : mid;
        block.fill(Math.min(Math.max(zp, 0), (1 << bits) - 1), tail);
      }
      packCodesInto(block, bits, packed, s * blobSize);
    }
  }
  const grid = shape.bits !== bits ? { gridBits: shape.bits } : {};
  const base = { bits, ...grid, blockSize, K, N, nBlocks, blobSize, packed, scales };
  if (!zeroPoints) return base;
  if (zeroPoints instanceof Float32Array) return { ...base, zeroPoints };
  // An incomplete last byte of a column's zero points gets the default zero point, as in MLAS.
  const zpBytes = zeroPointBytes(nBlocks, bits);
  const zp = new Uint8Array(N * zpBytes);
  const perByte = 8 / bits;
  for (let n = 0; n < N; n++) {
    const column = Array.from({ length: zpBytes * perByte }, (_, blk) => (blk < nBlocks ? zeroPoints[n * nBlocks + blk]! : mid));
    packCodesInto(column, bits, zp, n * zpBytes);
  }
  return { ...base, zeroPoints: zp };
}

/**
 * Round to nearest, block by block along K of B [K, N] (row-major, as a MatMul's second input): each
 * block's values on the grid blockParams puts over its min/max (or largest magnitude). Non-finite weights
 * are refused.
 */
export function quantizeBlockwise(b: Float32Array, K: number, N: number, opts: BlockwiseOptions): BlockwiseWeights {
  const { blockSize, symmetric } = opts;
  const label = checkBlockwiseInput(b, K, N, opts);
  const grid = blockGrid(opts.bits, symmetric);
  const type = grid.stored === 8 ? 'uint8' : 'uint4';
  const nBlocks = Math.ceil(K / blockSize);
  const codes = new Uint8Array(N * nBlocks * blockSize);
  const scales = new Float32Array(N * nBlocks);
  const zps = symmetric ? undefined : new Uint8Array(N * nBlocks);
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
      const { scale, zeroPoint } = blockParams(lo, hi, grid);
      refuseOverflow(`${label} block ${blk} of column ${n}`, lo, hi, scale, zeroPoint, type, false);
      const s = n * nBlocks + blk;
      scales[s] = scale;
      if (zps) zps[s] = zeroPoint;
      const base = s * blockSize;
      for (let k = k0; k < k1; k++) codes[base + k - k0] = codeOf(b[k * N + n]!, scale, zeroPoint, grid);
    }
  }
  return packBlockwise(codes, scales, zps, { K, N, blockSize, bits: opts.bits });
}

/** Zero point of block `blk` of column `n`. */
function zeroPointOf(w: BlockwiseWeights, n: number, blk: number): number {
  if (!w.zeroPoints) return 1 << (w.bits - 1);
  if (w.zeroPoints instanceof Float32Array) return w.zeroPoints[n * w.nBlocks + blk]!;
  const row = n * zeroPointBytes(w.nBlocks, w.bits);
  return codeAt(w.zeroPoints.subarray(row), blk, w.bits);
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
        const code = codeAt(w.packed.subarray(base), j, bits);
        out[k * N + n] = (code - zp) * scale;
      }
    }
  }
  return out;
}
