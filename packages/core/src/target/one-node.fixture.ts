// One-node models for the target tests: the op, its typed inputs and constant operands, nothing else.
import { makeGraph, makeModel, makeNode, makeValueInfo, type AttrInput } from '../onnx/builder.js';
import { onnx } from '../onnx/proto.js';
import { float32ToFloat16 } from '../onnx/tensor.js';

export type Elem = 'float32' | 'float16' | 'uint8' | 'int8' | 'int32' | 'int64' | 'uint4' | 'int4';

const CODE: Readonly<Record<Elem, number>> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float16: 10, uint4: 21, int4: 22 };

/** A constant with little-endian raw data; 4-bit values are packed two to a byte, low nibble first. */
export function tensor(name: string, elem: Elem, dims: readonly number[], fill: number | readonly number[] = 1): onnx.TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = (i: number) => (typeof fill === 'number' ? fill : fill[i % fill.length]!);
  const values = Array.from({ length: n }, (_, i) => v(i));
  let bytes: Uint8Array;
  switch (elem) {
    case 'float32':
      bytes = new Uint8Array(Float32Array.from(values).buffer);
      break;
    case 'float16':
      bytes = new Uint8Array(float32ToFloat16(Float32Array.from(values)).buffer);
      break;
    case 'uint8':
      bytes = Uint8Array.from(values);
      break;
    case 'int8':
      bytes = new Uint8Array(Int8Array.from(values).buffer);
      break;
    case 'int32':
      bytes = new Uint8Array(Int32Array.from(values).buffer);
      break;
    case 'int64':
      bytes = new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
      break;
    case 'uint4':
    case 'int4':
      bytes = new Uint8Array(Math.ceil(n / 2));
      values.forEach((x, i) => (bytes[i >> 1]! |= (x & 0xf) << ((i & 1) * 4)));
      break;
  }
  return onnx.TensorProto.create({ name, dataType: CODE[elem], dims: [...dims], rawData: bytes });
}

export interface OneNodeSpec {
  readonly op: string;
  readonly domain?: string;
  readonly opset?: number;
  /** The node's inputs in order; '' for an omitted optional one. */
  readonly args: readonly string[];
  /** Graph inputs: [name, type, dims]. */
  readonly inputs?: readonly (readonly [string, Elem, readonly number[]])[];
  readonly inits?: readonly onnx.TensorProto[];
  readonly attrs?: Record<string, AttrInput>;
  readonly out: Elem;
  readonly extraOuts?: readonly (readonly [string, Elem])[];
}

function valueInfo(name: string, elem: Elem): onnx.ValueInfoProto {
  // makeValueInfo speaks Shrink's DTypes, which have no 4-bit types; the code is set afterwards.
  const v = makeValueInfo(name, 'float32');
  v.type!.tensorType!.elemType = CODE[elem];
  return v;
}

export function oneNode(s: OneNodeSpec): onnx.ModelProto {
  const node = makeNode(s.op, [...s.args], ['y', ...(s.extraOuts ?? []).map(([n]) => n)], s.attrs, { domain: s.domain ?? '', name: 'n0' });
  const opset = s.opset ?? 13;
  const graph = makeGraph({
    nodes: [node],
    inputs: (s.inputs ?? []).map(([n, e, d]) => {
      const v = valueInfo(n, e);
      v.type!.tensorType!.shape = { dim: d.map((dimValue) => ({ dimValue })) };
      return v;
    }),
    outputs: [valueInfo('y', s.out), ...(s.extraOuts ?? []).map(([n, e]) => valueInfo(n, e))],
    initializers: [...(s.inits ?? [])],
  });
  // Opset 21 (4-bit types, block_size) needs IR version 10.
  return makeModel(graph, { opset, irVersion: opset >= 21 ? 10 : 8 });
}

/** Feed values for a model's graph inputs: small deterministic numbers of each input's type. */
export function feedValues(model: onnx.IModelProto): Record<string, { type: Elem; dims: number[]; values: number[] }> {
  const out: Record<string, { type: Elem; dims: number[]; values: number[] }> = {};
  for (const v of model.graph?.input ?? []) {
    const code = v.type?.tensorType?.elemType ?? 1;
    const type = (Object.keys(CODE) as Elem[]).find((e) => CODE[e] === code)!;
    const dims = (v.type?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 1));
    const n = dims.reduce((a, b) => a * b, 1);
    out[v.name!] = { type, dims, values: Array.from({ length: n }, (_, i) => (type.startsWith('float') ? 0.1 * ((i % 5) - 2) : i % 3)) };
  }
  return out;
}
