/**
 * Slice of rows of a constant float table (axis 0, step 1: GPT-2's learned positions wpe[p : p + t])
 * -> com.microsoft GatherBlockQuantized over the rows start..end, computed from the Slice's own starts and
 * ends as Slice would clamp them. The table is planned as a lookup (nbits-gather.ts): one packed copy,
 * read a few rows at a time, so a decode step dequantizes only the rows it uses.
 */
import { planWeight } from './nbits-matmul.js';
import type { Graph, onnx } from '@shrink/core';
import { asTable } from './nbits-gather.js';
import { skip, type NBitsOp } from './nbits-types.js';

/** The table's shape and whether it is float, without reading its values (the streamed path has none loaded). */
export type TableInfo = (name: string) => { readonly dims: readonly number[]; readonly float: boolean } | undefined;

/** A Slice that takes rows start..end (axis 0, step 1) of a constant 2-D float table, or why it is not one. */
export function rowSlice(
  node: onnx.NodeProto,
  graph: Graph,
  tableInfo: TableInfo,
): { table: string; starts: string; ends: string } | string {
  const [table, starts, ends, axes, steps] = node.input;
  // Slices of computed values and of small constants (shape vectors) are everywhere; only a float table is a candidate.
  const info = table ? tableInfo(table) : undefined;
  if (!table || !info || info.dims.length !== 2 || !info.float) return `data '${table ?? ''}' is not a constant 2-D float table`;
  if (!starts || !ends)
    return `Slice of table '${table}' takes its starts and ends as attributes (opset < 10); GatherBlockQuantized needs them as inputs`;
  const single = (name: string): bigint | undefined => {
    const v = graph.constantValue(name);
    return v && v.data.length === 1 ? BigInt(v.data[0] as number | bigint) : undefined;
  };
  if (axes) {
    const a = single(axes);
    if (a !== 0n && a !== -2n) return `Slice axes '${axes}' is not the constant [0]: GatherBlockQuantized looks up rows`;
  } else {
    // Without axes, starts holds one value per leading axis: one value slices rows only.
    const dims = graph.shapeOf(starts);
    const known = graph.constantValue(starts)?.data.length ?? (dims?.length === 1 ? dims[0] : undefined);
    if (known !== 1) return `Slice starts '${starts}' is not known to hold one value (rows only)`;
  }
  if (steps && single(steps) !== 1n) return `Slice steps '${steps}' is not the constant [1]: GatherBlockQuantized takes rows in order`;
  // Range (11) and Min/Max of int64 (12) compute the rows.
  if ((graph.opsetVersion('') ?? 0) < 12) return 'Slice of a table: the row range needs opset 12 or later (Min/Max of int64)';
  return { table, starts, ends };
}

export const planSliceNBits: NBitsOp = (node, { graph, blockSize }) => {
  const r = rowSlice(node, graph, (name) => {
    const v = graph.constantValue(name);
    return v ? { dims: v.dims, float: v.dtype === 'float32' || v.dtype === 'float16' } : undefined;
  });
  if (typeof r === 'string') return skip(r);
  const weight = asTable(r.table, planWeight(graph, r.table, true, 1), blockSize);
  if (typeof weight === 'string') return skip(weight);
  return { kind: 'plan', plan: { input: '', weight, output: node.output[0]!, lookup: true, rows: { starts: r.starts, ends: r.ends } } };
};
