import { subgraphsOf, type onnx } from '@shrink/core';

/**
 * Whether a subgraph of `node` (at any depth) defines a value named `name`. Renaming the node's reads
 * of some outer value into `name` would then read the inner value instead, so such renames are not made.
 */
export function definesInside(node: onnx.INodeProto, name: string): boolean {
  for (const g of subgraphsOf(node)) {
    if ((g.input ?? []).some((v) => v.name === name) || (g.initializer ?? []).some((t) => t.name === name)) return true;
    for (const n of g.node ?? []) if ((n.output ?? []).includes(name) || definesInside(n, name)) return true;
  }
  return false;
}
