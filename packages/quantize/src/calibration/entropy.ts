import { klDivergence, ShrinkError } from '@shrink/core';
import type { RangeCollector } from './collector.js';
import { Histogram, HistogramCollector } from './histogram.js';

const EPS = 0.0001;

/**
 * Gives empty bins a little mass taken evenly from the others, so KL(p || q) stays finite (onnxruntime's
 * smooth_distribution). Undefined when the distribution is empty or smoothing would empty a bin.
 */
function smooth(d: Float64Array): Float64Array | undefined {
  let zeros = 0;
  for (const v of d) if (v === 0) zeros++;
  const nonzeros = d.length - zeros;
  if (nonzeros === 0) return undefined;
  const take = (EPS * zeros) / nonzeros;
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i]! === 0 ? EPS : d[i]! - take;
    if (v <= 0) return undefined;
    out[i] = v;
  }
  return out;
}

/** KL(p || q) of two unnormalized positive histograms, normalized first (as scipy.stats.entropy does). */
function histogramKl(p: Float64Array, q: Float64Array): number {
  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
  const sp = sum(p);
  const sq = sum(q);
  return klDivergence(
    p.map((v) => v / sp),
    q.map((v) => v / sq),
  );
}

/**
 * The threshold T minimizing the information lost when x, clipped to [-T, T], is quantized to
 * `quantizedBins` levels (TensorRT's entropy calibration, as onnxruntime's HistogramCalibrater does it
 * on a signed histogram). Candidates are every symmetric slice of at least `quantizedBins` bins around
 * zero; the clipped mass goes into the slice's edge bins of the reference distribution p, while the
 * candidate q is the slice merged into `quantizedBins` levels and spread back over p's non-empty bins.
 * The result is [-T, T] clipped to the values' own [min, max].
 */
export function entropyRange(h: Histogram, quantizedBins = 128): [number, number] {
  if (h.total === 0) return [0, 0];
  if (h.width === 0) return [h.min, h.max];
  if (!h.signed) throw new ShrinkError('INVALID_ARGUMENT', 'entropyRange: needs a signed histogram');
  if (!Number.isInteger(quantizedBins) || quantizedBins < 2 || quantizedBins % 2 !== 0 || quantizedBins > h.bins) {
    throw new ShrinkError('INVALID_ARGUMENT', `entropy quantized bins ${quantizedBins} must be an even number in [2, ${h.bins}]`);
  }
  const c = h.counts;
  const prefix = new Float64Array(h.bins + 1);
  for (let k = 0; k < h.bins; k++) prefix[k + 1] = prefix[k]! + c[k]!;
  const zero = h.zeroBin;
  let best = Infinity;
  let bestHalf = zero;
  for (let half = quantizedBins / 2; half <= zero; half++) {
    const start = zero - half;
    const len = 2 * half;
    const p = c.slice(start, start + len);
    p[0]! += prefix[start]!;
    p[len - 1]! += h.total - prefix[start + len]!;
    const q = new Float64Array(len);
    const merged = Math.floor(len / quantizedBins);
    for (let b = 0; b < quantizedBins; b++) {
      const s = b * merged;
      // The last level also takes the bins the integer division left over.
      const e = b === quantizedBins - 1 ? len : s + merged;
      const mass = prefix[start + e]! - prefix[start + s]!;
      let nonEmpty = 0;
      for (let j = s; j < e; j++) if (p[j]! !== 0) nonEmpty++;
      if (nonEmpty === 0) continue;
      const share = mass / nonEmpty;
      for (let j = s; j < e; j++) if (p[j]! !== 0) q[j] = share;
    }
    const ps = smooth(p);
    const qs = smooth(q);
    const kl = ps && qs ? histogramKl(ps, qs) : Infinity;
    if (kl < best) {
      best = kl;
      bestHalf = half;
    }
  }
  const t = bestHalf * h.width;
  return [Math.max(-t, h.min), Math.min(t, h.max)];
}

export class EntropyCollector extends HistogramCollector implements RangeCollector {
  readonly method = 'entropy' as const;

  constructor(
    bins = 2048,
    readonly quantizedBins = 128,
  ) {
    super(bins, true);
  }

  protected override rangeOf(h: Histogram): [number, number] {
    return entropyRange(h, this.quantizedBins);
  }
}
