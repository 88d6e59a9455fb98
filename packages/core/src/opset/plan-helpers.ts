import { makeAttribute, type AttrInput } from '../onnx/builder.js';
import { findAttr } from '../onnx/graph.js';
import { onnx } from '../onnx/proto.js';
import { INT_DTYPE_RANGE, makeTensor, type DType, type TensorValue } from '../onnx/tensor.js';
import type { AdapterPlan, AdapterScope, OpsetAdapter, OpsetDirection } from './types.js';

/** A copy of `node` with attributes removed and/or set, and optionally new inputs or op type. */
export function editedNode(
  node: onnx.INodeProto,
  edit: {
    remove?: readonly string[];
    set?: Record<string, AttrInput>;
    input?: readonly string[];
    opType?: string;
    output?: readonly string[];
  },
): onnx.NodeProto {
  const drop = new Set([...(edit.remove ?? []), ...Object.keys(edit.set ?? {})]);
  const attribute = (node.attribute ?? []).filter((a) => !drop.has(a.name ?? ''));
  for (const [k, v] of Object.entries(edit.set ?? {})) attribute.push(makeAttribute(k, v));
  attribute.sort((a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : 1));
  const out = onnx.NodeProto.create({
    ...node,
    opType: edit.opType ?? node.opType ?? '',
    input: [...(edit.input ?? node.input ?? [])],
    output: [...(edit.output ?? node.output ?? [])],
    attribute,
  });
  return out;
}

/** Whether the node carries the attribute at all (absent and default are different things in old schemas). */
export function hasAttr(node: onnx.INodeProto, name: string): boolean {
  return findAttr(node, name) !== undefined;
}

export const keep: AdapterPlan = { kind: 'keep' };

export function refuse(why: string): AdapterPlan {
  return { kind: 'refuse', why };
}

export function rewrite(
  nodes: readonly onnx.INodeProto[],
  what: string,
  initializers: readonly onnx.ITensorProto[] = [],
  note?: string,
): AdapterPlan {
  return { kind: 'rewrite', nodes, initializers, what, ...(note ? { note } : {}) };
}

/** A 1-D int64 initializer under a fresh name. */
export function int64Const(
  scope: AdapterScope,
  base: string,
  values: readonly number[],
  dims: readonly number[] = [values.length],
): onnx.TensorProto {
  return makeTensor(scope.fresh(base), 'int64', dims, [...values]);
}

/** A float initializer of `dtype` (float32 when the dtype is not a float type we can write). */
export function floatConst(
  scope: AdapterScope,
  base: string,
  dtype: DType | undefined,
  values: readonly number[],
  dims: readonly number[] = [values.length],
): onnx.TensorProto {
  const d: DType = dtype === 'float16' || dtype === 'float64' ? dtype : 'float32';
  return makeTensor(scope.fresh(base), d, dims, [...values]);
}

/** A scalar (rank 0) of the value's own element type, for inputs that must match it (Clip bounds, Pad value). */
export function scalarLike(scope: AdapterScope, base: string, like: string, value: number): onnx.TensorProto {
  const d = scope.dtype(like) ?? 'float32';
  if (d === 'float16' || d === 'float64' || d === 'float32') return makeTensor(scope.fresh(base), d, [], [value]);
  if (d === 'bool' || d === 'string' || d === 'bfloat16') return makeTensor(scope.fresh(base), 'float32', [], [value]);
  return makeTensor(scope.fresh(base), d, [], [Math.trunc(clampInt(value, d))]);
}

/** `v` within `d`'s range, and within the exact integers of a double (64-bit values go in as numbers). */
function clampInt(v: number, d: DType): number {
  const r = INT_DTYPE_RANGE[d];
  if (!r) return v;
  return Math.min(r[1], Number.MAX_SAFE_INTEGER, Math.max(r[0], Number.MIN_SAFE_INTEGER, v));
}

/** The plain numbers of a small constant tensor (int64 as numbers). */
export function constNumbers(v: TensorValue): number[] {
  return Array.from(v.data as ArrayLike<number | bigint>, (x) => Number(x));
}

/** Registers one rule for several ops. */
export function forOps(ops: readonly string[], direction: OpsetDirection, version: number, plan: OpsetAdapter['plan']): OpsetAdapter[] {
  return ops.map((op) => ({ op, direction, version, plan }));
}
