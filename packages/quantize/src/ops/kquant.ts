/**
 * A k-quant-style scale search (llama.cpp's make_qx_quants / make_qkx quants; onnxruntime's k_quant
 * MatMulNBits quantizer follows the same recipe), needing no data: round to nearest spends the whole grid
 * on a block's extremes, so one outlier coarsens every other value. Here each block tries a range of
 * grids slightly narrower and wider than its min/max, and for the codes each grid gives, solves the
 * scale (and offset) by weighted least squares; the pair with the smallest weighted squared error wins.
 * Weights are |w| + rms(block), as in both references: large values count more, small ones are not free.
 *
 * Symmetric blocks keep the mid zero point MatMulNBits assumes without zero points (and its int8 kernel);
 * asymmetric blocks store an integer zero point, so unlike HQQ's float ones they run on the int8
 * (accuracy_level 4) path and GatherBlockQuantized can read them.
 */
import { checkBlockwiseInput, blockGrid, codeOf, packBlockwise, type BlockwiseOptions, type BlockwiseWeights } from './nbits-blocks.js';

/** Grids tried: the min/max grid's level count changed by -1.0, -0.9, ..., +0.9 (both references' steps). */
const STEPS = 20;
const FIRST = -1;
const DELTA = 0.1;

/** k-quant blocks of B [K, N] (row-major, as a MatMul's second input) in MatMulNBits' layout. */
export function quantizeKQuant(b: Float32Array, K: number, N: number, opts: BlockwiseOptions): BlockwiseWeights {
  checkBlockwiseInput(b, K, N, opts);
  const { blockSize, symmetric } = opts;
  const grid = blockGrid(opts.bits, symmetric);
  const nBlocks = Math.ceil(K / blockSize);
  const codes = new Uint8Array(N * nBlocks * blockSize);
  const scales = new Float32Array(N * nBlocks);
  const zps = symmetric ? undefined : new Uint8Array(N * nBlocks);
  const x = new Float64Array(blockSize);
  const wt = new Float64Array(blockSize);
  const q = new Int32Array(blockSize);
  const fit = { scale: 0, zeroPoint: 0 };
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const k0 = blk * blockSize;
      const len = Math.min(blockSize, K - k0);
      let sq = 0;
      for (let j = 0; j < len; j++) {
        x[j] = b[(k0 + j) * N + n]!;
        sq += x[j]! * x[j]!;
      }
      const rms = Math.sqrt(sq / len);
      for (let j = 0; j < len; j++) wt[j] = rms + Math.abs(x[j]!);
      const s = n * nBlocks + blk;
      const base = s * blockSize;
      if (symmetric) {
        const scale = searchSymmetric(x, wt, len, 1 << (grid.bits - 1), q);
        scales[s] = Math.fround(scale);
        for (let j = 0; j < len; j++) codes[base + j] = codeOf(x[j]!, scales[s], grid.mid, grid);
      } else {
        searchAsymmetric(x, wt, len, grid.qmax, q, fit);
        const scale = Math.fround(fit.scale);
        const zp = fit.zeroPoint;
        scales[s] = scale;
        zps![s] = zp;
        for (let j = 0; j < len; j++) codes[base + j] = codeOf(x[j]!, scale, zp, grid);
      }
    }
  }
  return packBlockwise(codes, scales, zps, { K, N, blockSize, bits: opts.bits });
}

/**
 * The scale of a symmetric block: levels -half..half-1 times the scale. Starts from MLAS' grid (the value of
 * largest magnitude on the lowest level, so its sign sets the scale's) and tries grids whose reach is that
 * value over -(half + FIRST + i * DELTA); each grid's codes get their least-squares scale.
 */
