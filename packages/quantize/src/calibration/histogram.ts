import { ShrinkError } from '@shrink/core';
import type { Ranges } from './collector.js';

/** Refuses NaN and infinities: one would stretch or poison every range computed from the batch. */
export function assertFinite(name: string, values: Float32Array): void {
  let acc = 0;
  // v - v is NaN exactly for NaN and +-Infinity, so one cheap pass finds both.
  for (let i = 0; i < values.length; i++) acc += values[i]! - values[i]!;
  if (acc === 0) return;
  const at = values.findIndex((v) => !Number.isFinite(v));
  throw new ShrinkError(
    'INVALID_DATA',
    `calibration: tensor '${name}' holds a non-finite value (${values[at]}) at flat index ${at}; ranges need finite activations — check the calibration data and the model`,
  );
}

/** Smallest and largest value in one pass; [Infinity, -Infinity] when `values` is empty. */
export function valueRange(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * A histogram of x (`signed`, bins centred on 0 over [-B/2*w, B/2*w)) or of |x| (over [0, B*w)) with a
 * fixed bin count B. When a larger value arrives the width doubles and adjacent bin pairs merge, which is
 * exact (no re-binning guesswork) and keeps memory constant however the range grows. Also tracks the
 * exact min and max.
 */
export class Histogram {
  readonly counts: Float64Array;
  /** Bin width; 0 until a non-zero value is seen. */
  width = 0;
  min = Infinity;
  max = -Infinity;
  total = 0;
  /** Zeros seen while the width was still unknown. */
  private pendingZeros = 0;

  constructor(
    readonly bins: number,
    readonly signed: boolean,
  ) {
    if (!Number.isInteger(bins) || bins < 4 || bins % 4 !== 0) {
      throw new ShrinkError('INVALID_ARGUMENT', `histogram bins ${bins} must be a positive multiple of 4 (e.g. 2048)`);
    }
    this.counts = new Float64Array(bins);
  }

  /** Largest |x| the bins cover. */
  get limit(): number {
    return this.width * (this.signed ? this.bins / 2 : this.bins);
  }

  /** Index of the bin holding 0 (and the first bin of positive values). */
  get zeroBin(): number {
    return this.signed ? this.bins / 2 : 0;
  }

  add(values: Float32Array): void {
    const [lo, hi] = valueRange(values);
    if (values.length === 0) return;
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    this.total += values.length;
    const amax = Math.max(Math.abs(lo), Math.abs(hi));
    if (this.width === 0) {
      if (amax === 0) {
        this.pendingZeros += values.length;
        return;
      }
      // One bin of headroom: the max then sits inside the last bin, not on the limit, so later
      // doublings (which need amax < limit) keep every value in the bin direct binning would give.
      this.width = amax / ((this.signed ? this.bins / 2 : this.bins) - 1);
      this.counts[this.zeroBin] = this.pendingZeros;
      this.pendingZeros = 0;
    }
    while (amax >= this.limit) this.doubleWidth();
    const { counts, width, bins, signed } = this;
    const last = bins - 1;
    const zero = this.zeroBin;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const k = Math.floor((signed ? v : Math.abs(v)) / width) + zero;
      counts[k < 0 ? 0 : k > last ? last : k]!++;
    }
  }

  private doubleWidth(): void {
    const c = this.counts;
    const b = this.bins;
    const merged = new Float64Array(b);
    // Unsigned: old bins 2k, 2k+1 become new bin k. Signed: the old range is the middle half of the
    // new one, so they become new bin b/4 + k.
    const offset = this.signed ? b / 4 : 0;
    for (let k = 0; k < b / 2; k++) merged[offset + k] = c[2 * k]! + c[2 * k + 1]!;
    c.set(merged);
    this.width *= 2;
  }
}

/**
 * One histogram per tensor, turned into a range by the subclass's rule: the part the percentile and
 * entropy collectors share.
 */
export abstract class HistogramCollector {
  private readonly hists = new Map<string, Histogram>();

  constructor(
    readonly bins: number,
    private readonly signed: boolean,
  ) {}

  collect(name: string, values: Float32Array): void {
    assertFinite(name, values);
    let h = this.hists.get(name);
    if (!h) this.hists.set(name, (h = new Histogram(this.bins, this.signed)));
    h.add(values);
  }

  ranges(): Ranges {
    const out: Ranges = new Map();
    for (const [name, h] of this.hists) out.set(name, this.rangeOf(h));
    return out;
  }

  protected abstract rangeOf(h: Histogram): [number, number];
}
