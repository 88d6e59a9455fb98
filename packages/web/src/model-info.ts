/**
 * What `shrink info` shows, computed with the same core measure functions: inputs/outputs, ops,
 * parameters by dtype, size, MACs, and the bytes by dtype and largest tensors for the chart.
 */
import { countMacs, countOps, countParams, describeMacs, Graph, readTensor, type onnx } from '@shrink/core';

export interface ValueRow {
  readonly name: string;
  readonly dtype: string;
  readonly shape: ReadonlyArray<number | string | null> | null;
}

export interface ModelInfo {
  readonly irVersion: number;
  readonly producer: string;
  readonly opsets: Record<string, number>;
  readonly inputs: ValueRow[];
  readonly outputs: ValueRow[];
  readonly params: number;
  readonly paramsByDtype: Record<string, number>;
  readonly bytesByDtype: Record<string, number>;
  /** The largest stored tensors (name, bytes), largest first. */
  readonly largest: Array<{ name: string; bytes: number }>;
  readonly sizeBytes: number;
  readonly ops: Record<string, number>;
  readonly nodes: number;
  readonly macs: number;
  readonly macsLowerBound: boolean;
  readonly macsMethod: string;
}

function valueRow(g: Graph, v: onnx.IValueInfoProto): ValueRow {
  const name = v.name ?? '';
  return { name, dtype: g.dtypeOf(name) ?? 'unknown', shape: g.shapeOf(name) ?? null };
}

function tensorBytes(t: onnx.ITensorProto): number {
  if (t.rawData && t.rawData.length > 0) return t.rawData.length;
  try {
    const v = readTensor(t);
    return v.data.byteLength;
  } catch {
    return 0;
  }
}

export function modelInfo(m: onnx.IModelProto, sizeBytes: number): ModelInfo {
  const g = Graph.from(m);
  const params = countParams(m);
  const macs = countMacs(m);
  const largest = (m.graph?.initializer ?? [])
    .map((t) => ({ name: t.name ?? '', bytes: tensorBytes(t) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 12);
  return {
    irVersion: Number(m.irVersion ?? 0),
    producer: [m.producerName, m.producerVersion].filter(Boolean).join(' '),
    opsets: Object.fromEntries((m.opsetImport ?? []).map((o) => [o.domain || 'ai.onnx', Number(o.version ?? 0)])),
    inputs: g.feedInputs.map((v) => valueRow(g, v)),
    outputs: g.outputs.map((v) => valueRow(g, v)),
    params: params.total,
    paramsByDtype: params.paramsByDtype,
    bytesByDtype: params.bytesByDtype,
    largest,
    sizeBytes,
    ops: countOps(m),
    nodes: m.graph?.node?.length ?? 0,
    macs: macs.total,
    macsLowerBound: macs.lowerBound,
    macsMethod: describeMacs(macs),
  };
}
