import { ShrinkError } from '@shrink/core';
import type { ResolvedQuantizeOptions } from './options.js';

/** Whether the options need calibration data: the one place that says so. */
export function needsCalibration(o: Pick<ResolvedQuantizeOptions, 'dtype' | 'mode'>): boolean {
  return o.mode === 'static' && (o.dtype === 'q8' || o.dtype === 'int8' || o.dtype === 'uint8');
}

/** Checks that dtype and mode go together, so the dispatch never guesses (and a pipeline config fails before running). */
export function checkCombination(o: Pick<ResolvedQuantizeOptions, 'dtype' | 'mode'>): void {
  const eightBit = o.dtype === 'q8' || o.dtype === 'int8' || o.dtype === 'uint8';
  if (!eightBit && o.mode !== 'dynamic' && o.mode !== 'auto') {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `mode ${o.mode} applies to 8-bit dtypes (q8, int8, uint8); ${o.dtype} has one method, so leave mode out`,
      { option: 'mode' },
    );
  }
}
