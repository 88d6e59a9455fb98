/**
 * The passes the page runs: the registry's own pass objects (packages/cli/src/registry.ts), less
 * distillation, which trains on a dataset. Presets are the step buttons; their options are the schema's.
 */
import { optionsJsonSchema, ShrinkError, type Pass } from '@shrink/core';
import { cleanupPass } from '@shrink/cleanup/pass';
import { prunePass } from '@shrink/prune/pass';
import { quantizePass } from '@shrink/quantize/pass';

export const BROWSER_PASSES: readonly Pass[] = [cleanupPass, prunePass, quantizePass];

export function passOf(kind: string): Pass {
  const p = BROWSER_PASSES.find((x) => x.kind === kind);
  if (!p)
    throw new ShrinkError('INVALID_ARGUMENT', `no pass '${kind}' in the browser; passes: ${BROWSER_PASSES.map((x) => x.kind).join(', ')}`);
  return p;
}

export interface Preset {
  readonly id: string;
  readonly label: string;
  readonly kind: string;
  readonly options: Record<string, unknown>;
}

/** The step buttons, in the order a search applies them. q4f16 only where the quantize schema has it. */
export function presets(): Preset[] {
  const dtypes = quantizeDtypes();
  const q = (dtype: string, label: string): Preset[] =>
    dtypes.includes(dtype) ? [{ id: dtype, label, kind: 'quantize', options: { dtype } }] : [];
  return [
    { id: 'cleanup', label: 'cleanup', kind: 'cleanup', options: {} },
    { id: 'magnitude', label: 'magnitude pruning', kind: 'prune', options: { method: 'magnitude', sparsity: 0.5 } },
    { id: 'nm', label: 'N:M pruning', kind: 'prune', options: { method: 'nm' } },
    { id: 'structured', label: 'structured pruning', kind: 'prune', options: { method: 'structured', sparsity: 0.25 } },
    ...q('q8', 'q8 (int8)'),
    ...q('q4', 'q4 (4-bit weights)'),
    ...q('q4f16', 'q4f16'),
    ...q('fp16', 'fp16'),
  ];
}

/** The dtypes the quantize schema accepts, read as the CLI reads its choices (optionsJsonSchema). */
function quantizeDtypes(): string[] {
  const props = (optionsJsonSchema(quantizePass.schema)['properties'] ?? {}) as Record<string, { enum?: unknown[] }>;
  return (props['dtype']?.enum ?? []).map(String);
}
