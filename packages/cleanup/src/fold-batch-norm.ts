/**
 * BatchNormalization folded into the Conv before it, through core's foldBatchNormsInGraph (the same
 * rewrite quantize's pre-step uses), on the main graph like every cleanup step; each BN is listed with
 * the Conv that took it or why it stays.
 */
import { foldBatchNormsInGraph, type Graph } from '@shrink/core';
import type { NodeOutcome } from './types.js';

export function foldBatchNorms(graph: Graph, outcomes: NodeOutcome[]): { folded: number; kept: number } {
  const r = foldBatchNormsInGraph(graph);
  for (const f of r.folded) {
    outcomes.push({ name: f.batchNorm, opType: 'BatchNormalization', action: 'folded-batch-norm', reason: `folded into ${f.conv}` });
  }
  for (const k of r.kept) outcomes.push({ name: k.batchNorm, opType: 'BatchNormalization', action: 'kept', reason: k.reason });
  return { folded: r.folded.length, kept: r.kept.length };
}