function searchSymmetric(x: Float64Array, wt: Float64Array, len: number, half: number, q: Int32Array): number {
  let peak = 0;
  for (let j = 0; j < len; j++) if (Math.abs(x[j]!) > Math.abs(peak)) peak = x[j]!;
  // A block of zeros: any scale is exact.
  if (peak === 0) return 1;
  let bestScale = peak / -half;
  let best = weightedError(x, wt, len, (j) => clampCode(Math.round(x[j]! / bestScale), -half, half - 1) * bestScale);
  for (let i = 0; i < STEPS; i++) {
    const inv = -(half + FIRST + i * DELTA) / peak;
    let sxl = 0;
    let sll = 0;
    for (let j = 0; j < len; j++) {
      const l = clampCode(Math.round(x[j]! * inv), -half, half - 1);
      q[j] = l;
      sxl += wt[j]! * x[j]! * l;
      sll += wt[j]! * l * l;
    }
    if (!(sll > 0)) continue;
    const scale = sxl / sll;
    // Judged as it will be stored: every value coded again on the grid of the fitted scale.
    const err = weightedError(x, wt, len, (j) => clampCode(Math.round(x[j]! / scale), -half, half - 1) * scale);
    if (err < best) {
      best = err;
      bestScale = scale;
    }
  }
  return bestScale;
}

/**
 * Scale and integer zero point of an asymmetric block (value = (code - zp) * scale, codes 0..qmax): the min/max grid
 * (widened to 0), then grids of qmax + FIRST + i * DELTA levels over the same range, each grid's codes given the
 * least-squares (scale, offset) pair.
 */
function searchAsymmetric(
  x: Float64Array,
  wt: Float64Array,
  len: number,
  qmax: number,
  q: Int32Array,
  out: { scale: number; zeroPoint: number },
): void {
  // The range holds 0, as round to nearest's does: the zero point is a code, so a block far from 0 (all
  // values in [5, 6]) would otherwise need one outside the grid.
  let lo = 0;
  let hi = 0;
  for (let j = 0; j < len; j++) {
    if (x[j]! < lo) lo = x[j]!;
    if (x[j]! > hi) hi = x[j]!;
  }
  if (hi === lo) {
    // All zeros: exact with any scale.
    Object.assign(out, { scale: 1, zeroPoint: 0 });
    return;
  }
  const range = hi - lo;
  // Judged as it will be stored: an integer zero point, every value coded again on that grid.
  const stored = (scale: number, offset: number): { zp: number; err: number } => {
    const zp = clampCode(Math.round(-offset / scale), 0, qmax);
    return { zp, err: weightedError(x, wt, len, (j) => (clampCode(Math.round(x[j]! / scale) + zp, 0, qmax) - zp) * scale) };
  };
  let bestScale = range / qmax;
  let best = stored(bestScale, lo);
  let sw = 0;
  let sx = 0;
  for (let j = 0; j < len; j++) {
    sw += wt[j]!;
    sx += wt[j]! * x[j]!;
  }
  for (let i = 0; i < STEPS; i++) {
    const inv = (qmax + FIRST + i * DELTA) / range;
    let sl = 0;
    let sll = 0;
    let sxl = 0;
    for (let j = 0; j < len; j++) {
      const l = clampCode(Math.round((x[j]! - lo) * inv), 0, qmax);
      q[j] = l;
      sl += wt[j]! * l;
      sll += wt[j]! * l * l;
      sxl += wt[j]! * x[j]! * l;
    }
    const d = sw * sll - sl * sl;
    if (!(d > 0)) continue;
    const scale = (sw * sxl - sx * sl) / d;
    const offset = (sll * sx - sl * sxl) / d;
    if (!(scale > 0)) continue;
    const trial = stored(scale, offset);
    if (trial.err < best.err) {
      best = trial;
      bestScale = scale;
    }
  }
  out.scale = bestScale;
  out.zeroPoint = best.zp;
}

function clampCode(c: number, lo: number, hi: number): number {
  return c < lo ? lo : c > hi ? hi : c;
}

function weightedError(x: Float64Array, wt: Float64Array, len: number, value: (j: number) => number): number {
  let e = 0;
  for (let j = 0; j < len; j++) {
    const d = value(j) - x[j]!;
    e += wt[j]! * d * d;
  }
  return e;
}
