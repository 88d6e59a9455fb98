import { ShrinkError } from '@shrink/core';
import type { RangeCollector } from './collector.js';
import { Histogram, HistogramCollector } from './histogram.js';

/**
 * The symmetric range [-t, t] where t is the `percentile` of |x|, clipped to the values' own [min, max]
 * (so a non-negative tensor gets [0, t]): onnxruntime's percentile calibration (symmetric, absolute
 * values). `t` is the upper edge of the bin where the cumulative count reaches the percentile, so at
 * least that share of the values lies inside the range.
 */
export function percentileRange(h: Histogram, percentile: number): [number, number] {
  if (h.total === 0) return [0, 0];
  if (h.width === 0) return [h.min, h.max];
  if (h.signed) throw new ShrinkError('INVALID_ARGUMENT', 'percentileRange: needs a histogram of |x| (signed = false)');
  const target = (percentile / 100) * h.total;
  let cum = 0;
  let idx = h.bins - 1;
  for (let k = 0; k < h.bins; k++) {
    cum += h.counts[k]!;
    if (cum >= target) {
      idx = k;
      break;
    }
  }
  const t = (idx + 1) * h.width;
  return [Math.max(-t, h.min), Math.min(t, h.max)];
}

export class PercentileCollector extends HistogramCollector implements RangeCollector {
  readonly method = 'percentile' as const;

  constructor(
    readonly percentile: number,
    bins = 2048,
  ) {
    super(bins, false);
    if (!(percentile > 0 && percentile <= 100)) {
      throw new ShrinkError('INVALID_ARGUMENT', `percentile ${percentile} must be in (0, 100], e.g. 99.99`);
    }
  }

  protected override rangeOf(h: Histogram): [number, number] {
    return percentileRange(h, this.percentile);
  }
}
