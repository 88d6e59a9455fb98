/**
 * Summary statistics for latency samples, ratios and errors.
 *
 * Why not mathjs here: this file sits in the portable "." entry of @shrink/core, which every CLI start
 * loads, and Node cannot tree-shake an ESM package: `import { quantileSeq } from 'mathjs'` loads all
 * of mathjs (~1.5 s on the 2-core CI box), `mathjs/number` ~0.55 s. The arithmetic below is a
 * dozen lines; stats.test.ts checks it against mathjs's quantileSeq/std/mean on random data.
 */
import { ShrinkError } from '../errors.js';

export interface Summary {
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n - 1 in the denominator, as mathjs `std` and numpy `ddof=1`); 0 for one value. */
  readonly stdev: number;
  readonly min: number;
  readonly max: number;
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

function sortedCopy(values: ArrayLike<number>, what: string): Float64Array {
  if (values.length === 0) throw new ShrinkError('INVALID_ARGUMENT', `${what}: no values to summarize; need at least one`);
  const s = Float64Array.from(values);
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i]!)) {
      throw new ShrinkError('INVALID_ARGUMENT', `${what}: value #${i} is ${s[i]}; only finite numbers can be summarized`);
    }
  }
  return s.sort();
}

/**
 * Quantile of an ascending-sorted array by linear interpolation between closest ranks
 * (Hyndman & Fan type 7: the default of numpy, R and mathjs `quantileSeq`).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new ShrinkError('INVALID_ARGUMENT', `quantile ${q} is outside [0, 1]`);
  const n = sorted.length;
  if (n === 0) throw new ShrinkError('INVALID_ARGUMENT', 'quantile of an empty array; need at least one value');
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Quantiles of unsorted values (type 7, see `quantileSorted`). */
export function quantiles(values: ArrayLike<number>, qs: readonly number[], what = 'quantiles'): number[] {
  const s = sortedCopy(values, what);
  return qs.map((q) => quantileSorted(s, q));
}

export function median(values: ArrayLike<number>, what = 'median'): number {
  return quantileSorted(sortedCopy(values, what), 0.5);
}

/** n, mean, sample stdev, min, max, p10/p50/p90/p99 of finite values; `what` names them in errors. */
export function summarize(values: ArrayLike<number>, what = 'values'): Summary {
  const s = sortedCopy(values, what);
  const n = s.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (s[i]! - mean) ** 2;
  return {
    n,
    mean,
    stdev: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
    min: s[0]!,
    max: s[n - 1]!,
    p10: quantileSorted(s, 0.1),
    p50: quantileSorted(s, 0.5),
    p90: quantileSorted(s, 0.9),
    p99: quantileSorted(s, 0.99),
  };
}
