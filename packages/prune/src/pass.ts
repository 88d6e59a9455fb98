/**
 * Pruning as a registry pass (see @shrink/core's Pass): the options of a `prune:` step and of
 * `shrink prune`, fine-tuning included, and the run, which loads TensorFlow.js only when it trains.
 */
import { z } from 'zod';
import { accuracyFallbackShape, checkAccuracyFallback, definePass, ShrinkError, type LayerDetail } from '@shrink/core';
import { pruneOptionsSchema } from './options.js';
import type { PruneReport } from './types.js';

/** Fine-tuning defaults, in one place for every front end. */
export const FINE_TUNE_DEFAULTS = { epochs: 3, batchSize: 32 } as const;

export const prunePassSchema = pruneOptionsSchema.extend({
  finetune: z.boolean().default(false).describe('One-shot prune, then fine-tune on the training data with the zeros kept fixed'),
  schedule: z
    .enum(['cubic', 'constant'])
    .optional()
    .describe('Prune gradually while fine-tuning on the training data (magnitude only): Zhu & Gupta cubic, or constant'),
  epochs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(`Fine-tuning epochs (default ${FINE_TUNE_DEFAULTS.epochs} when finetune or schedule is set)`),
  batchSize: z.number().int().positive().optional().describe(`Fine-tuning samples per step (default ${FINE_TUNE_DEFAULTS.batchSize})`),
  lr: z.number().positive().optional().describe('Fine-tuning learning rate (Adam; default 0.001)'),
  ...accuracyFallbackShape,
});

export type PrunePassOptions = z.output<typeof prunePassSchema>;

/** Whether the options train: one-shot with fine-tuning, or gradual (a schedule). */
export function fineTunes(o: Pick<PrunePassOptions, 'finetune' | 'schedule'>): boolean {
  return o.finetune || o.schedule !== undefined;
}

/**
 * What a prune step reached. Structured pruning removes units rather than zeroing weights, so its zero
 * share is near 0 % whatever it did: it reports the units removed instead.
 */
export function pruneStepNote(report: Pick<PruneReport, 'method' | 'targetSparsity' | 'sparsity' | 'layers'>): string {
  const head = `${report.method}: target sparsity ${report.targetSparsity}`;
  const structured = report.layers.filter((l) => l.action === 'pruned' && l.unitsRemoved !== undefined);
  if (report.method === 'structured' || structured.length > 0) {
    const removed = structured.reduce((n, l) => n + (l.unitsRemoved ?? 0), 0);
    const total = structured.reduce((n, l) => n + (l.unitsRemoved ?? 0) + (l.unitsKept ?? 0), 0);
    return `${head}, removed ${removed} of ${total} units (${total > 0 ? ((removed / total) * 100).toFixed(1) : '0.0'}%) over ${structured.length} pruned layer(s)`;
  }
  return `${head}, reached ${(report.sparsity * 100).toFixed(1)}% over the pruned layers`;
}

export const prunePass = definePass({
  kind: 'prune',
  summary: 'Prune an ONNX model (magnitude, N:M, structured), optionally gradually or followed by fine-tuning',
  schema: prunePassSchema,
  check(o, available) {
    checkAccuracyFallback(o, available);
    const training = fineTunes(o);
    if (training && !available.train) {
      throw new ShrinkError('INVALID_ARGUMENT', 'fine-tuning needs training data, and none is given', {
        option: o.schedule ? 'schedule' : 'finetune',
        missing: 'train',
      });
    }
    if (o.epochs !== undefined && !training)
      throw new ShrinkError('INVALID_ARGUMENT', 'fine-tuning epochs need finetune or a schedule', { option: 'epochs' });
    if (o.schedule !== undefined && o.method !== 'magnitude') {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `gradual pruning is by magnitude; method ${o.method} has no schedule (fine-tune after one-shot pruning instead)`,
        { option: 'schedule' },
      );
    }
  },
  needs: (o) => ({ train: fineTunes(o) }),
  describe: (o) => `prune-${o.method}${o.method === 'nm' ? `${o.n}of${o.m}` : o.sparsity}${fineTunes(o) ? '-ft' : ''}`,
  // Structured pruning is the kind that makes the file smaller and the kernels faster.
  searchSpace: (available): Array<z.input<typeof prunePassSchema> | null> => {
    const structured = (sparsity: number) => ({
      method: 'structured' as const,
      sparsity,
      ...(available.train ? { finetune: true, epochs: 2 } : {}),
    });
    return [null, structured(0.25), structured(0.5)];
  },
  async run(model, o, { data, ctx }) {
    const { pruneModel } = await import('./runtime/prune-model.js');
    // The accuracy fallback is the runner's (runPass), around this run.
    const { epochs, finetune, schedule, batchSize, lr, maxAccuracyDrop: _, ...options } = o;
    const training = fineTunes({ finetune, schedule });
    const fineTune = training
      ? {
          ...(await data.train()),
          epochs: epochs ?? FINE_TUNE_DEFAULTS.epochs,
          ...(schedule ? { schedule } : {}),
          ...(batchSize ? { batchSize } : {}),
          ...(lr ? { lr } : {}),
        }
      : undefined;
    const r = await pruneModel(model, options, fineTune, ctx);
    const layers: LayerDetail[] = r.report.layers.map((l) => ({
      name: l.name,
      opType: l.opType,
      ...(l.sparsity !== undefined ? { sparsity: l.sparsity } : {}),
      action:
        l.action === 'pruned'
          ? l.unitsRemoved !== undefined
            ? `pruned: ${l.unitsRemoved} units removed, ${l.unitsKept} kept`
            : 'pruned'
          : `skipped${l.reason ? `: ${l.reason}` : ''}`,
    }));
    const changed = r.report.layers.filter((l) => l.action === 'pruned').map((l) => ({ name: l.name, opType: l.opType }));
    return {
      model: r.model,
      notes: [pruneStepNote(r.report), ...r.report.notes],
      layers,
      trained: training,
      changed,
      report: { pruning: r.report },
    };
  },
});
