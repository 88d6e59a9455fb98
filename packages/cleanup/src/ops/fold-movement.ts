/**
 * Ops that move elements without computing new ones: Transpose, Concat, Gather, Expand. Output dims
 * come from core's shape rules (checked against the inputs here); elements are picked by index.
 */
import { attrInt, attrInts, broadcastShapes, tensorNumel, type TensorValue } from '@shrink/core';
import { broadcastIndex, strideIndex, stridesOf } from './broadcast-index.js';
import { folded, keep, type FoldDecision, type FoldOp, type FoldView } from './fold-types.js';
import { intValues, ruleDims } from './rule-dims.js';
import { emptyLike, takeElements } from './take-elements.js';

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Every given input as a constant of numbers (strings are not folded), or why not. */
function numericInputs(node: { input: string[] }, view: FoldView): TensorValue[] | string {
  const out: TensorValue[] = [];
  for (let i = 0; i < node.input.length; i++) {
    if (!node.input[i]) continue;
    const v = view.value(i);
    if (!v) return `input ${i} is not a constant`;
    if (v.dtype === 'string') return 'string tensors are not folded';
    out.push(v);
  }
  return out;
}

const transpose: FoldOp = {
  needs: 'all',
  fold(node, view) {
    const ins = numericInputs(node, view);
    if (typeof ins === 'string') return keep(ins);
    const x = ins[0]!;
    const rank = x.dims.length;
    const perm = attrInts(node, 'perm') ?? x.dims.map((_, i) => rank - 1 - i);
    if (perm.length !== rank || !perm.every((p, i) => perm.indexOf(p) === i && p >= 0 && p < rank)) {
      return keep(`perm [${perm.join(', ')}] is not a permutation of ${rank} axes`);
    }
    const dims = perm.map((p) => x.dims[p]!);
    const strides = stridesOf(x.dims);
    return folded({
      dtype: x.dtype,
      dims,
      data: takeElements(
        x.data,
        strideIndex(
          dims,
          perm.map((p) => strides[p]!),
        ),
      ),
    });
  },
};

const concat: FoldOp = {
  needs: 'all',
  fold(node, view) {
    const ins = numericInputs(node, view);
    if (typeof ins === 'string') return keep(ins);
    if (ins.length === 0) return keep('no inputs');
    const dims = ruleDims(node, view)?.dims[0];
    if (!dims) return keep('the output dims cannot be told');
    const rank = dims.length;
    const raw = attrInt(node, 'axis', 0);
    const axis = raw < 0 ? raw + rank : raw;
    if (axis < 0 || axis >= rank) return keep(`axis ${raw} is outside rank ${rank}`);
    const dtype = ins[0]!.dtype;
    for (const v of ins) {
      if (v.dtype !== dtype) return keep(`inputs are ${dtype} and ${v.dtype}`);
      if (v.dims.length !== rank || v.dims.some((d, i) => i !== axis && d !== dims[i])) {
        return keep(`input dims [${v.dims.join(', ')}] do not concatenate into [${dims.join(', ')}] along axis ${axis}`);
      }
    }
    const outer = tensorNumel(dims.slice(0, axis));
    const inner = tensorNumel(dims.slice(axis + 1));
    const out = emptyLike(ins[0]!.data, tensorNumel(dims));
    const write = out as unknown as { set(a: ArrayLike<unknown>, at: number): void };
    let at = 0;
    for (let o = 0; o < outer; o++) {
      for (const v of ins) {
        const block = v.dims[axis]! * inner;
        write.set(v.data.subarray(o * block, (o + 1) * block), at);
        at += block;
      }
    }
    return folded({ dtype, dims, data: out });
  },
};

const gather: FoldOp = {
  needs: 'all',
  fold(node, view): FoldDecision {
    const ins = numericInputs(node, view);
    if (typeof ins === 'string') return keep(ins);
    const [data, indicesValue] = ins;
    if (!data || !indicesValue) return keep('data or indices input is missing');
    const indices = intValues(indicesValue);
    if (!indices) return keep(`indices are ${indicesValue.dtype}, expected int32 or int64`);
    const rank = data.dims.length;
    const raw = attrInt(node, 'axis', 0);
    const axis = raw < 0 ? raw + rank : raw;
    if (axis < 0 || axis >= rank) return keep(`axis ${raw} is outside rank ${rank}`);
    const len = data.dims[axis]!;
    if (indices.some((i) => i < -len || i >= len)) return keep(`an index is outside [-${len}, ${len - 1}]`);
    const dims = [...data.dims.slice(0, axis), ...indicesValue.dims, ...data.dims.slice(axis + 1)];
    const rule = ruleDims(node, view)?.dims[0];
    if (!rule || !sameDims(rule, dims)) return keep('the output dims cannot be told');
    const outer = tensorNumel(data.dims.slice(0, axis));
    const inner = tensorNumel(data.dims.slice(axis + 1));
    const index = new Uint32Array(tensorNumel(dims));
    let at = 0;
    for (let o = 0; o < outer; o++) {
      for (const raw of indices) {
        const k = raw < 0 ? raw + len : raw;
        for (let e = 0; e < inner; e++) index[at++] = (o * len + k) * inner + e;
      }
    }
    return folded({ dtype: data.dtype, dims, data: takeElements(data.data, index) });
  },
};

const expand: FoldOp = {
  needs: 'all',
  fold(node, view) {
    const ins = numericInputs(node, view);
    if (typeof ins === 'string') return keep(ins);
    const [x, shape] = ins;
    if (!x || !shape) return keep('input or shape is missing');
    const target = intValues(shape);
    if (!target || target.some((d) => d < 0)) return keep('shape is not a list of non-negative ints');
    const dims = broadcastShapes(x.dims, target);
    const rule = ruleDims(node, view)?.dims[0];
    if (!dims || !rule || !sameDims(rule, dims)) return keep(`[${x.dims.join(', ')}] does not broadcast to [${target.join(', ')}]`);
    return folded({ dtype: x.dtype, dims, data: takeElements(x.data, broadcastIndex(dims, x.dims)) });
  },
};

export const MOVEMENT_OPS: ReadonlyMap<string, FoldOp> = new Map([
  ['Transpose', transpose],
  ['Concat', concat],
  ['Gather', gather],
  ['Expand', expand],
]);
