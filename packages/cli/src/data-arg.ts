import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ShrinkError } from '@shrink/core';
import { DATA_SPEC_HELP, resolveData, type DataPart, type Dataset } from '@shrink/core/data';
import { isFeedsSpec, readInputValue, type FeedsSource, type RawArray } from '@shrink/core/runtime';

/**
 * The evaluation data behind `--data`. Presets and IDX folders bring their own test part, which is
 * what a score should use. A CSV/JSON file the user made for evaluating is scored whole, not an 80/20
 * split of it; `--split` overrides either default. `cwd` is where a relative path starts (a config file's folder).
 */
export async function evalData(spec: string, split?: DataPart, cwd?: string): Promise<Dataset> {
  const base = cwd !== undefined ? { cwd } : {};
  if (await isFeedsArg(spec, cwd)) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${spec}: a feeds file holds model inputs without labels, and this needs a labelled dataset (${DATA_SPEC_HELP}); feeds files serve comparisons: shrink compare A B --data ${spec}`,
      { option: 'data' },
    );
  }
  if (split !== undefined) return resolveData(spec, { split, ...base });
  const st = await stat(path.resolve(cwd ?? '.', spec)).catch(() => undefined);
  return resolveData(spec, { split: st?.isFile() ? 'all' : 'test', ...base });
}

/** What a command measures on: a labelled dataset, or model inputs by name (a feeds file and --input values). */
export interface MeasureInputs {
  readonly data?: Dataset;
  readonly feeds?: FeedsSource;
}

/** Whether `--data` names a feeds file or folder (.npz/.npy, or JSON keyed by input name) rather than a dataset. */
export async function isFeedsArg(spec: string | undefined, cwd?: string): Promise<boolean> {
  return spec !== undefined && (await isFeedsSpec(path.resolve(cwd ?? '.', spec), []));
}

/** `--data` and `--input` as core's comparisons take them. */
export async function measureInputs(
  argv: { data?: string | undefined; split?: DataPart | undefined; input?: readonly string[] | undefined },
  cwd?: string,
): Promise<MeasureInputs> {
  const inputs: Record<string, RawArray> = {};
  for (const spec of argv.input ?? []) {
    const { name, value } = await readInputValue(spec);
    inputs[name] = value;
  }
  const given = Object.keys(inputs).length > 0 ? { inputs } : {};
  if (argv.data === undefined) return Object.keys(given).length > 0 ? { feeds: given } : {};
  if (await isFeedsArg(argv.data, cwd)) return { feeds: { file: path.resolve(cwd ?? '.', argv.data), ...given } };
  refuseInputsBeside(argv.data, Object.keys(inputs));
  return { data: await evalData(argv.data, argv.split, cwd) };
}

/** A dataset feeds the model's one input from its samples: an --input beside it would be ignored, so it is refused. */
export function refuseInputsBeside(dataset: string, inputs: readonly string[]): void {
  if (inputs.length === 0) return;
  throw new ShrinkError(
    'INVALID_ARGUMENT',
    `--input ${inputs.join(', ')}: inputs by name go with a feeds file or with no --data; ${dataset} is a dataset, which feeds the model's input from its own samples`,
    { option: 'input' },
  );
}
