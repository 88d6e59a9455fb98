import type * as tfjs from '@tensorflow/tfjs';
import { z } from 'zod';
import { ShrinkError } from '../errors.js';
import { parseOptions } from '../options.js';
import { Graph } from '../onnx/graph.js';
import type { onnx } from '../onnx/proto.js';
import { ACTIVATION_OPS } from './convert/import-activations.js';
import { describeNode, identityPerm, ImportBuilder, samePerm, type Tf } from './convert/import-builder.js';
import { OP_IMPORTERS } from './convert/import-ops.js';
import { shapeComputations, staticShapes } from './convert/import-static.js';
import { intsAttr } from './convert/onnx-attrs.js';
import { NHWC_TO_NCHW } from './convert/permute.js';

export const importOptionsSchema = z
  .object({
    /**
     * What rank-4 graph inputs hold. 'nchw': images in PyTorch layout, so the tfjs model takes them NHWC;
     * 'nhwc': taken as they are; 'auto' (default): as they are when the input only reaches a Transpose to NCHW
     * (graphs Shrink exported from tfjs) or never reaches a spatial op (Conv, pools, BatchNormalization,
     * Pad: an MLP over image pixels); NCHW otherwise.
     */
    inputLayout: z.enum(['auto', 'nchw', 'nhwc']).default('auto'),
  })
  .strict();

export type ImportOptions = z.input<typeof importOptionsSchema>;

export interface ImportReport {
  /** How each graph input is fed to the tfjs model: 'nchw' inputs must be transposed to NHWC first. */
  inputs: Array<{ name: string; layout: 'nchw' | 'as-is'; tfjsShape: (number | null)[] }>;
  /**
   * Every node with the tfjs layers it became; [] for nodes that need no layer (Transpose, Identity,
   * Dropout, Constant, shape-keeping Reshape). A node fused into a neighbour (an activation, a bias Add)
   * lists that neighbour's layers and names it in `fusedInto`. Nodes that only compute shapes for
   * Reshape and the like (Shape -> Gather -> Concat ...) have `shapeOnly: true`: their results were
   * worked out by static shape inference.
   */
  nodes: Array<{ name: string; opType: string; layers: string[]; fusedInto?: string; shapeOnly?: true }>;
}

export const IMPORTABLE_OPS: readonly string[] = [...OP_IMPORTERS.keys()];

/** Ops that act on each element alike, so an input's layout can be traced through them. */
const ELEMENTWISE: readonly string[] = ['Identity', 'Dropout', ...ACTIVATION_OPS.filter((op) => !op.endsWith('Softmax'))];

/** Whether every path from `value` through elementwise ops ends in a Transpose to NCHW (an NHWC input). */
function onlyTransposedToNchw(b: ImportBuilder, value: string): boolean {
  const consumers = b.consumers(value);
  return (
    consumers.length > 0 &&
    consumers.every((c) => {
      if (c.opType === 'Transpose') {
        return samePerm(intsAttr(c, 'perm') ?? [], NHWC_TO_NCHW);
      }
      return ELEMENTWISE.includes(c.opType) && onlyTransposedToNchw(b, c.output[0]!);
    })
  );
}

/** Ops for which axis 1 of a rank-4 tensor means channels: only inputs reaching them have a layout. */
const SPATIAL = new Set(['Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization', 'Pad']);

/**
 * Whether a rank-4 input is read as an image at all. One that goes straight to Flatten/Reshape (an MLP
 * over [N, 28, 28, 1] pixels) has no channel axis to move: taking it as it is keeps the flatten order.
 */
function reachesSpatial(b: ImportBuilder, value: string): boolean {
  return b.consumers(value).some((c) => SPATIAL.has(c.opType) || (ELEMENTWISE.includes(c.opType) && reachesSpatial(b, c.output[0]!)));
}

/**
 * An ONNX model (float32, default domain) as a tfjs LayersModel computing the same outputs, for the
 * layer-style ops in IMPORTABLE_OPS. Layout: rank-4 inputs judged NCHW (see `inputLayout`) become NHWC
 * inputs of the tfjs model — transpose NCHW images with [0, 2, 3, 1] before `predict` — and the
 * first Dense after a Flatten of NCHW features gets its kernel rows permuted, so no transposes are
 * added to the tfjs graph; outputs have exactly the ONNX outputs' shapes and order. Subgraphs that only
 * compute shapes (PyTorch's `x.view(x.size(0), -1)`) become no layers: static shape inference, run at
 * two batch sizes so the batch stays symbolic, gives their consumers' target shapes.
 * Throws UNSUPPORTED_OP naming the first node it cannot convert.
 */
