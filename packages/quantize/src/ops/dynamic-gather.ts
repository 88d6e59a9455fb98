import { attrInt, nodeLabel } from '@shrink/core';
import { constantWeight } from './dynamic-common.js';
import { newValue, plannedWeight, skip, weightPart, type DynamicOp } from './dynamic-types.js';

export const GATHER_PER_TENSOR_NOTE =
  'Gather tables are quantized per tensor even with perChannel when the model opset is below 13 (per-axis DequantizeLinear needs 13)';

/**
 * Gather over a constant table (an embedding): the table is stored as 8-bit codes, Gather picks codes,
 * and DequantizeLinear turns the picked rows back into floats under the Gather's output name (what
 * onnxruntime's quantizer does). Only the rows looked up are dequantized, so the float table is gone.
 * Per channel means one scale per column (the last axis), which stays the last axis of the output
 * when the Gather runs along axis 0.
 */
export const planGatherDynamic: DynamicOp = (node, view) => {
  const [data, indices] = node.input;
  const t = constantWeight(view.graph, data, 'data');
  if (typeof t === 'string') return skip(`${t}; only a constant table is quantized`);
  if (t.dims.length !== 2) return skip(`data '${data}' has rank ${t.dims.length}; embedding tables of rank 2 are quantized`);
  if (!indices) return skip('indices input is missing');
  const { format, perChannel, opset } = view;
  const axis = attrInt(node, 'axis', 0);
  const perColumn = perChannel && (axis === 0 || axis === -2) && opset >= 13;
  const key = `${data}|gather|${perColumn ? 'col' : 'tensor'}`;
  const output = node.output[0]!;
  const base = nodeLabel(node);
  const codes = newValue(`${output}_quantized`);
  return {
    kind: 'plan',
    plan: {
      initializers: [
        plannedWeight(key, data!, t, {
          // A lookup multiplies nothing: no kernel can saturate, so the table keeps the type's full range.
          type: format.type,
          symmetric: format.symmetric,
          ...(perColumn ? { axis: 1 } : {}),
        }),
      ],
      nodes: [
        { opType: 'Gather', name: `${base}_quant`, inputs: [weightPart(key, 'codes'), indices], outputs: [codes], keepAttributes: true },
        {
          opType: 'DequantizeLinear',
          name: `${base}_dequantize`,
          inputs: [codes, weightPart(key, 'scale'), weightPart(key, 'zeroPoint')],
          outputs: [output],
          ...(perColumn ? { attrs: { axis: -1 } } : {}),
        },
      ],
      reason: `${format.type} ${format.symmetric ? 'symmetric' : 'asymmetric'} table ${perColumn ? 'per column' : 'per tensor'}; rows dequantized after the lookup`,
      ...(perChannel && !perColumn && opset < 13 ? { notes: [GATHER_PER_TENSOR_NOTE] } : {}),
    },
  };
};
