/**
 * What `shrink info` and the web page say about one model, as plain data (the CLI's --json, and what the
 * page's worker posts to the page): computed from the proto alone, so it runs in a browser too. The file's
 * own bytes come from the caller, who knows how the model was stored.
 */
import { Graph } from '../onnx/graph.js';
import type { onnx } from '../onnx/proto.js';
import { countMacs, describeMacs } from '../measure/macs.js';
import { countOps } from '../measure/ops.js';
import { countParams, type ParamCount } from '../measure/params.js';

export interface ValueInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: ReadonlyArray<number | string | null> | null;
}

export interface ModelInfo {
  readonly irVersion: number;
  /** producer_name and version, else the exporter guessed from its marks (and saying so), else ''. */
  readonly producer: string;
  /** Domain ('ai.onnx' for the default one) → opset version. */
  readonly opsets: Record<string, number>;
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** Every weight, float or quantized codes; scales and zero points are not parameters. */
  readonly params: number;
  readonly nonZeroParams: number;
  readonly paramsByDtype: Record<string, number>;
  readonly quantizedOps: Record<string, number>;
  readonly quantParams: number;
  readonly subgraphs: ParamCount['subgraphs'];
  readonly storedByDtype: Record<string, number>;
  readonly sizeBytes: number;
  /** Absent where the caller did not pay for compressing the model (the page, for big models). */
  readonly gzipBytes?: number;
  readonly ops: Record<string, number>;
  readonly nodes: number;
  readonly macs: number;
  readonly macsLowerBound: boolean;
  readonly macsUnknown: string[];
  readonly macsAssumed: Record<string, number>;
  readonly macsInputShapes: Record<string, number[]>;
  readonly macsMethod: string;
}

function valueInfo(g: Graph, v: onnx.IValueInfoProto): ValueInfo {
  const name = v.name ?? '';
  return { name, dtype: g.dtypeOf(name) ?? 'unknown', shape: g.shapeOf(name) ?? null };
}

/**
 * The exporter, from producer_name, else from the names it leaves: paddle2onnx writes no producer but
 * names its dynamic dims 'p2o.DynamicDimension.N'; tf2onnx and PyTorch leave their own marks.
 */
function producerOf(m: onnx.IModelProto): string {
  const named = [m.producerName, m.producerVersion].filter(Boolean).join(' ');
  if (named) return named;
  const dims = (m.graph?.input ?? []).flatMap((v) => (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam ?? ''));
  if (dims.some((d) => d.startsWith('p2o.'))) return 'paddle2onnx (from its dim names; no producer_name)';
  const names = (m.graph?.node ?? []).slice(0, 50).map((n) => n.name ?? '');
  if (names.some((n) => n.includes('StatefulPartitionedCall/'))) return 'tf2onnx (from its node names; no producer_name)';
  if (names.some((n) => n.startsWith('/') && n.includes('/'))) return 'pytorch (from its node names; no producer_name)';
  return '';
}

/** `params` may be passed by a caller that counted them already (countParams decodes every tensor). */
export function modelInfo(
  m: onnx.IModelProto,
  bytes: { sizeBytes: number; gzipBytes?: number | undefined },
  params: ParamCount = countParams(m),
): ModelInfo {
  const g = Graph.from(m);
  const macs = countMacs(m);
  // Key order is the CLI's --json order.
  return {
    irVersion: Number(m.irVersion ?? 0),
    producer: producerOf(m),
    opsets: Object.fromEntries((m.opsetImport ?? []).map((o) => [o.domain || 'ai.onnx', Number(o.version ?? 0)])),
    inputs: g.feedInputs.map((v) => valueInfo(g, v)),
    outputs: g.outputs.map((v) => valueInfo(g, v)),
    params: params.total,
    nonZeroParams: params.nonZero + params.quantizedNonZero,
    paramsByDtype: params.paramsByDtype,
    quantizedOps: params.quantizedOps,
    quantParams: params.quantParams,
    subgraphs: params.subgraphs,
    storedByDtype: params.byDtype,
    sizeBytes: bytes.sizeBytes,
    ...(bytes.gzipBytes === undefined ? {} : { gzipBytes: bytes.gzipBytes }),
    ops: countOps(m),
    nodes: m.graph?.node?.length ?? 0,
    macs: macs.total,
    macsLowerBound: macs.lowerBound,
    macsUnknown: macs.unknown,
    macsAssumed: macs.assumed,
    macsInputShapes: macs.inputShapes,
    macsMethod: describeMacs(macs),
  };
}
