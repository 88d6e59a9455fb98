/**
 * Constant nodes of the main graph become initializers of the same name, as onnxruntime does when it
 * loads a model. Exporters that keep every weight in a Constant node (PaddleOCR's paddle2onnx: no
 * initializers at all) then have weights the other passes can rewrite: pruning takes initializers
 * only. A Constant writing a graph output stays (its name is an output, not a stored tensor).
 */
import { constantTensor, isDefaultDomain, nodeLabel, onnx, type Graph } from '@shrink/core';
import type { NodeOutcome } from './types.js';

export function constantsToInitializers(graph: Graph, outcomes: NodeOutcome[]): number {
  let moved = 0;
  for (const node of [...graph.nodes]) {
    if (node.opType !== 'Constant' || !isDefaultDomain(node)) continue;
    const name = node.output[0];
    const kept = (reason: string) => outcomes.push({ name: nodeLabel(node), opType: 'Constant', action: 'kept', reason });
    if (!name) continue;
    if (graph.isGraphOutput(name)) {
      kept(`it writes graph output '${name}'`);
      continue;
    }
    const t = constantTensor(node);
    if (!t) {
      kept('its value is sparse');
      continue;
    }
    graph.removeNode(node);
    // A copy named after the output: the attribute's tensor may carry another name or none; its bytes are shared.
    graph.setInitializer(onnx.TensorProto.create({ ...t, name }));
    moved++;
    outcomes.push({ name: nodeLabel(node), opType: 'Constant', action: 'to-initializer', reason: `stored as initializer '${name}'` });
  }
  return moved;
}
