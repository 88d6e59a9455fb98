/**
 * The trials of a search: every combination of the variants given per pass, applied in the order
 * distill -> prune -> quantize (train a smaller model first, remove weights next, then store the rest
 * in fewer bits), or a built-in space when the config gives none.
 */
import { calibrationSpecOf, distillStepSchema, fineTunes, pruneStepSchema, quantizeStepSchema, type SearchSettings, type Step } from './config-schema.js';
import type { PipelineConfig } from './load-config.js';

export interface Trial {
  name: string;
  steps: Step[];
}

type Space = NonNullable<SearchSettings['space']>;
const ORDER = ['distill', 'prune', 'quantize'] as const;

/** Structured pruning is the kind that makes the file smaller and the kernels faster; quantization choices as transformers.js names them. */
export function defaultSpace(config: Pick<PipelineConfig, 'data'>): Space {
  const train = config.data.train !== undefined;
  const calib = calibrationSpecOf(config.data);
  const prune = (sparsity: number) => pruneStepSchema.parse({ method: 'structured', sparsity, ...(train ? { finetune: true, epochs: 2 } : {}) });
  const quantize = (o: Record<string, unknown>) => quantizeStepSchema.parse(o);
  return {
    prune: [null, prune(0.25), prune(0.5)],
    quantize: [
      null,
      quantize({ dtype: 'q8' }),
      quantize({ dtype: 'q8', perChannel: true }),
      ...(calib !== undefined ? [quantize({ dtype: 'q8', mode: 'static' })] : []),
      quantize({ dtype: 'q4' }),
      quantize({ dtype: 'fp16' }),
    ],
  };
}

function label(s: Step): string {
  switch (s.kind) {
    case 'distill':
      return `distill-${s.options.student.replace(/[^\w.-]+/g, '_')}`;
    case 'prune':
      return `prune-${s.options.method}${s.options.method === 'nm' ? `${s.options.n}of${s.options.m}` : s.options.sparsity}${fineTunes(s.options) ? '-ft' : ''}`;
    case 'quantize':
      return `${s.options.dtype}${s.options.mode !== 'dynamic' ? `-${s.options.mode}` : ''}${s.options.perChannel ? '-pc' : ''}`;
  }
}

/** Every combination of the space (the all-none one left out), plus the config's fixed steps as one more trial. */
export function expandTrials(config: Pick<PipelineConfig, 'data' | 'steps' | 'search'>): Trial[] {
  const space = config.search?.space ?? defaultSpace(config);
  let combos: Step[][] = [[]];
  for (const kind of ORDER) {
    const variants = space[kind];
    if (!variants) continue;
    const steps: Array<Step | null> = variants.map((v) =>
      v === null ? null : kind === 'distill' ? { kind, options: distillStepSchema.parse(v) } : kind === 'prune' ? { kind, options: pruneStepSchema.parse(v) } : { kind, options: quantizeStepSchema.parse(v) },
    );
    combos = combos.flatMap((c) => steps.map((s) => (s ? [...c, s] : c)));
  }
  const trials = combos.filter((c) => c.length > 0).map((steps) => ({ steps }));
  if (config.steps.length > 0) trials.push({ steps: config.steps });
  const width = String(trials.length).length;
  return trials.map((t, i) => ({ name: `t${String(i + 1).padStart(width, '0')}-${t.steps.map(label).join('+')}`, steps: t.steps }));
}
