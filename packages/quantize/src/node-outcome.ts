import { nodeLabel, type onnx } from '@shrink/core';
import type { NodeOutcome } from './types.js';

/** A report row: every pass labels its nodes with nodeLabel, so unnamed nodes keep a row each. */
export function nodeOutcome(
  node: onnx.INodeProto,
  action: NodeOutcome['action'],
  more: Omit<NodeOutcome, 'name' | 'opType' | 'action'> = {},
): NodeOutcome {
  return { name: nodeLabel(node), opType: node.opType ?? '', action, ...more };
}
