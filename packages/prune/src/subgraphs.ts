/**
 * Pruning inside If/Loop/Scan bodies: core's withSubgraphs runs an unstructured graph pass on every
 * body, and this merges the bodies' layer rows (named by body path), unhandled ops and notes into one
 * report whose sparsity is over every pruned layer.
 */
import { withSubgraphs, type onnx } from '@shrink/core';
import type { LayerOutcome, PruneResult } from './types.js';

/** A body's pass says an outer weight is no initializer of its own: it is an enclosing graph's, which its own nodes read too. */
const NOT_OWN = /'([^']+)' is not an initializer \(computed at run time or a Constant node\)/;

/** Zeros over elements of the pruned rows, each counted at its size. */
function overallSparsity(rows: readonly LayerOutcome[]): number {
  let zeros = 0;
  let elements = 0;
  for (const r of rows) {
    if (r.action !== 'pruned' || r.elementsAfter === undefined || r.sparsity === undefined) continue;
    zeros += r.sparsity * r.elementsAfter;
    elements += r.elementsAfter;
  }
  return elements === 0 ? 0 : zeros / elements;
}

/** `pass` on the main graph and on every body (nested ones too); one merged report. */
export function pruneWithSubgraphs(model: onnx.IModelProto, pass: (model: onnx.IModelProto) => PruneResult): PruneResult {
  const rows: LayerOutcome[] = [];
  const unhandled: Record<string, number> = {};
  const notes: string[] = [];
  const r = withSubgraphs(model, pass, (body, { where, outerWeights }) => {
    for (const l of body.report.layers) {
      const m = l.reason !== undefined ? NOT_OWN.exec(l.reason) : null;
      const reason =
        m && outerWeights.has(m[1]!)
          ? l.reason!.replace(
              NOT_OWN,
              `'${m[1]}' is a weight of an enclosing graph whose own nodes read it too (one copy, pruned there if a pruned op reads it)`,
            )
          : l.reason;
      rows.push({ ...l, name: `${where}${l.name}`, ...(reason !== undefined ? { reason } : {}) });
    }
    for (const [k, v] of Object.entries(body.report.unhandled)) unhandled[k] = (unhandled[k] ?? 0) + v;
    notes.push(...body.report.notes);
  });
  const merged = { ...r.report.unhandled };
  for (const [k, v] of Object.entries(unhandled)) merged[k] = (merged[k] ?? 0) + v;
  if (rows.length === 0 && Object.keys(unhandled).length === 0) return r;
  const layers = [...r.report.layers, ...rows];
  return {
    model: r.model,
    report: {
      ...r.report,
      layers,
      unhandled: merged,
      sparsity: overallSparsity(layers),
      notes: [...new Set([...r.report.notes, ...notes])],
    },
  };
}
