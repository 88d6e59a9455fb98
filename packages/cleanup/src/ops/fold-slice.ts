/**
 * Slice: starts/ends/axes/steps by attribute (opset < 10) or by input (opset >= 10), with the ONNX
 * clamping rules (negative indices count from the end; INT64_MAX/INT64_MIN mean "to the end";
 * negative steps walk backwards). Output dims must agree with core's shape rule, else the node is kept.
 */
import { attrInts, sliceAxis } from '@shrink/core';
import { strideIndex, stridesOf } from './broadcast-index.js';
import { folded, keep, type FoldOp } from './fold-types.js';
import { clampedInts, ruleDims } from './rule-dims.js';
import { takeElements } from './take-elements.js';

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export const SLICE_OPS: ReadonlyMap<string, FoldOp> = new Map([
  [
    'Slice',
    {
      needs: 'all',
      fold(node, view) {
        const x = view.value(0);
        if (!x) return keep('data input is missing');
        if (x.dtype === 'string') return keep('string tensors are not folded');
        const rank = x.dims.length;
        const byAttr = view.opset < 10;
        const starts = byAttr ? attrInts(node, 'starts') : clampedInts(view.value(1));
        const ends = byAttr ? attrInts(node, 'ends') : clampedInts(view.value(2));
        if (!starts || !ends) return keep('starts or ends are missing or not ints');
        const given = <T>(i: number, f: () => T): T | undefined => (node.input[i] ? f() : undefined);
        const axesIn = byAttr ? attrInts(node, 'axes') : given(3, () => clampedInts(view.value(3)));
        if (!byAttr && node.input[3] && !axesIn) return keep('axes are not ints');
        const stepsIn = byAttr ? undefined : given(4, () => clampedInts(view.value(4)));
        if (!byAttr && node.input[4] && !stepsIn) return keep('steps are not ints');
        const axes = axesIn ?? starts.map((_, i) => i);
        const steps = stepsIn ?? starts.map(() => 1);
        if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
          return keep('starts, ends, axes and steps differ in length');
        }
        // Per output axis: where it starts in the input, its step and its length (untouched axes: all of it).
        const start = new Array<number>(rank).fill(0);
        const step = new Array<number>(rank).fill(1);
        const dims = [...x.dims];
        const seen = new Set<number>();
        for (let i = 0; i < starts.length; i++) {
          const axis = axes[i]! < 0 ? axes[i]! + rank : axes[i]!;
          if (axis < 0 || axis >= rank || seen.has(axis)) return keep(`axis ${axes[i]} is outside rank ${rank} or repeated`);
          seen.add(axis);
          const dim = x.dims[axis]!;
          const s = steps[i]!;
          if (s === 0) return keep('a step is 0');
          const { start: b, len } = sliceAxis(starts[i]!, ends[i]!, s, dim);
          start[axis] = len > 0 ? b : 0;
          step[axis] = s;
          dims[axis] = len;
        }
        const rule = ruleDims(node, view)?.dims[0];
        if (!rule || !sameDims(rule, dims)) return keep(`the output dims [${dims.join(', ')}] disagree with the shape rule's`);
        const strides = stridesOf(x.dims);
        const base = start.reduce((acc, b, a) => acc + b * strides[a]!, 0);
        return folded({
          dtype: x.dtype,
          dims,
          data: takeElements(
            x.data,
            strideIndex(
              dims,
              step.map((s, a) => s * strides[a]!),
              base,
            ),
          ),
        });
      },
    },
  ],
]);
