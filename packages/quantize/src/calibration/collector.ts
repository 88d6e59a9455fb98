import { ShrinkError } from '@shrink/core';
import { EntropyCollector } from './entropy.js';
import { MinMaxCollector } from './minmax.js';
import { PercentileCollector } from './percentile.js';

export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

/** Activation range per tensor name. */
export type Ranges = Map<string, [number, number]>;

/**
 * Gathers the values a tensor takes over the calibration batches and turns them into one [min, max]
 * range per tensor. Batches arrive one at a time, so a collector keeps a running summary (min/max or
 * a histogram), never the values themselves.
 */
export interface RangeCollector {
  readonly method: CalibrationMethod;
  collect(name: string, values: Float32Array): void;
  /** Range per tensor seen so far; a tensor only ever seen empty gets [0, 0]. */
  ranges(): Ranges;
}

export interface CollectorOptions {
  /** Percentile method: the percentile of |x| kept (onnxruntime's default is 99.999). */
  percentile?: number;
  /** Histogram bins (percentile and entropy); a multiple of 4. Default 2048. */
  bins?: number;
  /** Entropy method: levels the candidate distributions are quantized to. Default 128, as onnxruntime and TensorRT. */
  quantizedBins?: number;
}

export function createCollector(method: CalibrationMethod, opts: CollectorOptions = {}): RangeCollector {
  switch (method) {
    case 'minmax':
      return new MinMaxCollector();
    case 'percentile':
      return new PercentileCollector(opts.percentile ?? 99.99, opts.bins);
    case 'entropy':
      return new EntropyCollector(opts.bins, opts.quantizedBins);
    default:
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `calibration method '${String(method)}' is unknown; expected one of ${CALIBRATION_METHODS.join(', ')}`,
      );
  }
}
