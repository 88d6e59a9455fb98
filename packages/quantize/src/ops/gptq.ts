/**
 * GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
 * Transformers"): quantizes a MatMul's weight one input row at a time, and pushes each row's rounding error
 * onto the rows not yet quantized, weighted by the inverse Hessian of the layer's output error. With
 * X [tokens, K] the calibration activations feeding the MatMul, the output error of B [K, N] is
 * ||X B - X B'||^2, whose Hessian in each column of B is H = 2 X^T X / tokens (K x K). In MatMulNBits'
 * layout the paper's "columns" are the K rows of B, and its groups are MatMulNBits' blocks along K, so
 * each block's scale and zero point are chosen (round-to-nearest style) from the updated weights when
 * the first row of the block is reached.
 *
 * As in the paper: damping (1 % of H's mean diagonal added to the diagonal), the upper Cholesky factor U
 * of H^-1 (U[i, i] scales row i's error, U[i, j > i] spreads it), and lazy batches: errors inside a batch
 * of rows are applied row by row, to the rows after the batch once per batch. The batch is 128 rows, or
 * the block size when larger, so no block straddles two batches and every block's parameters see all
 * the updates before it. Activation order (quantizing large-diagonal rows first) is not done: with
 * MatMulNBits' contiguous blocks it would need g_idx, which onnxruntime's CPU kernel handles only on a
 * slow path.
 *
 * Dead inputs (H[i, i] = 0: the calibration never fed that input anything but 0) get H[i, i] = 1 and are
 * rounded to nearest with no error feedback. The paper zeroes their weights; calibration that never
 * exercises an input is no evidence the input is always 0, so their weights are kept.
 */
import { ShrinkError } from '@shrink/core';
import {
  blockGrid,
  blockParams,
  checkBlockwiseInput,
  codeOf,
  packBlockwise,
  type BlockwiseOptions,
  type BlockwiseWeights,
} from './nbits-blocks.js';

export interface GptqOptions {
  /** Damping as a fraction of the mean diagonal of H. */
  percDamp?: number;
  /** Rows per lazy batch (raised to the block size when smaller). */
  batch?: number;
}

/**
 * The upper Cholesky factor U of H^-1 (H^-1 = U^T U), H symmetric positive definite [K, K] row-major, in
 * float64; undefined when H is not positive definite. H = L L^T, H^-1 = L^-T L^-1, then U by Cholesky of
 * that: three K^3/3-ish loops, each over contiguous rows (L, L^-1 kept transposed, U).
 */
export function inverseCholeskyUpper(h: Float64Array, K: number): Float64Array | undefined {
  // L: lower Cholesky of H.
  const L = new Float64Array(K * K);
  for (let j = 0; j < K; j++) {
    const rj = j * K;
    let d = h[rj + j]!;
    for (let p = 0; p < j; p++) d -= L[rj + p]! * L[rj + p]!;
    if (!(d > 0)) return undefined;
    const ljj = Math.sqrt(d);
    L[rj + j] = ljj;
    for (let i = j + 1; i < K; i++) {
      const ri = i * K;
      let s = h[ri + j]!;
      for (let p = 0; p < j; p++) s -= L[ri + p]! * L[rj + p]!;
      L[ri + j] = s / ljj;
    }
  }
  // Mt = (L^-1)^T, upper: row c of Mt is column c of L^-1, by forward substitution.
  const Mt = new Float64Array(K * K);
  for (let c = 0; c < K; c++) {
    const rc = c * K;
    Mt[rc + c] = 1 / L[rc + c]!;
    for (let i = c + 1; i < K; i++) {
      const ri = i * K;
      let s = 0;
      for (let p = c; p < i; p++) s += L[ri + p]! * Mt[rc + p]!;
      Mt[rc + i] = -s / L[ri + i]!;
    }
  }
  // H^-1 = Mt Mt^T: entry (i, j) sums over p >= max(i, j), where both rows are non-zero.
  const Hinv = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    const ri = i * K;
    for (let j = i; j < K; j++) {
      const rj = j * K;
      let s = 0;
      for (let p = j; p < K; p++) s += Mt[ri + p]! * Mt[rj + p]!;
      Hinv[ri + j] = s;
    }
  }
  // U: upper Cholesky of H^-1 (only its upper triangle is read), built row by row.
  const U = new Float64Array(K * K);
  const col = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    const ri = i * K;
    // col[p] = U[p][i] for p < i: the column above the diagonal.
    for (let p = 0; p < i; p++) col[p] = U[p * K + i]!;
    let d = Hinv[ri + i]!;
    for (let p = 0; p < i; p++) d -= col[p]! * col[p]!;
    if (!(d > 0)) return undefined;
    const uii = Math.sqrt(d);
    U[ri + i] = uii;
    for (let j = i + 1; j < K; j++) U[ri + j] = Hinv[ri + j]!;
    for (let p = 0; p < i; p++) {
      const c = col[p]!;
      if (c === 0) continue;
      const rp = p * K;
      for (let j = i + 1; j < K; j++) U[ri + j] = U[ri + j]! - c * U[rp + j]!;
    }
    for (let j = i + 1; j < K; j++) U[ri + j] = U[ri + j]! / uii;
  }
  return U;
}

