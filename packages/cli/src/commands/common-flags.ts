import type { Argv } from 'yargs';
import { DATA_SPEC_HELP, type Dataset } from '@shrink/core/data';
import type { ProfileOptions } from '@shrink/core/runtime';

/** Flags shared by every command that runs a model. */
export function runFlags<T>(y: Argv<T>) {
  return measureFlags(y.option('batch', { type: 'number', default: 1, describe: 'Samples per latency run' }));
}

/** The measurement flags without --batch, for commands whose --batch means something else (distill trains with it). */
export function measureFlags<T>(y: Argv<T>) {
  return y
    .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads (default: one per physical core)' })
    .option('runs', { type: 'number', default: 50, describe: 'Timed runs (pairs, when comparing)' })
    .option('warmup', { type: 'number', default: 5, describe: 'Untimed runs before timing' })
    .option('grid-intensity', { type: 'number', describe: 'gCO2e per kWh for CO2e figures (default 475, the world average)' });
}

/** --allow-degraded, for commands that write a model the fidelity guard judges. */
export function guardFlag<T>(y: Argv<T>) {
  return y.option('allow-degraded', {
    type: 'boolean',
    describe: 'Write the model even when it fails the fidelity guard against the baseline (cosine < 0.9, top-1 agreement < 50 %, or over 10 accuracy points lost); the report still marks it FAILED',
  });
}

export interface GuardArgs {
  allowDegraded?: boolean;
}

export function dataFlag<T>(y: Argv<T>, required: boolean) {
  return y
    .option('data', { type: 'string', demandOption: required, describe: `Evaluation data: ${DATA_SPEC_HELP}` })
    .option('split', {
      choices: ['train', 'test', 'all'] as const,
      describe: 'Part of --data to use (default: test for presets and IDX folders, all rows of a CSV/JSON file)',
    });
}

export interface RunArgs {
  threads?: number;
  batch: number;
  runs: number;
  warmup: number;
  gridIntensity?: number;
  data?: string;
  split?: 'train' | 'test' | 'all';
}

/** The measurement settings the run flags ask for, as core's profile/compare functions take them. */
export function profileOptions(a: RunArgs, data: Dataset | undefined): ProfileOptions {
  return {
    batch: a.batch,
    runs: a.runs,
    warmup: a.warmup,
    ...(a.threads !== undefined ? { threads: a.threads } : {}),
    ...(a.gridIntensity !== undefined ? { gridIntensity: a.gridIntensity } : {}),
    ...(data ? { data } : {}),
  };
}
