import { attrInt } from '../onnx/graph.js';
import { makeNode } from '../onnx/builder.js';
import { editedNode, forOps, refuse, rewrite } from './plan-helpers.js';
import type { OpsetAdapter } from './types.js';

const SOFTMAX_OPS = ['Softmax', 'LogSoftmax', 'Hardmax'];

/**
 * Before 13 these ops coerced the input to 2-D at `axis` (default 1) and normalised over everything
 * from `axis` on; from 13 they normalise over the one `axis` (default -1). They agree when `axis` is
 * the last dim; otherwise the old meaning is kept with Flatten → op(axis=-1) → Reshape to the input's shape.
 */
export const SOFTMAX_ADAPTERS: readonly OpsetAdapter[] = [
  ...forOps(SOFTMAX_OPS, 'up', 13, (node, scope) => {
    const x = (node.input ?? [])[0] ?? '';
    const y = (node.output ?? [])[0] ?? '';
    const axis = attrInt(node, 'axis', 1);
    const rank = scope.rank(x);
    if (axis === -1 || (rank !== undefined && (axis === rank - 1 || axis + rank === rank - 1))) {
      return rewrite([editedNode(node, { set: { axis: -1 } })], 'axis is the last dim');
    }
    const shape = scope.fresh(`${x}_shape`);
    const flat = scope.fresh(`${x}_2d`);
    const out2d = scope.fresh(`${y}_2d`);
    return rewrite(
      [
        makeNode('Shape', [x], [shape]),
        makeNode('Flatten', [x], [flat], { axis }),
        editedNode(node, { input: [flat], output: [out2d], set: { axis: -1 } }),
        makeNode('Reshape', [out2d, shape], [y]),
      ],
      `axis ${axis} not last: Flatten/Reshape around it`,
    );
  }),
  ...forOps(SOFTMAX_OPS, 'down', 13, (node, scope) => {
    const x = (node.input ?? [])[0] ?? '';
    const axis = attrInt(node, 'axis', -1);
    const rank = scope.rank(x);
    if (axis === -1) return rewrite([editedNode(node, { set: { axis: -1 } })], 'axis -1 made explicit');
    if (rank !== undefined && (axis === rank - 1 || axis === -1))
      return rewrite([editedNode(node, { set: { axis } })], 'axis is the last dim');
    return refuse(`axis ${axis} is not known to be the last dim, and before 13 the op normalised over every dim from axis on`);
  }),
];
