import {
  attrInt,
  float16ToFloat32,
  float32ToFloat16,
  constantTensor,
  readTensor,
  dtypeFromOnnx,
  isDefaultDomain,
  isExternalTensor,
  nodeLabel,
  tensorNumel,
  type DType,
  type Graph,
  type onnx,
  type TensorValue,
} from '@shrink/core';
import type { LayerOutcome } from '../types.js';
import type { NodeSelector } from '@shrink/core';

/** Where a weight-bearing op keeps its weight, and along which axis of it the op sums. */
export interface WeightOp {
  /** Input index of the weight. */
  weight: number;
  /** Axis of the stored weight summed over to form one output (N:M groups run along it). */
  reductionAxis(node: onnx.INodeProto, rank: number): number;
  /** Name of the bias the op adds, when it has one. */
  bias(graph: Graph, node: onnx.INodeProto): string | undefined;
}

const biasInput = (graph: Graph, node: onnx.INodeProto): string | undefined => (node.input ?? [])[2] || undefined;

/**
 * The explicit handler table of the unstructured passes (magnitude, N:M). Each entry says which
 * input is the weight and which axis is the reduction axis in the layout as stored.
 */
export const WEIGHT_OPS: ReadonlyMap<string, WeightOp> = new Map<string, WeightOp>([
  [
    'MatMul',
    {
      weight: 1,
      // B is [..., K, N]; a 1-D B is [K].
      reductionAxis: (_node, rank) => Math.max(0, rank - 2),
      // A Dense layer exported to ONNX is MatMul followed by Add of a constant: that constant is its bias.
      bias(graph, node) {
        const out = (node.output ?? [])[0];
        const users = out ? graph.consumers(out) : [];
        const add = users.length === 1 ? users[0] : undefined;
        if (!add || add.opType !== 'Add' || !isDefaultDomain(add)) return undefined;
        const other = add.input.find((i) => i !== out);
        return other && graph.isInitializer(other) ? other : undefined;
      },
    },
  ],
  // B is [K, N], or [N, K] with transB=1.
  ['Gemm', { weight: 1, reductionAxis: (node) => (attrInt(node, 'transB', 0) !== 0 ? 1 : 0), bias: biasInput }],
  // W is [O, I/group, kh, kw]: an output sums over input channels (and the kernel window).
  ['Conv', { weight: 1, reductionAxis: () => 1, bias: biasInput }],
  // W is [I, O/group, kh, kw]: an output channel sums over the input channels, axis 0.
  ['ConvTranspose', { weight: 1, reductionAxis: () => 0, bias: biasInput }],
]);

/**
 * 8-bit codes standing for a weight: the real value of code q at element i is (q - zeroPoint(i)) * scale(i).
 * A pruned code is set to its zero point, so it dequantizes to exactly 0.
 */
export interface QuantizedCodes {
  dtype: 'int8' | 'uint8';
  /** The pass's own copy of the codes. */
  codes: Int8Array | Uint8Array;
  zeroPoint: (i: number) => number;
  /** False when the scale could not be found: `values` are then |q - zp|, comparable within this tensor only. */
  scaled: boolean;
}

/**
 * A constant tensor a pass may rewrite: `values` is the pass's own copy. For float32 weights these are
 * the weights; for 8-bit codes (`quant`) they are the magnitudes |q - zp| * scale, and a pass that
 * zeroes a magnitude prunes that code (writeBack sets it to the zero point).
 */
export interface PrunableTensor {
  name: string;
  dims: number[];
  values: Float32Array;
  quant?: QuantizedCodes;
  /** The weight is a Constant node's output (paddle2onnx, and PyTorch's inlined If branches): writeBack makes it an initializer. */
  constantNode?: onnx.NodeProto;
  /** Stored as float16 (a model exported in half precision): `values` are decoded, writeBack encodes them again (zeros stay exact). */
  float16?: boolean;
}

