import { attrInt, makeNode, type onnx } from '@shrink/core';
import type { ResolvedQuantizeOptions } from '../options.js';
import type { OpQuantizer } from '../types.js';
import { constantWeight, nodeLabel, skipped, storeWeight, type DynamicState } from './dynamic-common.js';

export const GATHER_PER_TENSOR_NOTE =
  'Gather tables are quantized per tensor even with perChannel when the model opset is below 13 (per-axis DequantizeLinear needs 13)';

/**
 * Gather over a constant table (an embedding): the table is stored as 8-bit codes, Gather picks codes,
 * and DequantizeLinear turns the picked rows back into floats under the Gather's output name (what
 * onnxruntime's quantizer does). Only the rows looked up are dequantized, so the float table is gone.
 * Per channel means one scale per column (the last axis), which stays the last axis of the output
 * when the Gather runs along axis 0.
 */
export const quantizeGatherDynamic: OpQuantizer<DynamicState> = (graph, node, _options: ResolvedQuantizeOptions, state) => {
  const [data, indices] = node.input ?? [];
  const t = constantWeight(graph, data, 'data');
  if (typeof t === 'string') return skipped(node, `${t}; only a constant table is quantized`);
  if (t.dims.length !== 2) return skipped(node, `data '${data}' has rank ${t.dims.length}; embedding tables of rank 2 are quantized`);
  if (!indices) return skipped(node, 'indices input is missing');
  const axis = attrInt(node, 'axis', 0);
  const perColumn = state.perChannel && (axis === 0 || axis === -2) && state.opset >= 13;
  if (state.perChannel && !perColumn && state.opset < 13) state.notes.add(GATHER_PER_TENSOR_NOTE);
  const stored = storeWeight(graph, state, `${data}|gather|${perColumn ? 'col' : 'tensor'}`, data!, t.data as Float32Array, t.dims, {
    // A lookup multiplies nothing: no kernel can saturate, so the table keeps the type's full range.
    type: state.format.type,
    symmetric: state.format.symmetric,
    ...(perColumn ? { axis: 1 } : {}),
    source: data!,
  });
  const output = node.output![0]!;
  const base = node.name || output;
  const codes = graph.uniqueName(`${output}_quantized`);
  const gather = makeNode('Gather', [stored.weight.q, indices], [codes], {}, { name: graph.uniqueNodeName(`${base}_quant`) });
  gather.attribute = [...(node as onnx.NodeProto).attribute];
  const deq = makeNode(
    'DequantizeLinear',
    [codes, stored.weight.scale, stored.weight.zeroPoint],
    [output],
    perColumn ? { axis: -1 } : {},
    { name: graph.uniqueNodeName(`${base}_dequantize`) },
  );
  const added = graph.replaceNode(node, [gather, deq]);
  return {
    name: nodeLabel(node),
    opType: node.opType ?? 'Gather',
    action: 'quantized',
    reason: `${state.format.type} ${state.format.symmetric ? 'symmetric' : 'asymmetric'} table ${perColumn ? 'per column' : 'per tensor'}; rows dequantized after the lookup`,
    replacedBy: added.map((n) => n.name),
    weights: stored.written,
  };
};
