/**
 * Parameter counts of an ONNX model, from the tensors it stores.
 *
 * Counted tensors: initializers of the main graph and of every subgraph, sparse initializers (their
 * stored values), and the `value` tensors of Constant nodes. Graph inputs are not parameters.
 * - `params`: elements of floating-point tensors (float32, float16, bfloat16, float64). This is every
 *   stored real number, so BatchNormalization running statistics and quantization scales count
 *   (unlike PyTorch's `parameters()`, which skips buffers).
 * - `nonZero`: of those, the elements that are not ±0 (tensors kept in unresolved external files
 *   count as dense).
 * - `quantized`: elements of integer weight codes 8 bits or narrower: int8/uint8 tensors, plus the
 *   4-bit (or `bits`-bit) codes packed into uint8 by MatMulNBits / GatherBlockQuantized (counted as
 *   logical elements under `int4` etc., not as bytes) and INT4/UINT4 tensors. Zero points count here.
 * - `quantizedNonZero`: of those, the codes that do not stand for zero: a code equal to the zero point
 *   its reader applies (DequantizeLinear, MatMulInteger, ConvInteger, QLinear*, MatMulNBits, ...) is a
 *   zero weight, so a pruned-then-quantized model keeps its sparsity. Codes whose zero point is not
 *   known (unknown reader, computed zero point) count as non-zero.
 * - `byDtype` / `bytesByDtype`: elements and stored bytes per element type, for every counted tensor
 *   (int64 shape constants and int32 biases included). Packed codes appear under `int<bits>`.
 */
import type { onnx } from '../onnx/proto.js';
import { attrInt } from '../onnx/graph.js';
import {
  bytesPerElement,
  dtypeFromOnnx,
  isExternalTensor,
  isFloatDType,
  readTensor,
  tensorDims,
  tensorNumel,
  type DType,
} from '../onnx/tensor.js';
import { codeZeroCounter } from './code-zeros.js';

export interface ParamCount {
  params: number;
  nonZero: number;
  quantized: number;
  quantizedNonZero: number;
  byDtype: Record<string, number>;
  bytesByDtype: Record<string, number>;
}

/** ONNX element types Shrink does not decode but can still count (packed 4-bit codes). */
const PACKED_CODES: ReadonlyMap<number, { key: string; bits: number }> = new Map([
  [21, { key: 'uint4', bits: 4 }],
  [22, { key: 'int4', bits: 4 }],
]);

interface Packed {
  bits: number;
  /** Logical element count when the op's attributes say it; otherwise derived from the bytes. */
  elements?: number;
}

/** Tensors holding packed sub-byte codes, by name, from the ops that read them. */
function packedTensors(g: onnx.IGraphProto, into: Map<string, Packed>): void {
  for (const n of g.node ?? []) {
    const ins = n.input ?? [];
    if (n.opType === 'MatMulNBits') {
      const bits = attrInt(n, 'bits', 4);
      const K = attrInt(n, 'K', 0);
      const N = attrInt(n, 'N', 0);
      const block = attrInt(n, 'block_size', 0);
      if (ins[1]) into.set(ins[1], { bits, ...(K > 0 && N > 0 ? { elements: K * N } : {}) });
      // Zero points are packed uint8 codes too (a float tensor there is not: it is counted as is).
      if (ins[3]) into.set(ins[3], { bits, ...(N > 0 && K > 0 && block > 0 ? { elements: N * Math.ceil(K / block) } : {}) });
    } else if (n.opType === 'GatherBlockQuantized') {
      const bits = attrInt(n, 'bits', 4);
      if (ins[0]) into.set(ins[0], { bits });
      if (ins[2]) into.set(ins[2], { bits });
    }
    for (const a of n.attribute ?? []) {
      if (a.g) packedTensors(a.g, into);
      for (const sg of a.graphs ?? []) packedTensors(sg, into);
    }
  }
}

function storedTensors(g: onnx.IGraphProto, into: onnx.ITensorProto[]): void {
  for (const t of g.initializer ?? []) into.push(t);
  for (const s of g.sparseInitializer ?? []) if (s.values) into.push(s.values);
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (n.opType === 'Constant' && a.name === 'value' && a.t) into.push(a.t);
      if (a.g) storedTensors(a.g, into);
      for (const sg of a.graphs ?? []) storedTensors(sg, into);
    }
  }
}

function storedBytes(t: onnx.ITensorProto, fallback: number): number {
  const raw = t.rawData?.length ?? 0;
  return raw > 0 ? raw : fallback;
}

function countNonZero(dtype: DType, t: onnx.ITensorProto, numel: number): number {
  if (isExternalTensor(t)) return numel;
  const data = readTensor(t).data;
  let nz = 0;
  if (dtype === 'float16' || dtype === 'bfloat16') {
    for (const b of data as Uint16Array) if ((b & 0x7fff) !== 0) nz++;
  } else {
    for (const v of data as Float32Array | Float64Array) if (v !== 0) nz++;
  }
  return nz;
}

export function countParams(model: onnx.IModelProto): ParamCount {
  const out: ParamCount = { params: 0, nonZero: 0, quantized: 0, quantizedNonZero: 0, byDtype: {}, bytesByDtype: {} };
  const g = model.graph;
  if (!g) return out;
  const add = (key: string, elements: number, bytes: number): void => {
    out.byDtype[key] = (out.byDtype[key] ?? 0) + elements;
    out.bytesByDtype[key] = (out.bytesByDtype[key] ?? 0) + bytes;
  };
  const packed = new Map<string, Packed>();
  packedTensors(g, packed);
  const tensors: onnx.ITensorProto[] = [];
  storedTensors(g, tensors);
  const zeros = codeZeroCounter(g);
  for (const t of tensors) {
    const code = t.dataType ?? 0;
    const numel = tensorNumel(tensorDims(t));
    const p = packed.get(t.name ?? '');
    const native = PACKED_CODES.get(code);
    if (native) {
      add(native.key, numel, storedBytes(t, Math.ceil((numel * native.bits) / 8)));
      out.quantized += numel;
      out.quantizedNonZero += numel;
      continue;
    }
    let dtype: DType;
    try {
      dtype = dtypeFromOnnx(code);
    } catch {
      add(`onnx_type_${code}`, numel, storedBytes(t, 0));
      continue;
    }
    if (p && (dtype === 'uint8' || dtype === 'int8')) {
      const bytes = storedBytes(t, numel);
      const elements = p.elements ?? Math.floor((bytes * 8) / p.bits);
      add(`int${p.bits}`, elements, bytes);
      out.quantized += elements;
      out.quantizedNonZero += zeros.nonZero(t) ?? elements;
      continue;
    }
    if (dtype === 'string') {
      add(
        'string',
        numel,
        (t.stringData ?? []).reduce((s, b) => s + b.length, 0),
      );
      continue;
    }
    add(dtype, numel, storedBytes(t, numel * bytesPerElement(dtype)));
    if (isFloatDType(dtype)) {
      out.params += numel;
      out.nonZero += countNonZero(dtype, t, numel);
    } else if (dtype === 'int8' || dtype === 'uint8') {
      out.quantized += numel;
      out.quantizedNonZero += zeros.nonZero(t) ?? numel;
    }
  }
  return out;
}
