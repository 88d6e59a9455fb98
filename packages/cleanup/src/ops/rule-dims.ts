/**
 * Output dims (and small int values) of a node from core's shape rules, fed with constants: the
 * semantics of Reshape's 0 and -1, Squeeze/Unsqueeze axes (attribute or input by opset), Shape's
 * start/end and Concat/Gather/Expand dims live there once, for shape inference and folding alike.
 */
import { attrInt, attrInts, attrString, SHAPE_RULES, type onnx, type ShapeRuleInput, type TensorValue } from '@shrink/core';
import type { FoldView } from './fold-types.js';

export interface RuleResult {
  /** Dims of each output; undefined where the rule could not tell. */
  readonly dims: readonly (readonly number[] | undefined)[];
  /** Values the rule computed for small int outputs (Shape). */
  readonly values: readonly (readonly number[] | undefined)[];
}

/** An int32/int64 constant as numbers; undefined for other types or values past 2^53. */
export function intValues(v: TensorValue | undefined): number[] | undefined {
  if (!v || (v.dtype !== 'int64' && v.dtype !== 'int32')) return undefined;
  const out = Array.from(v.data as ArrayLike<number | bigint>, (x) => Number(x));
  return out.every((x) => Number.isSafeInteger(x)) ? out : undefined;
}

/**
 * An int32/int64 constant as numbers, values past 2^53 clamped to ±(2^53 - 1). For Slice's starts and
 * ends only: Slice clamps every index to the dim, so INT64_MAX and INT64_MIN (exporters' "to the end")
 * keep their meaning.
 */
export function clampedInts(v: TensorValue | undefined): number[] | undefined {
  if (!v || (v.dtype !== 'int64' && v.dtype !== 'int32')) return undefined;
  const max = Number.MAX_SAFE_INTEGER;
  return Array.from(v.data as ArrayLike<number | bigint>, (x) => Math.min(Math.max(Number(x), -max), max));
}

/** What core's shape rule for the node's op says of its outputs; undefined when there is no rule or it failed. */
export function ruleDims(node: onnx.NodeProto, view: FoldView): RuleResult | undefined {
  const rule = SHAPE_RULES.get(node.opType);
  if (!rule) return undefined;
  const values: (number[] | undefined)[] = [];
  const input: ShapeRuleInput = {
    node,
    opset: view.opset,
    shape: (i) => view.staticShape(i),
    value: (i) => (node.opType === 'Slice' ? clampedInts : intValues)(view.value(i)),
    floats: (i) => {
      const v = view.value(i);
      return v && (v.dtype === 'float32' || v.dtype === 'float64') ? Array.from(v.data as ArrayLike<number>) : undefined;
    },
    int: (name, dflt) => attrInt(node, name, dflt),
    ints: (name) => attrInts(node, name),
    string: (name, dflt) => attrString(node, name, dflt),
    setValue: (i, v) => {
      values[i] = v;
    },
  };
  try {
    return { dims: rule(input), values };
  } catch {
    // A rule meeting what it does not expect (a rank mismatch) tells nothing: the node is kept.
    return undefined;
  }
}
