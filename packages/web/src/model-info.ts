/**
 * What `shrink info` shows (core's modelInfo, the same data and rows as the CLI), plus what only the
 * page draws: the bytes by dtype and the largest tensors for its chart.
 */
import { countParams, modelInfo, readTensor, type ModelInfo as CoreModelInfo, type onnx } from '@shrink/core';

export interface ModelInfo extends CoreModelInfo {
  readonly bytesByDtype: Record<string, number>;
  /** The largest stored tensors (name, bytes), largest first. */
  readonly largest: Array<{ name: string; bytes: number }>;
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

/** No gzip size: compressing a large model at level 9 would hold the worker for seconds on every open. */
export function pageModelInfo(m: onnx.IModelProto, sizeBytes: number): ModelInfo {
  const params = countParams(m);
  const largest = (m.graph?.initializer ?? [])
    .map((t) => ({ name: t.name ?? '', bytes: tensorBytes(t) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 12);
  return { ...modelInfo(m, { sizeBytes }, params), bytesByDtype: params.bytesByDtype, largest };
}
