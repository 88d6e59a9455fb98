/**
 * Which If/Loop/Scan body a graph pass is running on. withSubgraphs runs a pass on each body as a model
 * of its own, so the pass's node selection cannot see where the body sits; this tells it. Passes are
 * synchronous, so a scope set around one body's pass covers exactly that pass.
 */
import type { onnx } from './proto.js';

let current: string | undefined;

/** `run` with `where` (a body path, 'If_0/then_branch/') as the body being rewritten. */
export function inBody<R>(where: string, run: () => R): R {
  const outer = current;
  current = where;
  try {
    return run();
  } finally {
    current = outer;
  }
}

/** The body path a pass is running on, or undefined on the main graph. */
export function currentBody(): string | undefined {
  return current;
}

/**
 * A body's path, as reports name its nodes (`path` + this + the node's label): the holding node's name
 * (else its op type), the attribute, and for a list of graphs the index.
 */
export function bodyWhere(path: string, node: onnx.INodeProto, attr: onnx.IAttributeProto, index?: number): string {
  return `${path}${node.name || node.opType || 'node'}/${attr.name ?? ''}${index === undefined ? '' : `[${index}]`}/`;
}
