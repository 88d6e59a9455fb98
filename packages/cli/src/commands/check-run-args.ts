import { ShrinkError } from '@shrink/core';
import type { RunArgs } from './common-flags.js';

/** yargs parses numbers but does not bound them: refuse nonsense before any work starts. */
export function checkRunArgs(a: RunArgs): void {
  const positiveInt = (v: number | undefined, flag: string, min = 1) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) {
      throw new ShrinkError('INVALID_ARGUMENT', `--${flag}: must be an integer >= ${min}, got ${v}`);
    }
  };
  positiveInt(a.batch, 'batch');
  positiveInt(a.runs, 'runs');
  positiveInt(a.warmup, 'warmup', 0);
  positiveInt(a.threads, 'threads');
  if (a.gridIntensity !== undefined && !(a.gridIntensity >= 0 && Number.isFinite(a.gridIntensity))) {
    throw new ShrinkError('INVALID_ARGUMENT', `--grid-intensity: must be a number >= 0 (gCO2e/kWh), got ${a.gridIntensity}`);
  }
}
