/**
 * Shape of a tensor whose dims are fixed: a constant's, a graph input's declared shape when every dim
 * is a number (onnxruntime refuses a feed of other dims), or a computed value's whose dims follow from
 * those (propagate-shapes.ts). Values computed by nodes are never trusted to their declared shapes.
 */
import { folded, keep, type FoldOp } from './fold-types.js';
import { ruleDims } from './rule-dims.js';

export const SHAPE_OPS: ReadonlyMap<string, FoldOp> = new Map([
  [
    'Shape',
    {
      needs: 'none',
      fold(node, view) {
        if (!view.staticShape(0))
          return keep(
            `the shape of '${node.input[0] ?? ''}' is not fixed (only constants, graph inputs declared with every dim a number, and values computed from them by ops of known output dims are)`,
          );
        const values = ruleDims(node, view)?.values[0];
        if (!values) return keep('the shape rule gave no value');
        return folded({ dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) });
      },
    },
  ],
]);
