import type { onnx } from '@shrink/core';
import type { WeightFormat } from './weight-format.js';

/** What happened to one node. */
export interface NodeOutcome {
  name: string;
  opType: string;
  action: 'quantized' | 'skipped' | 'kept-float';
  /** Why it was skipped or kept float (excluded, no constant weight, unsupported attribute, fallback...). */
  reason?: string;
  /** Nodes that replaced it (for --explain and the report). */
  replacedBy?: string[];
  /** Weight tensors written: name, dtype, elements, bytes. */
  weights?: Array<{ name: string; dtype: string; elements: number; bytes: number }>;
}

/** The report of one quantization run: what changed and what did not. */
export interface QuantizeReport {
  dtype: string;
  mode: 'dynamic' | 'static' | 'weight-only' | 'fp16' | 'tfjs';
  nodes: NodeOutcome[];
  /** Op types with no handler, passed through untouched: op type -> node count. */
  unhandled: Record<string, number>;
  /** Values clamped to the target range (fp16 overflow), when any. */
  clamped?: number;
  /** How 8-bit weights were stored (dynamic and static modes). */
  weightFormat?: WeightFormat;
  /** Calibration facts (static): method, samples, ranges per tensor. */
  calibration?: { method: string; samples: number; data: string; ranges: Record<string, [number, number]> };
  notes: string[];
}

export interface PassResult {
  model: onnx.ModelProto;
  report: QuantizeReport;
}
