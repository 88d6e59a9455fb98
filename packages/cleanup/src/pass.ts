/**
 * Graph cleanup as a registry pass (see @shrink/core's Pass): the options of a `cleanup:` step and of
 * `shrink cleanup`, and the run. Cleanup needs no data and changes no output value, so it has no
 * default search variants: a search tries it only where the config's space names it (trying every
 * trial with and without it would double the trials for a step that is either free or a win).
 */
import { definePass, type LayerDetail } from '@shrink/core';
import { cleanupOptionsSchema, type ResolvedCleanupOptions } from './options.js';

const STEPS = [
  ['removeIdentity', 'identity'],
  ['foldConstants', 'fold'],
  ['foldBatchNorm', 'bn'],
  ['removeDeadNodes', 'dead'],
  ['constantsToInitializers', 'const'],
  ['dedupeInitializers', 'dedupe'],
] as const;

const DEFAULTS = cleanupOptionsSchema.parse({});

/** `cleanup` with the default steps, else `cleanup-` and the steps that run (`cleanup-fold-dead`, `cleanup-none`). */
export function describeCleanup(o: ResolvedCleanupOptions): string {
  if (STEPS.every(([key]) => o[key] === DEFAULTS[key])) return 'cleanup';
  const on = STEPS.filter(([key]) => o[key]).map(([, short]) => short);
  return `cleanup-${on.join('-') || 'none'}`;
}

export const cleanupPass = definePass({
  kind: 'cleanup',
  summary:
    'Clean up an ONNX graph: remove Identity/no-op Dropout, fold constants, fold BatchNormalization into the Conv before it, remove dead nodes, Constant nodes to initializers (outputs unchanged, BN folds up to float rounding)',
  schema: cleanupOptionsSchema,
  needs: () => ({}),
  describe: describeCleanup,
  async run(model, o) {
    const { cleanupModel } = await import('./cleanup-model.js');
    const { cleanupNotes } = await import('./cleanup-notes.js');
    const r = cleanupModel(model, o);
    const layers: LayerDetail[] = r.report.nodes.map((n) => ({ name: n.name, opType: n.opType, action: `${n.action}: ${n.reason}` }));
    return { model: r.model, notes: cleanupNotes(r.report, o), layers, trained: false, report: { cleanup: r.report } };
  },
});
