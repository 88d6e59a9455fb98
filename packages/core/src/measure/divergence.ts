/**
 * Distributions over classes from model outputs, and how far apart two of them are. Shared by
 * fidelity (mean KL between a baseline's and a candidate's outputs) and distillation's known-answer tests.
 */

/** True when a row already is a probability distribution (non-negative, sums to 1 within tol). */
export function isDistribution(row: ArrayLike<number>, tol = 1e-3): boolean {
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (!(v >= 0)) return false;
    sum += v;
  }
  return Math.abs(sum - 1) <= tol;
}

/** True when every `width`-wide row of `values` is a distribution (see isDistribution). */
export function rowsAreDistributions(values: Float32Array, width: number): boolean {
  for (let o = 0; o < values.length; o += width) if (!isDistribution(values.subarray(o, o + width))) return false;
  return true;
}

/** softmax(row / temperature), computed stably (the max is subtracted first). */
export function softmax(row: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(row.length);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.exp(row[i]! / temperature - max);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/**
 * KL(p || q) in nats. Terms with p = 0 add nothing; q is floored at 1e-12 so a class the candidate
 * rules out entirely gives a large finite number rather than Infinity.
 */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    if (pi > 0) kl += pi * Math.log(pi / Math.max(q[i]!, 1e-12));
  }
  return kl;
}
