/**
 * A model that stores its weights as float16 already has nothing for --dtype fp16 to halve: converting
 * it again writes the same file under a new name and a report that says nothing changed. Refused in one
 * line, unless some float32 weight would actually be converted.
 */
import { constantTensor, ShrinkError, subgraphsOf, onnx } from '@shrink/core';
import type { PassResult } from './types.js';

const T = onnx.TensorProto.DataType;

/** Float weights (initializers and Constant tensors, bodies included) by element type. */
function floatWeights(g: onnx.IGraphProto, counts: { half: number; float: number }): void {
  const tensors = [
    ...(g.initializer ?? []),
    ...(g.node ?? []).filter((n) => n.opType === 'Constant' && !n.domain).map((n) => constantTensor(n) ?? {}),
  ];
  for (const t of tensors) {
    if (t.dataType === T.FLOAT16) counts.half++;
    else if (t.dataType === T.FLOAT) counts.float++;
  }
  for (const n of g.node ?? []) for (const s of subgraphsOf(n)) floatWeights(s, counts);
}

/** Whether every float weight `model` stores is float16: fp16 will refuse it, so nothing is worth measuring first. */
export function storesOnlyHalf(model: onnx.IModelProto): boolean {
  const counts = { half: 0, float: 0 };
  floatWeights(model.graph ?? {}, counts);
  return counts.half > 0 && counts.float === 0;
}

/** Whether the conversion rewrote any weight: the report lists the converted ones per node. */
function convertedAny(r: PassResult): boolean {
  return r.report.nodes.some((n) => n.action === 'quantized' && (n.weights?.length ?? 0) > 0);
}

/**
 * Throws UNSUPPORTED_MODEL when `model` stores float16 weights and the conversion `r` of it changed no
 * weight: "MODEL already stores its weights as float16 (N of M weights); nothing to convert".
 */
export function refuseAlreadyHalf(model: onnx.IModelProto, r: PassResult): void {
  const counts = { half: 0, float: 0 };
  floatWeights(model.graph ?? {}, counts);
  if (counts.half === 0 || convertedAny(r)) return;
  throw new ShrinkError(
    'UNSUPPORTED_MODEL',
    `model already stores its weights as float16 (${counts.half} of ${counts.half + counts.float} float weights); nothing to convert`,
    { option: 'dtype' },
  );
}
