import { ShrinkError } from '@shrink/core';
import type { ResolvedQuantizeOptions } from './options.js';

type Checked = Pick<ResolvedQuantizeOptions, 'dtype' | 'mode'> &
  Partial<Pick<ResolvedQuantizeOptions, 'algo' | 'bits' | 'targetBits' | 'sizeBudget'>>;

const isEightBit = (o: Checked) => o.dtype === 'q8' || o.dtype === 'int8' || o.dtype === 'uint8';

/** Whether the options write MatMulNBits (q4, q4f16, 8-bit weight-only): where `algo` and `bits` apply. */
export function isWeightOnly(o: Checked): boolean {
  return o.dtype === 'q4' || o.dtype === 'q4f16' || (isEightBit(o) && o.mode === 'weight-only');
}

/** Whether the options need calibration data: the one place that says so (static 8-bit, and GPTQ's Hessians). */
export function needsCalibration(o: Checked): boolean {
  return (o.mode === 'static' && isEightBit(o)) || (isWeightOnly(o) && o.algo === 'gptq');
}

/** Checks that dtype and mode go together, so the dispatch never guesses (and a pipeline config fails before running). */
export function checkCombination(o: Checked): void {
  const eightBit = isEightBit(o);
  if (!eightBit && o.mode !== 'dynamic' && o.mode !== 'auto') {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `mode ${o.mode} applies to 8-bit dtypes (q8, int8, uint8); ${o.dtype} has one method, so leave mode out`,
      { option: 'mode' },
    );
  }
  if (o.algo !== undefined && o.algo !== 'rtn' && !isWeightOnly(o)) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `algo ${o.algo} quantizes MatMulNBits weights: use it with dtype q4 or q4f16 (or an 8-bit dtype with mode weight-only)`,
      { option: 'algo' },
    );
  }
  if (o.bits !== undefined && o.dtype !== 'q4' && o.dtype !== 'q4f16' && !(isWeightOnly(o) && o.bits === 8)) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `bits ${o.bits} applies to dtype q4/q4f16 (2, 3, 4 or 8); ${o.dtype}${o.mode === 'weight-only' ? ' weight-only' : ''} is 8-bit`,
      { option: 'bits' },
    );
  }
  for (const option of ['targetBits', 'sizeBudget'] as const) {
    if (o[option] !== undefined && o.dtype !== 'q4' && o.dtype !== 'q4f16') {
      throw new ShrinkError('INVALID_ARGUMENT', `${option} mixes bit widths of MatMulNBits weights: use it with dtype q4 or q4f16`, {
        option,
      });
    }
  }
  if (o.targetBits !== undefined && o.sizeBudget !== undefined) {
    throw new ShrinkError('INVALID_ARGUMENT', 'targetBits and sizeBudget are two budgets for one choice: give one of them', {
      option: 'sizeBudget',
    });
  }
  if ((o.targetBits !== undefined || o.sizeBudget !== undefined) && o.bits === 8) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      'bits 8 is the widest level: mixed precision raises weights above bits, so give bits 2, 3 or 4',
      {
        option: 'bits',
      },
    );
  }
}

/** The one line a missing calibration set gets, by what needed it. */
export function calibrationMissing(o: Checked): string {
  return isWeightOnly(o) && o.algo === 'gptq'
    ? 'algo gptq needs calibration data: give calibData (--calib-data) a feeds file of the model\'s inputs (a tokens file {"input_ids": [[...]]} works) or a dataset'
    : 'static quantization needs calibration data (a dataset, or random:64 for a smoke test)';
}
