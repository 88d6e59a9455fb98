import type { onnx } from './proto.js';

/**
 * A node's label in reports: its name, else the first value it writes. Output names are unique in a
 * valid graph, so unnamed nodes still get one row each (and --explain can find them again).
 */
export function nodeLabel(node: onnx.INodeProto): string {
  return node.name || (node.output ?? [])[0] || '';
}
