import type { Argv } from 'yargs';
import { DATA_SPEC_HELP, type Dataset } from '@shrink/core/data';
import type { ProfileOptions } from '@shrink/core/runtime';
import { measureFromArgv, measureOptionsSchema, profileOptionsFrom, type MeasureOptions } from '../measure-options.js';
import { flagsFromSchema } from '../schema-flags.js';

/** The measurement flags (--batch, --threads, --runs, --warmup, --grid-intensity), from the one schema. */
export function runFlags<T>(y: Argv<T>) {
  return flagsFromSchema(y, measureOptionsSchema);
}

/** The measurement flags without --batch, for commands whose --batch means something else (distill trains with it). */
export function measureFlags<T>(y: Argv<T>) {
  return flagsFromSchema(y, measureOptionsSchema, ['batch']);
}

/** --allow-degraded, for commands that write a model the fidelity guard judges. */
export function guardFlag<T>(y: Argv<T>) {
  return y.option('allow-degraded', {
    type: 'boolean',
    describe:
      'Write the model even when it fails the fidelity guard against the baseline (cosine < 0.9, top-1 agreement < 50 %, or over 10 accuracy points lost); the report still marks it FAILED',
  });
}

export function dataFlag<T>(y: Argv<T>, required: boolean) {
  return y.option('data', { type: 'string', demandOption: required, describe: `Evaluation data: ${DATA_SPEC_HELP}` }).option('split', {
    choices: ['train', 'test', 'all'] as const,
    describe: 'Part of --data to use (default: test for presets and IDX folders, all rows of a CSV/JSON file)',
  });
}

/** The measurement settings the run flags ask for (validated: errors name the flag), as core's profile/compare functions take them. */
export function profileOptions(
  argv: Record<string, unknown>,
  data: Dataset | undefined,
  skip: ReadonlyArray<keyof MeasureOptions> = [],
): ProfileOptions {
  return profileOptionsFrom(measureFromArgv(argv, skip), data);
}