/** One selected weight-bearing node whose weight can be pruned. */
export interface WeightTarget {
  node: onnx.NodeProto;
  label: string;
  weight: PrunableTensor;
  /** Reduction axis of the stored weight. */
  axis: number;
  /** Its bias, only when asked for (`withBias`) and prunable. */
  bias?: PrunableTensor;
}

/** Why `name` is not a constant initializer with its data inline, or its name and dtype. */
function inlineInitializer(graph: Graph, name: string | undefined, what: string): { name: string; dtype: DType } | string {
  if (!name) return `${what} is missing`;
  if (graph.isGraphInput(name)) return `${what} '${name}' is a graph input (it can change at run time)`;
  const t = graph.initializer(name);
  if (!t) return `${what} '${name}' is not an initializer (computed at run time or a Constant node)`;
  if (isExternalTensor(t)) return `${what} '${name}' keeps its data in an external file; load the model through @shrink/core/io first`;
  return { name, dtype: dtypeFromOnnx(t.dataType ?? 0) };
}

/** Why `name` is not a prunable float32 initializer or Constant-node output, or its copied values. */
function prunable(graph: Graph, name: string | undefined, what: string): PrunableTensor | string {
  const producer = name ? graph.producer(name) : undefined;
  const constant = producer ? constantTensor(producer) : undefined;
  if (constant && producer) {
    if (isExternalTensor(constant))
      return `${what} '${name}' keeps its data in an external file; load the model through @shrink/core/io first`;
    const v = readTensor(constant);
    if (!PRUNED_FLOATS.has(v.dtype)) return `${what} '${name}' is ${v.dtype}; only float32 and float16 weights are pruned`;
    return { name: name!, dims: v.dims, ...floatValues(v), constantNode: producer };
  }
  const c = inlineInitializer(graph, name, what);
  if (typeof c === 'string') return c;
  if (!PRUNED_FLOATS.has(c.dtype)) return `${what} '${c.name}' is ${c.dtype}; only float32 and float16 weights are pruned`;
  return { name: c.name, dims: graph.readInitializer(c.name).dims, ...floatValues(graph.readInitializer(c.name)) };
}

const PRUNED_FLOATS: ReadonlySet<DType> = new Set(['float32', 'float16']);

/** A float weight's values as the pass's own float32 copy (readTensor may return a view over the model's bytes). */
function floatValues(v: TensorValue): { values: Float32Array; float16?: true } {
  return v.dtype === 'float16'
    ? { values: float16ToFloat32(Uint16Array.from(v.data as Uint16Array)), float16: true }
    : { values: Float32Array.from(v.data as Float32Array) };
}

/** A per-tensor (one value) or per-axis (dims[axis] values) parameter as a lookup by flat element index. */
function perElement(data: ArrayLike<number>, dims: readonly number[], axis: number): ((i: number) => number) | undefined {
  if (data.length === 1) {
    const v = Number(data[0]);
    return () => v;
  }
  const len = dims[axis];
  if (len === undefined || data.length !== len) return undefined;
  const inner = tensorNumel(dims.slice(axis + 1));
  return (i) => Number(data[Math.floor(i / inner) % len]);
}

/** Why `name` is not an 8-bit code initializer, or its value (read-only: copy before writing). */
function codesOf(graph: Graph, name: string | undefined, what: string): TensorValue | string {
  const c = inlineInitializer(graph, name, what);
  if (typeof c === 'string') return c;
  if (c.dtype !== 'int8' && c.dtype !== 'uint8')
    return `${what} '${c.name}' is ${c.dtype}; only int8/uint8 codes are pruned after quantization`;
  return graph.readInitializer(c.name);
}

/**
 * The codes `qName` with their zero point (initializer `zpName`, absent = 0) and scale (absent = not
 * found), both per tensor or per `axis`, as a prunable tensor of magnitudes |q - zp| * scale.
 */
