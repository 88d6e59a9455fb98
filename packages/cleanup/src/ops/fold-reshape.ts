/**
 * Ops that keep a tensor's elements in order and give it new dims: Reshape, Flatten, Squeeze,
 * Unsqueeze. The dims come from core's shape rules; the elements are the input's.
 */
import { tensorNumel } from '@shrink/core';
import { folded, keep, type FoldOp } from './fold-types.js';
import { ruleDims } from './rule-dims.js';

const sameElements: FoldOp = {
  needs: 'all',
  fold(node, view) {
    const x = view.value(0);
    if (!x) return keep('data input is missing');
    if (x.dtype === 'string') return keep('string tensors are not folded');
    const dims = ruleDims(node, view)?.dims[0];
    if (!dims) return keep(`the output dims cannot be told from input dims [${x.dims.join(', ')}] and the op's attributes/inputs`);
    const n = tensorNumel(x.dims);
    // A Reshape to a different count, or a Squeeze of a dim that is not 1, fails at run time: keep it failing there.
    if (tensorNumel(dims) !== n || (n === 0 && dims.length !== x.dims.length)) {
      return keep(`dims [${dims.join(', ')}] do not hold the ${n} elements of [${x.dims.join(', ')}]`);
    }
    return folded({ dtype: x.dtype, dims, data: x.data });
  },
};

export const RESHAPE_OPS: ReadonlyMap<string, FoldOp> = new Map([
  ['Reshape', sameElements],
  ['Flatten', sameElements],
  ['Squeeze', sameElements],
  ['Unsqueeze', sameElements],
]);