export function importFromOnnx(
  model: onnx.IModelProto,
  tf: Tf,
  options: ImportOptions = {},
): { model: tfjs.LayersModel; report: ImportReport } {
  const opts = parseOptions(importOptionsSchema, options, 'importFromOnnx options');
  const graph = Graph.from(model);
  graph.topoSort();
  const opset = graph.opsetVersion('');
  if (opset === undefined)
    throw new ShrinkError('INVALID_MODEL', `model '${graph.name}' imports no default-domain opset; expected opset_import with domain ''`);
  const b = new ImportBuilder(tf, graph, opset, staticShapes(graph), shapeComputations(graph));
  const report: ImportReport = { inputs: [], nodes: [] };

  const inputs = graph.feedInputs.map((vi) => {
    const shape = graph.shapeOf(vi.name);
    const dtype = graph.dtypeOf(vi.name);
    if (!shape || shape.length < 2 || dtype !== 'float32') {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `graph input '${vi.name}' is ${dtype ?? 'untyped'} of shape ${shape ? `[${shape.join(', ')}]` : 'unknown'}; a float32 tensor with a batch axis first is needed`,
      );
    }
    const rank = shape.length;
    const nchw =
      rank === 4 &&
      (opts.inputLayout === 'nchw' || (opts.inputLayout === 'auto' && !onlyTransposedToNchw(b, vi.name) && reachesSpatial(b, vi.name)));
    const dims = (nchw ? [shape[2], shape[3], shape[1]] : shape.slice(1)).map((d) => (typeof d === 'number' ? d : null));
    const t = tf.input({ shape: dims, name: b.freshName(vi.name), dtype: 'float32' });
    b.values.set(vi.name, { t, perm: nchw ? NHWC_TO_NCHW : identityPerm(rank) });
    report.inputs.push({ name: vi.name, layout: nchw ? 'nchw' : 'as-is', tfjsShape: [null, ...dims] });
    return t;
  });

  const layersOf = new Map<onnx.INodeProto, string[]>();
  graph.nodes.forEach((node, i) => {
    if (b.shapeNodes.has(node)) {
      report.nodes.push({ name: node.name, opType: node.opType, layers: [], shapeOnly: true });
      return;
    }
    const owner = b.absorbed.get(node);
    if (owner) {
      report.nodes.push({ name: node.name, opType: node.opType, layers: layersOf.get(owner) ?? [], fusedInto: owner.name });
      return;
    }
    const importer = node.domain && node.domain !== 'ai.onnx' ? undefined : OP_IMPORTERS.get(node.opType);
    if (!importer) {
      throw new ShrinkError(
        'UNSUPPORTED_OP',
        `${describeNode(node)}${node.domain ? ` in domain '${node.domain}'` : ''} has no tfjs import; supported ops: ${IMPORTABLE_OPS.join(', ')}`,
      );
    }
    b.begin(node, i);
    importer(b, node);
    const layers = b.end();
    layersOf.set(node, layers);
    report.nodes.push({ name: node.name, opType: node.opType, layers });
  });

  const outputs = graph.outputs.map((vo) => {
    const v = b.values.get(vo.name);
    if (!v)
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `graph output '${vo.name}' is not computed from the graph inputs; constant outputs are not imported`,
      );
    const producer = graph.producer(vo.name);
    if (producer) b.begin(producer, graph.nodeIndex(producer));
    const t = b.inPerm(producer ?? { name: vo.name, opType: 'graph output' }, v, identityPerm(v.perm.length));
    const extra = b.end();
    const entry = report.nodes.find((n) => producer && n.name === producer.name && n.opType === producer.opType);
    entry?.layers.push(...extra);
    return t;
  });

  const tfModel = tf.model({ inputs, outputs, name: b.freshName(graph.name || 'imported') });
  return { model: tfModel, report };
}