function quantizedTensor(
  graph: Graph,
  qName: string | undefined,
  zpName: string | undefined,
  scale: TensorValue | undefined,
  axis: number,
): PrunableTensor | string {
  const q = codesOf(graph, qName, 'weight');
  if (typeof q === 'string') return q;
  let zp: (i: number) => number = () => 0;
  if (zpName) {
    const z = codesOf(graph, zpName, 'zero point');
    if (typeof z === 'string') return z;
    const f = perElement(z.data as ArrayLike<number>, q.dims, axis);
    if (!f) return `zero point '${zpName}' has ${z.data.length} values; expected 1 or ${q.dims[axis]} (axis ${axis} of '${qName}')`;
    zp = f;
  }
  let sc: ((i: number) => number) | undefined;
  if (scale) {
    sc = scale.dtype === 'float32' ? perElement(scale.data as Float32Array, q.dims, axis) : undefined;
  }
  const codes = (q.dtype === 'int8' ? Int8Array : Uint8Array).from(q.data as ArrayLike<number>);
  const values = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) values[i] = Math.abs(codes[i]! - zp(i)) * (sc ? Math.abs(sc(i)) : 1);
  return {
    name: q.name || qName!,
    dims: q.dims,
    values,
    quant: { dtype: q.dtype as 'int8' | 'uint8', codes, zeroPoint: zp, scaled: sc !== undefined },
  };
}

/**
 * The weight scale of a dynamic MatMulInteger / ConvInteger, as @shrink/quantize and onnxruntime's
 * quantizer lay it out: int result -> Cast -> Mul(·, Mul(A_scale, W_scale)) where W_scale is the one
 * constant operand of the inner Mul (A_scale comes from DynamicQuantizeLinear at run time).
 */
function dynamicWeightScale(graph: Graph, node: onnx.INodeProto): TensorValue | undefined {
  const only = (value: string | undefined): onnx.NodeProto | undefined => {
    const users = value ? graph.consumers(value) : [];
    return users.length === 1 ? users[0] : undefined;
  };
  const cast = only((node.output ?? [])[0]);
  if (!cast || cast.opType !== 'Cast') return undefined;
  const mul = only(cast.output[0]);
  if (!mul || mul.opType !== 'Mul') return undefined;
  const other = mul.input.find((i) => i !== cast.output[0]);
  const scales = other ? graph.producer(other) : undefined;
  if (!scales || scales.opType !== 'Mul') return undefined;
  const constant = scales.input.filter((i) => graph.isInitializer(i) && !graph.isGraphInput(i));
  if (constant.length !== 1 || scales.input.length !== 2) return undefined;
  const v = graph.readInitializer(constant[0]!);
  return v.dtype === 'float32' ? v : undefined;
}

/** Dynamic integer ops: codes at input 1, zero point at input 3, per tensor or per output channel. */
export const INTEGER_OPS: ReadonlyMap<string, { channelAxis: (rank: number) => number; reductionAxis: (rank: number) => number }> = new Map(
  [
    // B [..., K, N]: per-column zero points and scales run along N.
    ['MatMulInteger', { channelAxis: (rank: number) => Math.max(0, rank - 1), reductionAxis: (rank: number) => Math.max(0, rank - 2) }],
    // W [M, C/group, kh, kw]: per output channel M.
    ['ConvInteger', { channelAxis: () => 0, reductionAxis: () => 1 }],
  ],
);

/** Every op type the unstructured passes handle (report.unhandled counts the rest). */
export const HANDLED_OPS: ReadonlySet<string> = new Set([...WEIGHT_OPS.keys(), ...INTEGER_OPS.keys()]);

export const PACKED_4BIT_REASON = 'packed 4-bit blocks: prune before quantizing';

/** A dynamic integer node's codes, or why they cannot be pruned. */
function integerWeight(graph: Graph, node: onnx.INodeProto, channelAxis: (rank: number) => number): PrunableTensor | string {
  const qName = (node.input ?? [])[1];
  const rank = (qName ? graph.initializer(qName)?.dims?.length : undefined) ?? 0;
  return quantizedTensor(graph, qName, (node.input ?? [])[3] || undefined, dynamicWeightScale(graph, node), channelAxis(rank));
}

