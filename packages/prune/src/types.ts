import type { onnx } from '@shrink/core';

/** What pruning did to one weight-bearing node. */
export interface LayerOutcome {
  name: string;
  opType: string;
  action: 'pruned' | 'skipped';
  reason?: string;
  /** The weight tensor looked at. */
  weight?: string;
  /** Elements before and after (structured pruning shrinks tensors; unstructured keeps the size). */
  elementsBefore?: number;
  elementsAfter?: number;
  /** Zero elements / elements after the pass. */
  sparsity?: number;
  /** Structured: units or channels removed / kept. */
  unitsRemoved?: number;
  unitsKept?: number;
}

export interface PruneReport {
  method: string;
  targetSparsity: number;
  layers: LayerOutcome[];
  /** Op types with no handler, passed through untouched: op type -> node count. */
  unhandled: Record<string, number>;
  /** Whole-model sparsity of the pruned weights (zeros / elements over the layers pruned). */
  sparsity: number;
  notes: string[];
}

export interface PruneResult {
  model: onnx.ModelProto;
  report: PruneReport;
}
