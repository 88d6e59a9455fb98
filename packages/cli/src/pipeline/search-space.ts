/**
 * The trials of a search: every combination of the variants given per pass, applied in the registry's
 * order (distill -> prune -> quantize: train a smaller model first, remove weights next, then store the
 * rest in fewer bits), or the passes' own default variants when the config gives none.
 */
import type { PassAvailability } from '@shrink/core';
import { PASSES, passOf } from '../registry.js';
import { calibrationSpecOf, type SearchSettings, type Step } from './config-schema.js';
import type { PipelineConfig } from './load-config.js';

export interface Trial {
  name: string;
  steps: Step[];
}

type Space = NonNullable<SearchSettings['space']>;

/** What a run with this config's data can give a pass. */
export function availabilityOf(
  data: PipelineConfig['data'] | Pick<PipelineConfig['data'], 'eval' | 'train' | 'calibration'>,
): PassAvailability {
  return { calibration: calibrationSpecOf(data) !== undefined, train: data.train !== undefined, eval: data.eval !== undefined };
}

/** Each pass's default variants (passes without any are tried only when the config's space names them). */
export function defaultSpace(config: Pick<PipelineConfig, 'data'>): Space {
  const available = availabilityOf(config.data);
  const space: Space = {};
  for (const p of PASSES) {
    const variants = p.searchSpace?.(available);
    if (variants) space[p.kind] = variants.map((v) => (v === null ? null : p.schema.parse(v)));
  }
  return space;
}

/** Every combination of the space (the all-none one left out), plus the config's fixed steps as one more trial. */
export function expandTrials(config: Pick<PipelineConfig, 'data' | 'steps' | 'search'>): Trial[] {
  const space = config.search?.space ?? defaultSpace(config);
  let combos: Step[][] = [[]];
  for (const pass of PASSES) {
    const variants = space[pass.kind];
    if (!variants) continue;
    const steps: Array<Step | null> = variants.map((v) => (v === null ? null : { kind: pass.kind, options: pass.schema.parse(v) }));
    combos = combos.flatMap((c) => steps.map((s) => (s ? [...c, s] : c)));
  }
  const trials = combos.filter((c) => c.length > 0).map((steps) => ({ steps }));
  if (config.steps.length > 0) trials.push({ steps: config.steps });
  const width = String(trials.length).length;
  return trials.map((t, i) => ({
    name: `t${String(i + 1).padStart(width, '0')}-${t.steps.map((s) => passOf(s.kind).describe(s.options)).join('+')}`,
    steps: t.steps,
  }));
}