/**
 * A float op's weight stored as codes behind DequantizeLinear (static QDQ): the codes initializer with
 * the DequantizeLinear's scale and zero point. Undefined when the weight is not a DequantizeLinear output.
 */
function dequantizedWeight(graph: Graph, wName: string | undefined): { tensor: PrunableTensor | string } | undefined {
  const dq = wName ? graph.producer(wName) : undefined;
  if (!dq || dq.opType !== 'DequantizeLinear' || !isDefaultDomain(dq)) return undefined;
  const [qName, sName, zpName] = dq.input;
  if (attrInt(dq, 'block_size', 0) !== 0)
    return { tensor: `weight '${qName}' is blockwise quantized (block_size); only per-tensor or per-axis codes are pruned` };
  const sInit = sName ? graph.initializer(sName) : undefined;
  if (!sName || !sInit || graph.isGraphInput(sName))
    return { tensor: `scale '${sName ?? ''}' of DequantizeLinear '${dq.name}' is not a constant initializer` };
  const rank = (qName ? graph.initializer(qName)?.dims?.length : undefined) ?? 0;
  const a = attrInt(dq, 'axis', 1);
  const scale = graph.readInitializer(sName);
  if (scale.dtype !== 'float32') return { tensor: `scale '${sName}' is ${scale.dtype}; only float32 scales are read` };
  const axis = a < 0 ? a + rank : a;
  const t = quantizedTensor(graph, qName, zpName || undefined, scale, axis);
  if (typeof t !== 'string' && !t.quant!.scaled)
    return { tensor: `scale '${sName}' has ${scale.data.length} values; expected 1 or ${t.dims[axis]} (axis ${axis})` };
  return { tensor: t };
}

/**
 * A float op's weight stored as 8-bit codes that a Cast turns to float and a Mul scales, zero point 0:
 * @shrink/quantize's weight-only Conv (codes -> Cast -> Mul(scale [M, 1, ...]) -> Conv, with one more
 * Cast to float16 for a Conv computing in float16). Undefined when the weight is not made that way.
 */
function castScaledWeight(graph: Graph, wName: string | undefined): { tensor: PrunableTensor | string } | undefined {
  let mul = wName ? graph.producer(wName) : undefined;
  if (mul?.opType === 'Cast' && isDefaultDomain(mul)) mul = graph.producer(mul.input[0] ?? '');
  if (!mul || mul.opType !== 'Mul' || !isDefaultDomain(mul) || mul.input.length !== 2) return undefined;
  const casts = mul.input.map((i) => graph.producer(i));
  const at = casts.findIndex((c) => c?.opType === 'Cast' && isDefaultDomain(c) && isCodes(graph, c.input[0]));
  if (at < 0) return undefined;
  const qName = casts[at]!.input[0]!;
  const sName = mul.input[1 - at]!;
  if (!graph.isInitializer(sName) || graph.isGraphInput(sName))
    return { tensor: `scale '${sName}' of Mul '${nodeLabel(mul)}' is not a constant initializer` };
  const scale = graph.readInitializer(sName);
  if (scale.dtype !== 'float32') return { tensor: `scale '${sName}' is ${scale.dtype}; only float32 scales are read` };
  const qDims = graph.initializer(qName)?.dims?.map(Number) ?? [];
  // Per tensor, or per one axis (the scale broadcasts along every other one).
  const wide = scale.dims.flatMap((d, i) => (d > 1 ? [i + qDims.length - scale.dims.length] : []));
  if (wide.length > 1 || (wide.length === 1 && scale.dims.length > qDims.length))
    return { tensor: `scale '${sName}' [${scale.dims.join(', ')}] is neither per tensor nor per axis of '${qName}'` };
  const t = quantizedTensor(graph, qName, undefined, scale, wide[0] ?? 0);
  if (typeof t !== 'string' && !t.quant!.scaled) return { tensor: `scale '${sName}' [${scale.dims.join(', ')}] does not match '${qName}'` };
  return { tensor: t };
}

