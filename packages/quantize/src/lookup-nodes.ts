/**
 * The graph pieces of a GatherBlockQuantized lookup, written the same way by the in-memory placer
 * (nbits-place.ts) and the streamed planner (stream/plan-streamed.ts), so both give byte-identical files.
 */
import { makeNode, makeValueInfo, type Graph, type onnx } from '@shrink/core';

export const MS_DOMAIN = 'com.microsoft';

/** Ops whose table becomes GatherBlockQuantized rows (a lookup), not MatMulNBits blocks; placed after every MatMul/Gemm. */
export const isLookup = (opType: string | null | undefined): boolean => opType === 'Gather' || opType === 'Slice';

/** A Reshape of a head's packed codes [N, n_blocks, blob] to the [N, K * bits / 8] a lookup reads, before `node`. */
export function lookupRows(graph: Graph, b: string, N: number, K: number, bits: number, node: onnx.NodeProto): string {
  const shape = graph.uniqueName(`${b}_rows_shape`);
  graph.setInitializer(shape, 'int64', [2], new BigInt64Array([BigInt(N), BigInt((K * bits) / 8)]));
  const rows = graph.uniqueName(`${b}_rows`);
  graph.addNode(makeNode('Reshape', [b, shape], [rows], {}, { name: graph.uniqueNodeName(`${b}_rows`) }), { before: node });
  return rows;
}

/**
 * The row indices a Slice takes, as it clamps them for step 1: a bound below 0 counts from the end, then
 * each is held to [0, rows]; Range(start, end) is empty when end <= start, as the Slice would be.
 */
export function sliceRowIndices(
  graph: Graph,
  node: onnx.NodeProto,
  rows: { starts: string; ends: string },
  V: number,
): { indices: string; nodes: onnx.NodeProto[] } {
  const base = node.name || node.output[0] || 'Slice';
  const nodes: onnx.NodeProto[] = [];
  const konst = (suffix: string, dims: number[], values: bigint[]): string => {
    const name = graph.uniqueName(`${base}_${suffix}`);
    graph.setInitializer(name, 'int64', dims, BigInt64Array.from(values));
    return name;
  };
  const scalarShape = konst('scalar_shape', [0], []);
  const zero = konst('zero', [], [0n]);
  const count = konst('rows', [], [BigInt(V)]);
  const op = (type: string, inputs: string[], attrs: Record<string, number> = {}): string => {
    const out = graph.uniqueName(`${base}_${type}_output`);
    nodes.push(makeNode(type, inputs, [out], attrs, { name: graph.uniqueNodeName(`${base}_${type}`) }));
    return out;
  };
  const bound = (name: string): string => {
    // Slice takes int32 or int64 bounds; Range wants all three in one type.
    const x = op('Reshape', [op('Cast', [name], { to: 7 }), scalarShape]);
    const fromEnd = op('Where', [op('Less', [x, zero]), op('Add', [x, count]), x]);
    return op('Max', [op('Min', [fromEnd, count]), zero]);
  };
  const one = konst('one', [], [1n]);
  const indices = op('Range', [bound(rows.starts), bound(rows.ends), one]);
  return { indices, nodes };
}

export interface LookupParts {
  data: string;
  indices: string;
  scales: string;
  zeroPoints?: string;
  blockSize: number;
  bits: number;
  /** The scales' type, which the lookup computes in. */
  floatType: 'float32' | 'float16';
}

/**
 * Replaces `node` (a Gather, or a row Slice with `before` computing its indices) with GatherBlockQuantized
 * writing its output. Returns the new node.
 */
export function placeLookupNode(graph: Graph, node: onnx.NodeProto, p: LookupParts, before: onnx.NodeProto[] = []): onnx.NodeProto {
  const output = node.output[0]!;
  const q = makeNode(
    'GatherBlockQuantized',
    [p.data, p.indices, p.scales, ...(p.zeroPoints ? [p.zeroPoints] : [])],
    [output],
    { gather_axis: 0, quantize_axis: 1, block_size: p.blockSize, bits: p.bits },
    { name: graph.uniqueNodeName(`${node.name || node.opType}_Q${p.bits}`), domain: MS_DOMAIN },
  );
  // A com.microsoft op's output type is not inferred: said here (the scales' type, as the lookup computes),
  // so q4f16's float16 step types it and casts where a float32 node reads it.
  if (graph.dtypeOf(output) === undefined) graph.setValueInfo(makeValueInfo(output, p.floatType));
  graph.replaceNode(node, [...before, q]);
  return q;
}
