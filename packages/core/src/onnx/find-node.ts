import type { Graph } from './graph.js';
import type { onnx } from './proto.js';

/** The report's node in a graph: by name, or by first output for unnamed nodes (as the passes label them). */
export function findNode(graph: Graph, label: string): onnx.NodeProto | undefined {
  if (label === '') return undefined;
  return graph.node(label) ?? graph.nodes.find((n) => n.name === '' && n.output[0] === label);
}