/**
 * GPTQ blocks of B [K, N] (row-major, as a MatMul's second input) given the Hessian `hessian` [K, K] of
 * its input activations (any positive multiple of X^T X: damping is relative).
 */
export function quantizeGptq(
  b: Float32Array,
  K: number,
  N: number,
  opts: BlockwiseOptions,
  hessian: Float64Array,
  gptq: GptqOptions = {},
): BlockwiseWeights {
  const label = checkBlockwiseInput(b, K, N, opts);
  if (hessian.length !== K * K) {
    throw new ShrinkError('INVALID_ARGUMENT', `${label}: GPTQ needs a ${K}x${K} Hessian, got ${hessian.length} values`);
  }
  const { blockSize, symmetric } = opts;
  const grid = blockGrid(opts.bits, symmetric);
  const H = Float64Array.from(hessian);
  let meanDiag = 0;
  for (let i = 0; i < K; i++) {
    if (!(H[i * K + i]! > 0)) {
      // A dead input: decoupled from the others, rounded to nearest.
      for (let j = 0; j < K; j++) H[i * K + j] = H[j * K + i] = 0;
      H[i * K + i] = 1;
    }
    meanDiag += H[i * K + i]!;
  }
  meanDiag /= K;
  let damp = (gptq.percDamp ?? 0.01) * meanDiag;
  let U: Float64Array | undefined;
  // Rank-deficient X^T X (fewer tokens than K, collinear inputs) is what damping is for; more of it if the
  // 1 % is not enough for float64 Cholesky.
  for (let attempt = 0; attempt < 6 && !U; attempt++, damp *= 10) {
    const Hd = Float64Array.from(H);
    for (let i = 0; i < K; i++) Hd[i * K + i] = Hd[i * K + i]! + damp;
    U = inverseCholeskyUpper(Hd, K);
  }
  if (!U) {
    throw new ShrinkError('INVALID_DATA', `${label}: the calibration Hessian is not positive definite even with damping; use algo rtn`);
  }

  const W = Float64Array.from(b);
  const nBlocks = Math.ceil(K / blockSize);
  const codes = new Uint8Array(N * nBlocks * blockSize);
  const scales = new Float32Array(N * nBlocks);
  const zps = symmetric ? undefined : new Uint8Array(N * nBlocks);
  const batch = Math.max(gptq.batch ?? 128, blockSize);
  const err = new Float64Array(batch * N);
  for (let i1 = 0; i1 < K; i1 += batch) {
    const i2 = Math.min(i1 + batch, K);
    for (let i = i1; i < i2; i++) {
      const blk = Math.floor(i / blockSize);
      if (i % blockSize === 0) {
        // The block's parameters from the weights as updated so far (all its rows are in this batch).
        const k1 = Math.min(i + blockSize, K);
        for (let n = 0; n < N; n++) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let k = i; k < k1; k++) {
            const v = Math.fround(W[k * N + n]!);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          const p = blockParams(lo, hi, grid);
          scales[n * nBlocks + blk] = p.scale;
          if (zps) zps[n * nBlocks + blk] = p.zeroPoint;
        }
      }
      const d = U[i * K + i]!;
      const e = err.subarray((i - i1) * N, (i - i1 + 1) * N);
      for (let n = 0; n < N; n++) {
        const s = n * nBlocks + blk;
        const scale = scales[s]!;
        const zp = zps ? zps[s]! : grid.mid;
        const w = W[i * N + n]!;
        const c = codeOf(w, scale, zp, grid);
        codes[s * blockSize + (i - blk * blockSize)] = c;
        e[n] = (w - (c - zp) * scale) / d;
      }
      // The rest of the batch now; rows after it once per batch.
      for (let j = i + 1; j < i2; j++) {
        const u = U[i * K + j]!;
        if (u === 0) continue;
        const row = j * N;
        for (let n = 0; n < N; n++) W[row + n] = W[row + n]! - u * e[n]!;
      }
    }
    for (let j = i2; j < K; j++) {
      const row = j * N;
      for (let i = i1; i < i2; i++) {
        const u = U[i * K + j]!;
        if (u === 0) continue;
        const e = (i - i1) * N;
        for (let n = 0; n < N; n++) W[row + n] = W[row + n]! - u * err[e + n]!;
      }
    }
  }
  return packBlockwise(codes, scales, zps, { K, N, blockSize, bits: opts.bits });
}