/** Whether `name` is an 8-bit initializer (the codes of a weight quantized ahead of time). */
function isCodes(graph: Graph, name: string | undefined): boolean {
  const t = name && !graph.isGraphInput(name) ? graph.initializer(name) : undefined;
  return t !== undefined && ['int8', 'uint8'].includes(dtypeFromOnnx(t.dataType ?? 0));
}

/**
 * Walks the weight-bearing nodes in graph order: each is either a target, or a skipped row for the
 * report. A weight shared by several nodes is pruned once, at its first consumer. Besides float32
 * weights, 8-bit codes made by quantization are targets: MatMulInteger / ConvInteger (dynamic), a
 * DequantizeLinear feeding a weight input (static QDQ), and codes -> Cast -> Mul(scale) feeding one (q8's
 * weight-only Conv). Their biases are never pruned.
 */
export function collectTargets(
  graph: Graph,
  select: NodeSelector,
  withBias: boolean,
): Array<{ target: WeightTarget } | { skipped: LayerOutcome }> {
  const taken = new Map<string, string>();
  const out: Array<{ target: WeightTarget } | { skipped: LayerOutcome }> = [];
  for (const node of graph.nodes) {
    const std = isDefaultDomain(node);
    const op = std ? WEIGHT_OPS.get(node.opType) : undefined;
    const integer = std ? INTEGER_OPS.get(node.opType) : undefined;
    const packed = node.domain === 'com.microsoft' && node.opType === 'MatMulNBits';
    if (!op && !integer && !packed) continue;
    const label = nodeLabel(node);
    const skip = (reason: string): void => void out.push({ skipped: { name: label, opType: node.opType, action: 'skipped', reason } });
    const sel = select.isSelected(node);
    if (!sel.ok) {
      skip(sel.reason);
      continue;
    }
    if (packed) {
      skip(PACKED_4BIT_REASON);
      continue;
    }
    const wInput = node.input[op ? op.weight : 1];
    const dequantized = op ? (dequantizedWeight(graph, wInput) ?? castScaledWeight(graph, wInput)) : undefined;
    const weight = integer
      ? integerWeight(graph, node, integer.channelAxis)
      : dequantized
        ? dequantized.tensor
        : prunable(graph, wInput, 'weight');
    const wName = typeof weight === 'string' ? wInput : weight.name;
    const owner = wName !== undefined ? taken.get(wName) : undefined;
    if (owner !== undefined) {
      skip(`weight '${wName}' is shared with '${owner}', pruned there`);
      continue;
    }
    if (typeof weight === 'string') {
      skip(weight);
      continue;
    }
    taken.set(weight.name, label);
    const axis = integer ? integer.reductionAxis(weight.dims.length) : op!.reductionAxis(node, weight.dims.length);
    const target: WeightTarget = { node, label, weight, axis };
    const bName = withBias && op && !weight.quant ? op.bias(graph, node) : undefined;
    if (bName !== undefined && !taken.has(bName)) {
      const bias = prunable(graph, bName, 'bias');
      if (typeof bias !== 'string') {
        taken.set(bias.name, label);
        target.bias = bias;
      }
    }
    out.push({ target });
  }
  return out;
}

/** Zero count of a tensor. */
export function countZeros(values: Float32Array): number {
  let z = 0;
  for (const v of values) if (v === 0) z++;
  return z;
}

/**
 * Writes a pruned tensor back under its name (the graph takes ownership of the array). Codes whose
 * magnitude was zeroed become their zero point.
 */
export function writeBack(graph: Graph, t: PrunableTensor): void {
  const q = t.quant;
  if (t.constantNode) graph.removeNode(t.constantNode);
  if (!q) {
    if (t.float16) graph.setInitializer(t.name, 'float16', t.dims, float32ToFloat16(t.values), { copy: false });
    else graph.setInitializer(t.name, 'float32', t.dims, t.values, { copy: false });
    return;
  }
  for (let i = 0; i < q.codes.length; i++) if (t.values[i] === 0) q.codes[i] = q.zeroPoint(i);
  graph.setInitializer(t.name, q.dtype, t.dims, q.codes, { copy: false });
}
