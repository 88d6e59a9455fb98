/**
 * HQQ, half-quadratic quantization (Badri & Shaji 2023), needs no data: each block keeps the scale its
 * min/max gives and moves its zero point to minimise an lp norm (p < 1) of the weight error, which
 * tolerates a few large errors in exchange for many small ones (heavy-tailed weight errors matter less
 * than a uniformly worse grid). The solver alternates two closed forms:
 *   e    = shrink_p(w - dequant(w; z), beta)   (proximal step of |e|^p: small errors go to 0)
 *   z    = mean(code(w; z) - (w - e) / scale)  (least squares zero point given the sparse error)
 * with beta growing by kappa each round, stopping when the mean absolute error stops falling. Constants
 * are HQQ's (and onnxruntime's HQQ quantizer's): p 0.7, beta 10, kappa 1.01, 20 rounds.
 *
 * The zero point stays a float in code units, as HQQ's (MatMulNBits takes float zero points in the scales'
 * type for 2- and 4-bit codes; see nbits-blocks.ts for what was measured). 8-bit codes have no float-zero
 * kernel, so there the zero point is rounded every round (HQQ's round_zero) and stored as a code. HQQ is
 * asymmetric by construction: blocks always carry a zero point.
 */
import { checkBlockwiseInput, blockGrid, packBlockwise, type BlockwiseOptions, type BlockwiseWeights } from './nbits-blocks.js';

export interface HqqOptions {
  /** The p of the lp norm minimised (< 1: sparse errors are cheap). */
  lpNorm?: number;
  beta?: number;
  kappa?: number;
  iterations?: number;
}

const DEFAULTS: Required<HqqOptions> = { lpNorm: 0.7, beta: 10, kappa: 1.01, iterations: 20 };

/** HQQ blocks of B [K, N] (row-major, as a MatMul's second input) in MatMulNBits' layout. */
export function quantizeHqq(b: Float32Array, K: number, N: number, opts: BlockwiseOptions, hqq: HqqOptions = {}): BlockwiseWeights {
  checkBlockwiseInput(b, K, N, opts);
  const { lpNorm, beta: beta0, kappa, iterations } = { ...DEFAULTS, ...hqq };
  const { blockSize } = opts;
  const grid = blockGrid(opts.bits, false);
  const qmax = grid.qmax;
  const integerZero = grid.stored === 8;
  const nBlocks = Math.ceil(K / blockSize);
  const codes = new Uint8Array(N * nBlocks * blockSize);
  const scales = new Float32Array(N * nBlocks);
  const floatZps = new Float32Array(N * nBlocks);
  const w = new Float64Array(blockSize);
  const q = new Float64Array(blockSize);
  const quantizeWith = (inv: number, z: number, len: number): void => {
    for (let j = 0; j < len; j++) {
      const c = Math.round(w[j]! * inv + z);
      q[j] = c < 0 ? 0 : c > qmax ? qmax : c;
    }
  };
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const k0 = blk * blockSize;
      const len = Math.min(blockSize, K - k0);
      let lo = Infinity;
      let hi = -Infinity;
      for (let j = 0; j < len; j++) {
        const v = b[(k0 + j) * N + n]!;
        w[j] = v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      // An integer zero point starts where round to nearest does, the range widened to 0 (a flat block of
      // 0.25 would otherwise have no code for itself).
      if (integerZero) {
        lo = Math.min(lo, 0);
        hi = Math.max(hi, 0);
      }
      // Inverse scale (codes per unit). A flat block: any scale is exact with a float zero point, 1 as
      // onnxruntime's HQQ; the cap keeps a near-flat block's scale a normal float.
      const range = hi - lo;
      const inv = range > 0 ? Math.min(qmax / range, 1e30) : 1;
      let z = -lo * inv;
      if (integerZero) z = Math.round(z);
      let bestZ = z;
      let best = Infinity;
      let beta = beta0;
      for (let it = 0; it < iterations; it++) {
        quantizeWith(inv, z, len);
        let err = 0;
        let sum = 0;
        for (let j = 0; j < len; j++) {
          const r = (q[j]! - z) / inv;
          const d = w[j]! - r;
          err += Math.abs(d);
          const a = Math.abs(d);
          // shrink_p(d) = sign(d) * max(|d| - |d|^(p-1) / beta, 0); d = 0 stays 0.
          const e = a === 0 ? 0 : Math.sign(d) * Math.max(a - Math.pow(a, lpNorm - 1) / beta, 0);
          sum += q[j]! - (w[j]! - e) * inv;
        }
        err /= len;
        if (err < best) {
          best = err;
          bestZ = z;
        } else break;
        z = sum / len;
        if (integerZero) z = Math.round(z);
        beta *= kappa;
      }
      // The last zero point may be a step past the best one: keep the best, and code with it.
      quantizeWith(inv, bestZ, len);
      const s = n * nBlocks + blk;
      scales[s] = Math.fround(1 / inv);
      floatZps[s] = bestZ;
      const base = s * blockSize;
      for (let j = 0; j < len; j++) codes[base + j] = q[j]!;
    }
  }
  const zeroPoints = integerZero ? Uint8Array.from(floatZps, (z) => Math.min(255, Math.max(0, z))) : floatZps;
  return packBlockwise(codes, scales, zeroPoints, { K, N, blockSize, bits: opts.bits });
}
