import type { Argv } from 'yargs';
import { DATA_SPEC_HELP, type Dataset } from '@shrink/core/data';
import type { FeedsSource, ProfileOptions } from '@shrink/core/runtime';
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
  return y
    .option('data', {
      type: 'string',
      demandOption: required,
      describe: `Evaluation data: ${DATA_SPEC_HELP}; or the model's inputs by name (no labels): a feeds file (.npz from numpy.savez, .npy for one input, JSON {"input_ids": [[...]], ...}) or a folder of them`,
    })
    .option('split', {
      choices: ['train', 'test', 'all'] as const,
      describe: 'Part of --data to use (default: test for presets and IDX folders, all rows of a CSV/JSON file)',
    })
    .option('input', {
      type: 'string',
      array: true,
      describe:
        'NAME=VALUE|FILE: one model input for every measurement run (a number, a JSON array, or a .npy/.json file), e.g. --input sr=16000; other inputs are made up from what they mean',
    });
}

/** The measurement settings the run flags ask for (validated: errors name the flag), as core's profile/compare functions take them. */
export function profileOptions(
  argv: Record<string, unknown>,
  data: Dataset | undefined,
  skip: ReadonlyArray<keyof MeasureOptions> = [],
  feeds?: FeedsSource,
): ProfileOptions {
  return profileOptionsFrom(measureFromArgv(argv, skip), data, feeds ? { feeds } : {});
}
