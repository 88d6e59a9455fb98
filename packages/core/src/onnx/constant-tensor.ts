import { isDefaultDomain } from './domain.js';
import { onnx } from './proto.js';

const DT = onnx.TensorProto.DataType;

/**
 * The value of a Constant node as a TensorProto, whichever attribute holds it (value, value_float(s),
 * value_int(s), value_string(s)); undefined for any other node, and for a sparse value. The one reader
 * of Constant attributes: the values, element types and shapes of constants all come from it. Scalar
 * and list attributes become typed-field tensors, so int64 values stay exact.
 */
export function constantTensor(node: onnx.INodeProto): onnx.ITensorProto | undefined {
  if (node.opType !== 'Constant' || !isDefaultDomain(node)) return undefined;
  const a = (node.attribute ?? [])[0];
  if (!a) return undefined;
  const name = (node.output ?? [])[0] ?? '';
  const tensor = (dataType: number, dims: number[], fields: onnx.ITensorProto) =>
    onnx.TensorProto.create({ name, dataType, dims, ...fields });
  switch (a.name) {
    case 'value':
      return a.t ?? undefined;
    case 'value_float':
      return tensor(DT.FLOAT, [], { floatData: [a.f ?? 0] });
    case 'value_floats':
      return tensor(DT.FLOAT, [(a.floats ?? []).length], { floatData: [...(a.floats ?? [])] });
    case 'value_int':
      return tensor(DT.INT64, [], { int64Data: [a.i ?? 0] });
    case 'value_ints':
      return tensor(DT.INT64, [(a.ints ?? []).length], { int64Data: [...(a.ints ?? [])] });
    case 'value_string':
      return tensor(DT.STRING, [], { stringData: [a.s ?? new Uint8Array(0)] });
    case 'value_strings':
      return tensor(DT.STRING, [(a.strings ?? []).length], { stringData: [...(a.strings ?? [])] });
    default:
      return undefined;
  }
}
