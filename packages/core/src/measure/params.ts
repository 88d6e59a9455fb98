/**
 * Parameter counts of an ONNX model, from the tensors it stores.
 *
 * Counted tensors: initializers of the main graph and of every subgraph (If/Loop/Scan bodies, any
 * attribute of type GRAPH, recursively), sparse initializers (their stored values), and the values of
 * Constant nodes. Graph inputs are not parameters. A parameter is one weight, whatever its dtype, so a
 * model and its q8, q4 and fp16 versions have the same count:
 * - `params`: elements of floating-point tensors (float32, float16, bfloat16, float64) other than
 *   quantization scales. BatchNormalization running statistics count (unlike PyTorch's `parameters()`).
 * - `nonZero`: of those, the elements that are not ±0 (tensors in unresolved external files count dense).
 * - `quantized`: integer weight codes: int8/uint8 tensors (except zero points), integer tensors that a
 *   quantized op reads as codes (DequantizeLinear's int4/int16/int32 input, QLinearConv's and QGemm's int32
 *   bias), INT4/UINT4 tensors, and the `bits`-bit codes packed into uint8 by MatMulNBits /
 *   GatherBlockQuantized (counted as K×N logical elements, not bytes).
 * - `quantizedNonZero`: of those, the codes that do not stand for zero: a code equal to the zero point its
 *   reader applies is a zero weight, so a pruned-then-quantized model keeps its sparsity. Codes whose zero
 *   point is not known (unknown reader, computed zero point) count as non-zero.
 * - `total` = `params` + `quantized`: what reports call parameters.
 * - `quantParams`: elements of quantization scales and zero points. They are stored but are not
 *   parameters (one scale stands for a block or channel of weights).
 * - `paramsByDtype`: `total` split by element type (float32, float16, int8, uint8, int4, int32, …).
 * - `subgraphs`: graphs nested in nodes, the tensors they store and the parameters among them.
 * - `quantizedOps`: nodes reading stored weight codes, by kind ("MatMulNBits (4-bit, block 32)" → 12).
 * - `byDtype` / `bytesByDtype`: elements and stored bytes per element type, for every stored tensor
 *   (int64 shape constants, scales and zero points included). Packed codes appear under `int<bits>`.
 */
import type { onnx } from '../onnx/proto.js';
import { subgraphsOf } from '../onnx/graph.js';
import { constantTensor } from '../onnx/constant-tensor.js';
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
import { weightRoles } from './weight-roles.js';

export interface ParamCount {
  params: number;
  nonZero: number;
  quantized: number;
  quantizedNonZero: number;
  total: number;
  quantParams: number;
  paramsByDtype: Record<string, number>;
  subgraphs: { graphs: number; tensors: number; params: number };
  quantizedOps: Record<string, number>;
  byDtype: Record<string, number>;
  bytesByDtype: Record<string, number>;
}

/** ONNX element types Shrink does not decode but can still count (packed 4-bit codes). */
const PACKED_CODES: ReadonlyMap<number, { key: string; bits: number }> = new Map([
  [21, { key: 'uint4', bits: 4 }],
  [22, { key: 'int4', bits: 4 }],
]);

interface Stored {
  /** The name nodes read it by (a Constant's output, not its tensor's own name). */
  name: string;
  tensor: onnx.ITensorProto;
  nested: boolean;
}

function storedTensors(g: onnx.IGraphProto, nested: boolean, into: Stored[], graphs: { n: number }): void {
  for (const t of g.initializer ?? []) into.push({ name: t.name ?? '', tensor: t, nested });
  for (const s of g.sparseInitializer ?? []) if (s.values) into.push({ name: s.values.name ?? '', tensor: s.values, nested });
  for (const n of g.node ?? []) {
    const c = constantTensor(n);
    if (c) into.push({ name: n.output?.[0] ?? '', tensor: c, nested });
    for (const sg of subgraphsOf(n)) {
      graphs.n++;
      storedTensors(sg, true, into, graphs);
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
  const out: ParamCount = {
    params: 0,
    nonZero: 0,
    quantized: 0,
    quantizedNonZero: 0,
    total: 0,
    quantParams: 0,
    paramsByDtype: {},
    subgraphs: { graphs: 0, tensors: 0, params: 0 },
    quantizedOps: {},
    byDtype: {},
    bytesByDtype: {},
  };
  const g = model.graph;
  if (!g) return out;
  const stored = (key: string, elements: number, bytes: number): void => {
    out.byDtype[key] = (out.byDtype[key] ?? 0) + elements;
    out.bytesByDtype[key] = (out.bytesByDtype[key] ?? 0) + bytes;
  };
  const { roles, packed, quantizedOps } = weightRoles(g);
  out.quantizedOps = { ...quantizedOps };
  const graphs = { n: 0 };
  const tensors: Stored[] = [];
  storedTensors(g, false, tensors, graphs);
  out.subgraphs.graphs = graphs.n;
  const zeros = codeZeroCounter(g);
  for (const { name, tensor: t, nested } of tensors) {
    const role = roles.get(name);
    const param = (key: string, elements: number, nonZero: number, float: boolean): void => {
      if (role === 'scale' || role === 'zeroPoint') {
        out.quantParams += elements;
        return;
      }
      out.paramsByDtype[key] = (out.paramsByDtype[key] ?? 0) + elements;
      if (float) {
        out.params += elements;
        out.nonZero += nonZero;
      } else {
        out.quantized += elements;
        out.quantizedNonZero += nonZero;
      }
      if (nested) out.subgraphs.params += elements;
    };
    if (nested) out.subgraphs.tensors++;
    const code = t.dataType ?? 0;
    const numel = tensorNumel(tensorDims(t));
    const native = PACKED_CODES.get(code);
    if (native) {
      stored(native.key, numel, storedBytes(t, Math.ceil((numel * native.bits) / 8)));
      param(native.key, numel, numel, false);
      continue;
    }
    let dtype: DType;
    try {
      dtype = dtypeFromOnnx(code);
    } catch {
      stored(`onnx_type_${code}`, numel, storedBytes(t, 0));
      continue;
    }
    const p = packed.get(name);
    if (p && (dtype === 'uint8' || dtype === 'int8')) {
      const bytes = storedBytes(t, numel);
      const elements = p.elements ?? Math.floor((bytes * 8) / p.bits);
      stored(`int${p.bits}`, elements, bytes);
      param(`int${p.bits}`, elements, role === 'code' || role === undefined ? (zeros.nonZero(t, name) ?? elements) : elements, false);
      continue;
    }
    if (dtype === 'string') {
      stored(
        'string',
        numel,
        (t.stringData ?? []).reduce((s, b) => s + b.length, 0),
      );
      continue;
    }
    stored(dtype, numel, storedBytes(t, numel * bytesPerElement(dtype)));
    if (isFloatDType(dtype)) param(dtype, numel, role === 'scale' ? 0 : countNonZero(dtype, t, numel), true);
    else if (dtype === 'int8' || dtype === 'uint8' || role === 'code' || role === 'zeroPoint') {
      param(dtype, numel, role === 'zeroPoint' ? 0 : (zeros.nonZero(t, name) ?? numel), false);
    }
  }
  out.total = out.params + out.quantized;
  return out;
}
