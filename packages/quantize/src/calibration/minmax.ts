import type { RangeCollector, Ranges } from './collector.js';
import { assertFinite, valueRange } from './histogram.js';

/** Running min and max of every value seen: onnxruntime's MinMaxCalibrater without moving average. */
export class MinMaxCollector implements RangeCollector {
  readonly method = 'minmax' as const;
  private readonly seen = new Map<string, [number, number]>();

  collect(name: string, values: Float32Array): void {
    assertFinite(name, values);
    const [lo, hi] = valueRange(values);
    const r = this.seen.get(name);
    this.seen.set(name, r ? [Math.min(r[0], lo), Math.max(r[1], hi)] : [lo, hi]);
  }

  ranges(): Ranges {
    const out: Ranges = new Map();
    for (const [name, [lo, hi]] of this.seen) out.set(name, lo > hi ? [0, 0] : [lo, hi]);
    return out;
  }
}
