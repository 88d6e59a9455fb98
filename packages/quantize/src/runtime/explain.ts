/**
 * `--explain`: how far each quantized node's output drifts from the float model's, on real data (core's
 * layerErrors over the nodes the report says were quantized).
 */
import type { Ctx, onnx } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { layerErrors, type LayerError, type LayerErrorOptions } from '@shrink/core/runtime';
import type { QuantizeReport } from '../types.js';

export type { LayerError };
export type ExplainOptions = LayerErrorOptions;

export function explainQuantization(
  float: onnx.IModelProto,
  quantized: onnx.IModelProto,
  report: QuantizeReport,
  data: Dataset,
  opts: ExplainOptions = {},
  ctx?: Ctx,
): Promise<LayerError[]> {
  return layerErrors(
    float,
    quantized,
    report.nodes.filter((n) => n.action === 'quantized'),
    data,
    opts,
    ctx,
  );
}
