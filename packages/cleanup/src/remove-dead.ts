import { nodeLabel, type Graph } from '@shrink/core';
import type { NodeOutcome } from './types.js';

export interface DeadResult {
  nodes: number;
  initializers: number;
}

/**
 * Nodes none of whose outputs reach a graph output go (core's Graph.removeDeadNodes, which counts a
 * subgraph's reads of outer values as reads), then initializers nothing reads and value_info of
 * values that no longer exist.
 */
export function removeDead(graph: Graph, outcomes: NodeOutcome[]): DeadResult {
  const before = [...graph.nodes];
  const r = graph.removeDeadNodes();
  const live = new Set(graph.nodes);
  for (const n of before) {
    if (!live.has(n))
      outcomes.push({ name: nodeLabel(n), opType: n.opType, action: 'removed-dead', reason: 'nothing it writes reaches a graph output' });
  }
  return r;
}
