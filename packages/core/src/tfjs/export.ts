import type * as tfjs from '@tensorflow/tfjs';
import { z } from 'zod';
import { ShrinkError } from '../errors.js';
import { parseOptions } from '../options.js';
import type { onnx } from '../onnx/proto.js';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { LAYER_EXPORTERS } from './convert/export-layers.js';
import { OnnxEmitter, type OnnxValue } from './convert/onnx-emitter.js';

export const exportOptionsSchema = z
  .object({
    /** Default-domain opset; 13 is the first with per-axis Softmax. */
    opset: z.number().int().min(13).max(21).default(17),
    /** dim_param of the batch axis of every input and output. */
    batchDim: z.string().min(1).default('batch'),
    /**
     * Layout of rank-4 inputs in the ONNX model. 'nhwc' (default) takes the same tensors as the tfjs
     * model; 'nchw' takes PyTorch-style images and saves the first Transpose.
     */
    inputLayout: z.enum(['nhwc', 'nchw']).default('nhwc'),
  })
  .strict();

export type ExportOptions = z.input<typeof exportOptionsSchema>;

export interface ExportReport {
  /** Every converted layer with the ONNX nodes it became (Transposes it needed included). */
  layers: Array<{ name: string; className: string; onnxNodes: string[] }>;
  /** Layers that compute nothing at inference (dropout, noise, flatten of a matrix) and emitted no node. */
  skipped: Array<{ name: string; className: string; reason: string }>;
}

export const EXPORTABLE_LAYERS: readonly string[] = [...LAYER_EXPORTERS.keys()];

/**
 * A tfjs LayersModel (Sequential or functional) as an ONNX model computing the same outputs from the
 * same inputs: images stay NHWC at the graph boundary, and the graph moves to NCHW only around runs of
 * Conv/Pool/BatchNormalization, transposing back before anything whose result depends on axis order
 * (Flatten, Dense, Reshape) so the flattened order matches tfjs. The batch axis is symbolic.
 */
export function exportToOnnx(model: tfjs.LayersModel, options: ExportOptions = {}): { model: onnx.ModelProto; report: ExportReport } {
  const opts = parseOptions(exportOptionsSchema, options, 'exportToOnnx options');
  const em = new OnnxEmitter(opts.opset);
  const values = new Map<number, OnnxValue>();
  const report: ExportReport = { layers: [], skipped: [] };

  const inputs = model.inputs.map((t) => {
    if (t.dtype !== 'float32') {
      throw new ShrinkError('UNSUPPORTED_MODEL', `model input '${t.name}' is ${t.dtype}; only float32 inputs are exported`);
    }
    const nchw = t.shape.length === 4 && opts.inputLayout === 'nchw';
    const shape = nchw ? [t.shape[0]!, t.shape[3]!, t.shape[1]!, t.shape[2]!] : [...t.shape];
    em.reserve(t.name);
    values.set(t.id, { name: t.name, layout: nchw ? 'nchw' : 'native', rank: t.shape.length });
    return makeValueInfo(t.name, 'float32', [opts.batchDim, ...shape.slice(1)]);
  });

  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    if (layer.inboundNodes.length !== 1) {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `layer '${layer.name}' (${className}) is called ${layer.inboundNodes.length} times; shared layers are not exported`,
      );
    }
    const exporter = LAYER_EXPORTERS.get(className);
    if (!exporter) {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `layer '${layer.name}' (${className}) has no ONNX export; supported layers: ${EXPORTABLE_LAYERS.join(', ')}`,
      );
    }
    const node = layer.inboundNodes[0]!;
    if (node.outputTensors.length !== 1) {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `layer '${layer.name}' (${className}) has ${node.outputTensors.length} outputs; one is exported`,
      );
    }
    const xs = node.inputTensors.map((t) => {
      const v = values.get(t.id);
      if (!v)
        throw new ShrinkError(
          'UNSUPPORTED_MODEL',
          `layer '${layer.name}' (${className}) reads '${t.name}', which is not computed inside the model`,
        );
      return v;
    });
    em.begin(layer.name);
    const config = layer.getConfig() as Record<string, unknown>;
    const y = exporter({ layer, config, inputs: xs, inputShapes: node.inputTensors.map((t) => t.shape), em });
    const onnxNodes = em.end();
    values.set(node.outputTensors[0]!.id, y ?? xs[0]!);
    if (y) report.layers.push({ name: layer.name, className, onnxNodes });
    else report.skipped.push({ name: layer.name, className, reason: 'computes nothing at inference' });
  }

  const renamed = new Set<string>();
  const outputs = model.outputs.map((t) => {
    const layerName = t.sourceLayer.name;
    em.begin(layerName);
    const v = em.toLayout(values.get(t.id)!, 'native');
    const name = em.unique(layerName);
    // Graph outputs carry their tfjs layer's name; a graph input or an already named output gets an Identity.
    if (renamed.has(v.name) || !em.rename(v.name, name)) {
      em.nodes.push(makeNode('Identity', [v.name], [name], {}, { name: em.unique(`${layerName}/Identity`) }));
    }
    renamed.add(name);
    const entry = report.layers.find((l) => l.name === layerName);
    entry?.onnxNodes.push(...em.end());
    return makeValueInfo(name, 'float32', [opts.batchDim, ...t.shape.slice(1)]);
  });

  const graph = makeGraph({ name: model.name, nodes: em.nodes, inputs, outputs, initializers: em.initializers });
  return { model: makeModel(graph, { opset: opts.opset, producerName: 'shrink' }), report };
}
