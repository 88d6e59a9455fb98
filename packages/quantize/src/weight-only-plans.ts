/**
 * The main graph's nodes the weight-only pass would quantize, with their plans, one at a time: each plan
 * holds its weight's float copy (transposed, scaled), so callers keep what they need and drop the rest.
 * If/Loop bodies are not walked (withSubgraphs does that for the pass itself).
 */
import { Graph, isDefaultDomain, selectNodes, ShrinkError, type onnx } from '@shrink/core';
import { NBITS_OPS } from './nbits.js';
import type { NBitsPlan, NBitsView } from './ops/nbits-types.js';
import type { ResolvedQuantizeOptions } from './options.js';

export function* weightOnlyPlans(
  model: onnx.IModelProto,
  o: Pick<ResolvedQuantizeOptions, 'include' | 'exclude'> & { blockSize?: number },
): Generator<{ node: onnx.NodeProto; plan: NBitsPlan; replan: () => NBitsPlan }> {
  const graph = Graph.from(model);
  const selector = selectNodes(graph, o);
  const view: NBitsView = { graph, ...(o.blockSize !== undefined ? { blockSize: o.blockSize } : {}) };
  for (const node of graph.nodes) {
    const handler = isDefaultDomain(node) ? NBITS_OPS.get(node.opType) : undefined;
    if (!handler || !selector.isSelected(node).ok) continue;
    const d = handler(node, view);
    if (d.kind !== 'plan') continue;
    // Planning again makes the weight's float copy again: for callers that keep the node, not the copy.
    const replan = (): NBitsPlan => {
      const again = handler(node, view);
      if (again.kind !== 'plan') throw new ShrinkError('RUNTIME', `weight-only plan of '${node.name}' changed between two readings`);
      return again.plan;
    };
    yield { node, plan: d.plan, replan };
  }
}
