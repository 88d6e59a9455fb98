/**
 * Light static shape propagation: enough to count MACs and size activations for the ops common in
 * vision and MLP/transformer graphs. Not a replacement for onnx's shape inference: ops without a
 * rule leave their outputs unknown (no error), and so does anything downstream of them unless the
 * model's value_info declares a shape. Small int64/int32 tensors are also evaluated (Shape, Gather,
 * Concat, Unsqueeze, arithmetic ...) so that exporter-made Reshape targets resolve.
 */
import { ShrinkError } from '../errors.js';
import { constantTensor } from './constant-tensor.js';
import { onnx } from './proto.js';
import { attrFloats, attrInt, attrInts, attrString, opsetVersionOf, typeShape } from './graph.js';
import { isExternalTensor, readTensor, tensorDims, tensorNumel } from './tensor.js';
import { COMPUTE_OPS, type ComputeFamily, type ComputeOperands } from './compute-ops.js';

export type Shape = number[];

/** Largest int tensor whose values are tracked (shape vectors are tiny; this keeps it cheap). */
const MAX_TRACKED_VALUES = 1024;

/** What a shape rule sees of one node. */
export interface ShapeRuleInput {
  readonly node: onnx.INodeProto;
  readonly opset: number;
  shape(i: number): Shape | undefined;
  /** Values of a small constant-foldable int tensor input (flattened), when known. */
  value(i: number): number[] | undefined;
  /** Values of a small float constant input (initializer or Constant), when known. */
  floats(i: number): number[] | undefined;
  int(name: string, dflt: number): number;
  ints(name: string): number[] | undefined;
  string(name: string, dflt: string): string;
  /** Records the computed value of output `i` (for shape arithmetic downstream). */
  setValue(i: number, v: number[]): void;
}

/** Output shapes of one node, by output index; `undefined` where unknown. */
export type ShapeRule = (n: ShapeRuleInput) => (Shape | undefined)[];

/** numpy-style multidirectional broadcasting; undefined when the shapes do not broadcast. */
export function broadcastShapes(...shapes: readonly (readonly number[])[]): Shape | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s[s.length - rank + i] ?? 1;
      if (k === 1) continue;
      if (d !== 1 && d !== k) return undefined;
      d = k;
    }
    out.push(d);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

const same: ShapeRule = (n) => [n.shape(0)];

function passValue(n: ShapeRuleInput): void {
  const v = n.value(0);
  if (v) n.setValue(0, v);
}

const identity: ShapeRule = (n) => {
  passValue(n);
  return [n.shape(0)];
};

const broadcastAll: ShapeRule = (n) => {
  const shapes: Shape[] = [];
  for (let i = 0; i < (n.node.input ?? []).length; i++) {
    if (!(n.node.input ?? [])[i]) continue;
    const s = n.shape(i);
    if (!s) return [undefined];
    shapes.push(s);
  }
  return [broadcastShapes(...shapes)];
};

/** Elementwise arithmetic that also folds small int values (shape math like `dim * heads`). */
function arith(f: (a: number, b: number) => number): ShapeRule {
  return (n) => {
    const a = n.value(0);
    const b = n.value(1);
    if (a && b && (a.length === b.length || a.length === 1 || b.length === 1)) {
      const len = Math.max(a.length, b.length);
      n.setValue(
        0,
        Array.from({ length: len }, (_, i) => f(a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!)),
      );
    }
    return broadcastAll(n);
  };
}

/** numpy matmul shapes: 1-D operands are promoted, then the batch dims broadcast. */
export function matmulShape(a: readonly number[], b: readonly number[]): Shape | undefined {
  if (a.length === 0 || b.length === 0) return undefined;
  const A = a.length === 1 ? [1, a[0]!] : [...a];
  const B = b.length === 1 ? [b[0]!, 1] : [...b];
  if (A[A.length - 1] !== B[B.length - 2]) return undefined;
  const batch = broadcastShapes(A.slice(0, -2), B.slice(0, -2));
  if (!batch) return undefined;
  const out = [...batch];
  if (a.length > 1) out.push(A[A.length - 2]!);
  if (b.length > 1) out.push(B[B.length - 1]!);
  return out;
}

function matmulOf(ia: number, ib: number): ShapeRule {
  return (n) => {
    const a = n.shape(ia);
    const b = n.shape(ib);
    return [a && b ? matmulShape(a, b) : undefined];
  };
}

/** Spatial output sizes of a convolution or pooling window. */
function windowed(n: ShapeRuleInput, x: Shape, kernel: readonly number[], ceil: boolean): number[] | undefined {
  const r = kernel.length;
  if (x.length !== r + 2) return undefined;
  const strides = n.ints('strides') ?? new Array<number>(r).fill(1);
  const dil = n.ints('dilations') ?? new Array<number>(r).fill(1);
  const pads = n.ints('pads') ?? new Array<number>(2 * r).fill(0);
  const autoPad = n.string('auto_pad', 'NOTSET');
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const input = x[2 + i]!;
    const s = strides[i] ?? 1;
    const eff = (kernel[i]! - 1) * (dil[i] ?? 1) + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(input / s));
    else if (autoPad === 'VALID') out.push(Math.floor((input - eff) / s) + 1);
    else {
      const pb = pads[i] ?? 0;
      const span = input + pb + (pads[i + r] ?? 0) - eff;
      let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      // As onnxruntime: with ceil_mode the last window must start inside the input or left padding.
      if (ceil && (o - 1) * s >= input + pb) o--;
      out.push(o);
    }
  }
  return out.some((d) => !(d > 0)) ? undefined : out;
}

function convOf(ix: number, iw: number): ShapeRule {
  return (n) => {
    const x = n.shape(ix);
    const w = n.shape(iw);
    if (!x || !w || w.length < 3) return [undefined];
    const kernel = n.ints('kernel_shape') ?? w.slice(2);
    const sp = windowed(n, x, kernel, false);
    return [sp ? [x[0]!, w[0]!, ...sp] : undefined];
  };
}

const convTranspose: ShapeRule = (n) => {
  const x = n.shape(0);
  const w = n.shape(1);
  if (!x || !w || w.length < 3 || x.length !== w.length) return [undefined];
  const r = w.length - 2;
  const cout = w[1]! * n.int('group', 1);
  const given = n.ints('output_shape');
  if (given && given.length >= r) return [[x[0]!, cout, ...given.slice(-r)]];
  const kernel = n.ints('kernel_shape') ?? w.slice(2);
  const strides = n.ints('strides') ?? new Array<number>(r).fill(1);
  const dil = n.ints('dilations') ?? new Array<number>(r).fill(1);
  const pads = n.ints('pads') ?? new Array<number>(2 * r).fill(0);
  const outPad = n.ints('output_padding') ?? new Array<number>(r).fill(0);
  const autoPad = n.string('auto_pad', 'NOTSET');
  const sp: number[] = [];
  for (let i = 0; i < r; i++) {
    const s = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') sp.push(x[2 + i]! * s);
    else {
      sp.push(s * (x[2 + i]! - 1) + (outPad[i] ?? 0) + ((kernel[i]! - 1) * (dil[i] ?? 1) + 1) - (pads[i] ?? 0) - (pads[i + r] ?? 0));
    }
  }
  return [[x[0]!, cout, ...sp]];
};

const pool: ShapeRule = (n) => {
  const x = n.shape(0);
  const kernel = n.ints('kernel_shape');
  if (!x || !kernel) return [undefined, undefined];
  const sp = windowed(n, x, kernel, n.int('ceil_mode', 0) === 1);
  const out = sp ? [x[0]!, x[1]!, ...sp] : undefined;
  return [out, out];
};

const globalPool: ShapeRule = (n) => {
  const x = n.shape(0);
  return [x && x.length >= 2 ? [x[0]!, x[1]!, ...x.slice(2).map(() => 1)] : undefined];
};

function gemmOf(ia: number, ib: number): ShapeRule {
  return (n) => {
    const a = n.shape(ia);
    const b = n.shape(ib);
    if (!a || !b || a.length !== 2 || b.length !== 2) return [undefined];
    const m = n.int('transA', 0) ? a[1]! : a[0]!;
    const nn = n.int('transB', 0) ? b[0]! : b[1]!;
    return [[m, nn]];
  };
}

const flatten: ShapeRule = (n) => {
  const x = n.shape(0);
  if (!x) return [undefined];
  const axis = normAxis(n.int('axis', 1), x.length);
  return [[tensorNumel(x.slice(0, axis)), tensorNumel(x.slice(axis))]];
};

const reshape: ShapeRule = (n) => {
  const x = n.shape(0);
  const target = n.opset < 5 ? n.ints('shape') : n.value(1);
  if (!target) return [undefined];
  const allowZero = n.int('allowzero', 0) === 1;
  const out = target.map((d, i) => (d === 0 && !allowZero ? (x ? (x[i] ?? -2) : -2) : d));
  if (out.includes(-2)) return [undefined];
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    if (!x) return [undefined];
    const known = tensorNumel(out.filter((_, i) => i !== minus));
    if (known === 0) return [undefined];
    out[minus] = tensorNumel(x) / known;
    if (!Number.isInteger(out[minus])) return [undefined];
  }
  passValue(n);
  return [out];
};

const transpose: ShapeRule = (n) => {
  const x = n.shape(0);
  if (!x) return [undefined];
  const perm = n.ints('perm') ?? x.map((_, i) => x.length - 1 - i);
  return [perm.map((p) => x[p]!)];
};

const concat: ShapeRule = (n) => {
  const shapes: Shape[] = [];
  const values: number[] = [];
  let allValues = true;
  (n.node.input ?? []).forEach((_, i) => {
    const s = n.shape(i);
    if (s) shapes.push(s);
    const v = n.value(i);
    if (v) values.push(...v);
    else allValues = false;
  });
  if (shapes.length !== (n.node.input ?? []).length || shapes.length === 0) return [undefined];
  const rank = shapes[0]!.length;
  const axis = normAxis(n.int('axis', 0), rank);
  if (allValues && rank === 1) n.setValue(0, values);
  const out = [...shapes[0]!];
  out[axis] = shapes.reduce((s, sh) => s + (sh[axis] ?? 0), 0);
  return [out];
};

const gather: ShapeRule = (n) => {
  const data = n.shape(0);
  const idx = n.shape(1);
  if (!data || !idx) return [undefined];
  const axis = normAxis(n.int('axis', 0), data.length);
  const dv = n.value(0);
  const iv = n.value(1);
  if (dv && iv && data.length === 1)
    n.setValue(
      0,
      iv.map((i) => dv[i < 0 ? i + dv.length : i]!),
    );
  return [[...data.slice(0, axis), ...idx, ...data.slice(axis + 1)]];
};

function axesOf(n: ShapeRuleInput, inputIndex: number, attrSince: number): number[] | undefined {
  return n.opset < attrSince ? n.ints('axes') : n.value(inputIndex);
}

const unsqueeze: ShapeRule = (n) => {
  const x = n.shape(0);
  const axes = axesOf(n, 1, 13);
  if (!x || !axes) return [undefined];
  const rank = x.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(a, rank)));
  const out: number[] = [];
  for (let i = 0, j = 0; i < rank; i++) out.push(set.has(i) ? 1 : x[j++]!);
  passValue(n);
  return [out];
};

const squeeze: ShapeRule = (n) => {
  const x = n.shape(0);
  if (!x) return [undefined];
  const axes = axesOf(n, 1, 13);
  const hasAxesInput = n.opset >= 13 && (n.node.input ?? [])[1];
  if (hasAxesInput && !axes) return [undefined];
  const set = new Set((axes ?? []).map((a) => normAxis(a, x.length)));
  passValue(n);
  return [x.filter((d, i) => (axes && axes.length > 0 ? !set.has(i) : d !== 1))];
};

const shapeOp: ShapeRule = (n) => {
  const x = n.shape(0);
  if (!x) return [undefined];
  const r = x.length;
  const clamp = (v: number): number => Math.min(Math.max(normAxis(v, r), 0), r);
  const start = clamp(n.int('start', 0));
  const end = clamp(n.int('end', r));
  const dims = x.slice(start, Math.max(start, end));
  n.setValue(0, dims);
  return [[dims.length]];
};

const size: ShapeRule = (n) => {
  const x = n.shape(0);
  if (x) n.setValue(0, [tensorNumel(x)]);
  return [[]];
};

/**
 * One axis of a Slice by the spec's rules: negative indices count from the end; a positive step clamps
 * start and end to [0, dim], a negative one start to [0, dim - 1] and end to [-1, dim - 1]. Where the
 * slice starts in the input and how many elements it takes.
 */
export function sliceAxis(start: number, end: number, step: number, dim: number): { start: number; len: number } {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  return { start: s, len: Math.max(0, Math.ceil((e - s) / step)) };
}

const slice: ShapeRule = (n) => {
  const x = n.shape(0);
  if (!x) return [undefined];
  const starts = n.opset < 10 ? n.ints('starts') : n.value(1);
  const ends = n.opset < 10 ? n.ints('ends') : n.value(2);
  if (!starts || !ends) return [undefined];
  const hasAxes = n.opset < 10 ? n.ints('axes') !== undefined : !!(n.node.input ?? [])[3];
  const axes = hasAxes ? (n.opset < 10 ? n.ints('axes') : n.value(3)) : starts.map((_, i) => i);
  const steps = n.opset >= 10 && (n.node.input ?? [])[4] ? n.value(4) : starts.map(() => 1);
  if (!axes || !steps) return [undefined];
  const out = [...x];
  const ranges: { axis: number; start: number; step: number; len: number }[] = [];
  for (let i = 0; i < starts.length; i++) {
    const axis = normAxis(axes[i]!, x.length);
    const dim = x[axis]!;
    const step = steps[i] ?? 1;
    if (step === 0) return [undefined];
    const { start, len } = sliceAxis(starts[i]!, ends[i]!, step, dim);
    out[axis] = len;
    ranges.push({ axis, start, step, len });
  }
  const v = n.value(0);
  if (v && x.length === 1 && ranges.length === 1) {
    const { start, step, len } = ranges[0]!;
    n.setValue(
      0,
      Array.from({ length: len }, (_, i) => v[start + i * step]!),
    );
  }
  return [out];
};

const split: ShapeRule = (n) => {
  const x = n.shape(0);
  const outputs = (n.node.output ?? []).length;
  if (!x) return new Array<undefined>(outputs).fill(undefined);
  const axis = normAxis(n.int('axis', 0), x.length);
  const dim = x[axis]!;
  let parts = n.opset < 13 ? n.ints('split') : (n.node.input ?? [])[1] ? n.value(1) : undefined;
  if (!parts) {
    const count = n.int('num_outputs', outputs);
    const chunk = Math.ceil(dim / count);
    parts = Array.from({ length: count }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  }
  return parts.map((p) => {
    const s = [...x];
    s[axis] = p;
    return s;
  });
};

const pad: ShapeRule = (n) => {
  const x = n.shape(0);
  const pads = n.opset < 11 ? n.ints('pads') : n.value(1);
  if (!x || !pads) return [undefined];
  const axes = n.opset >= 18 && (n.node.input ?? [])[3] ? n.value(3) : x.map((_, i) => i);
  if (!axes) return [undefined];
  const out = [...x];
  axes.forEach((a, i) => {
    const ax = normAxis(a, x.length);
    out[ax] = out[ax]! + pads[i]! + pads[i + axes.length]!;
  });
  return [out];
};

const constantOfShape: ShapeRule = (n) => {
  const v = n.value(0);
  return [v ? [...v] : undefined];
};

const expand: ShapeRule = (n) => {
  const x = n.shape(0);
  const target = n.value(1);
  return [x && target ? broadcastShapes(x, target) : undefined];
};

const tile: ShapeRule = (n) => {
  const x = n.shape(0);
  const reps = n.value(1);
  return [x && reps && reps.length === x.length ? x.map((d, i) => d * reps[i]!) : undefined];
};

const range: ShapeRule = (n) => {
  const [s, l, d] = [n.value(0), n.value(1), n.value(2)];
  if (!s || !l || !d || d[0] === 0) return [undefined];
  const len = Math.max(0, Math.ceil((l[0]! - s[0]!) / d[0]!));
  if (len <= MAX_TRACKED_VALUES)
    n.setValue(
      0,
      Array.from({ length: len }, (_, i) => s[0]! + i * d[0]!),
    );
  return [[len]];
};

function reduce(axesInputSince: number): ShapeRule {
  return (n) => {
    const x = n.shape(0);
    if (!x) return [undefined];
    const keep = n.int('keepdims', 1) === 1;
    let axes: number[] | undefined;
    if (n.opset < axesInputSince) axes = n.ints('axes');
    else if ((n.node.input ?? [])[1]) {
      axes = n.value(1);
      if (!axes) return [undefined];
    }
    if (!axes || axes.length === 0) {
      if (n.opset >= axesInputSince && n.int('noop_with_empty_axes', 0) === 1) return [x];
      axes = x.map((_, i) => i);
    }
    const set = new Set(axes.map((a) => normAxis(a, x.length)));
    return [keep ? x.map((d, i) => (set.has(i) ? 1 : d)) : x.filter((_, i) => !set.has(i))];
  };
}

const argReduce: ShapeRule = (n) => {
  const x = n.shape(0);
  if (!x) return [undefined];
  const axis = normAxis(n.int('axis', 0), x.length);
  return [n.int('keepdims', 1) === 1 ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis)];
};

const topK: ShapeRule = (n) => {
  const x = n.shape(0);
  const k = n.opset < 10 ? n.int('k', -1) : n.value(1)?.[0];
  if (!x || k === undefined || k < 0) return [undefined, undefined];
  const axis = normAxis(n.int('axis', -1), x.length);
  const out = x.map((d, i) => (i === axis ? k : d));
  return [out, out];
};

const resize: ShapeRule = (n) => {
  const x = n.shape(0);
  if (!x) return [undefined];
  const inputs = n.node.input ?? [];
  // Resize-10 / Upsample-9: scales at input 1; Resize-11+: roi, scales, sizes at 1, 2, 3.
  const sizes = n.opset >= 11 && inputs[3] ? n.value(3) : undefined;
  if (sizes && sizes.length === x.length) return [[...sizes]];
  const scalesIndex = n.opset >= 11 ? 2 : 1;
  const scales = inputs[scalesIndex] ? n.floats(scalesIndex) : n.node.opType === 'Upsample' ? attrFloats(n.node, 'scales') : undefined;
  if (!scales || scales.length !== x.length) return [undefined];
  return [x.map((d, i) => Math.floor(d * scales[i]!))];
};

// Constant values are tracked from constantTensor, beside the rules, like initializers.
const constantOp: ShapeRule = (n) => {
  const t = constantTensor(n.node);
  return [t ? tensorDims(t) : undefined];
};

const matMulNBits: ShapeRule = (n) => {
  const a = n.shape(0);
  const N = n.int('N', -1);
  return [a && a.length >= 1 && N > 0 ? [...a.slice(0, -1), N] : undefined];
};

const dynamicQuantize: ShapeRule = (n) => [n.shape(0), [], []];

/** com.microsoft QLinearAdd / QLinearMul: A at input 0, B at input 3 (after A's scale and zero point). */
const qlinearBinary: ShapeRule = (n) => {
  const a = n.shape(0);
  const b = n.shape(3);
  return [a && b ? broadcastShapes(a, b) : undefined];
};

/** The ONNX reductions (axes by attribute, later by input 1). */
export const REDUCE_OPS = [
  'ReduceSum',
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
] as const;

/** Ops whose output 0 has the dims of input 0. */
export const SAME_SHAPE_OPS = [
  'Relu',
  'LeakyRelu',
  'PRelu',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'Exp',
  'Log',
  'Sqrt',
  'Abs',
  'Neg',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Sin',
  'Cos',
  'Tan',
  'Erf',
  'Elu',
  'Selu',
  'Celu',
  'Gelu',
  'FastGelu',
  'QuickGelu',
  'Mish',
  'Softplus',
  'Softsign',
  'ThresholdedRelu',
  'Shrink',
  'Clip',
  'Not',
  'IsNaN',
  'IsInf',
  'LRN',
  'InstanceNormalization',
  'BatchNormalization',
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
  'GroupNormalization',
  'Dropout',
  'QuantizeLinear',
  'DequantizeLinear',
  'CumSum',
  'Trilu',
  'CastLike',
  'BiasGelu',
  'Swish',
] as const;

/** Ops whose output broadcasts every input (besides Add/Sub/Mul/Div, whose rules also compute values). */
export const BROADCAST_OPS = [
  'Sum',
  'Mean',
  'Max',
  'Min',
  'Pow',
  'Mod',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Where',
  'BitShift',
  'BitwiseAnd',
  'BitwiseOr',
  'BitwiseXor',
] as const;

const COMPUTE_SHAPES: Readonly<Record<ComputeFamily, (o: ComputeOperands) => ShapeRule>> = {
  matmul: (o) => matmulOf(o.a, o.b),
  gemm: (o) => gemmOf(o.a, o.b),
  conv: (o) => convOf(o.a, o.b),
};

/** The shape rules by op type (domain-agnostic: com.microsoft ops share names with no standard op). */
export const SHAPE_RULES: ReadonlyMap<string, ShapeRule> = new Map<string, ShapeRule>([
  ...SAME_SHAPE_OPS.map((op) => [op, same] as const),
  ...BROADCAST_OPS.map((op) => [op, broadcastAll] as const),
  ['Identity', identity],
  ['Cast', identity],
  ['Add', arith((a, b) => a + b)],
  ['Sub', arith((a, b) => a - b)],
  ['Mul', arith((a, b) => a * b)],
  ['Div', arith((a, b) => Math.trunc(a / b))],
  ...[...COMPUTE_OPS].map(([op, o]) => [op, COMPUTE_SHAPES[o.family](o)] as const),
  ['MatMulNBits', matMulNBits],
  ['ConvTranspose', convTranspose],
  ['MaxPool', pool],
  ['AveragePool', pool],
  ['LpPool', pool],
  ['GlobalAveragePool', globalPool],
  ['GlobalMaxPool', globalPool],
  ['GlobalLpPool', globalPool],
  ['Flatten', flatten],
  ['Reshape', reshape],
  ['Transpose', transpose],
  ['Concat', concat],
  ['Gather', gather],
  ['Unsqueeze', unsqueeze],
  ['Squeeze', squeeze],
  ['Shape', shapeOp],
  ['Size', size],
  ['Slice', slice],
  ['Split', split],
  ['Pad', pad],
  ['ConstantOfShape', constantOfShape],
  ['Expand', expand],
  ['Tile', tile],
  ['Range', range],
  // ReduceSum took axes as an input from opset 13; the other reductions from 18.
  ...REDUCE_OPS.map((op) => [op, reduce(op === 'ReduceSum' ? 13 : 18)] as const),
  ['ArgMax', argReduce],
  ['ArgMin', argReduce],
  ['TopK', topK],
  ['Resize', resize],
  ['Upsample', resize],
  ['Constant', constantOp],
  ['DynamicQuantizeLinear', dynamicQuantize],
  ['QLinearAdd', qlinearBinary],
  ['QLinearMul', qlinearBinary],
]);

/** Values of a small int or float tensor (for shape math and Resize scales); undefined otherwise. */
function smallValues(t: onnx.ITensorProto): { ints?: number[]; floats?: number[] } {
  const DT = onnx.TensorProto.DataType;
  const dt = t.dataType ?? 0;
  const isInt = dt === DT.INT32 || dt === DT.INT64;
  const isFloat = dt === DT.FLOAT || dt === DT.DOUBLE;
  if ((!isInt && !isFloat) || isExternalTensor(t) || tensorNumel(tensorDims(t)) > MAX_TRACKED_VALUES) return {};
  try {
    const v = Array.from(readTensor(t).data as ArrayLike<number | bigint>, (x) => Number(x));
    return isInt ? { ints: v } : { floats: v };
  } catch {
    // A malformed constant only means its value is not tracked.
    return {};
  }
}

/**
 * Static shapes of the values of `model`'s main graph. Graph inputs take `inputShapes[name]` when
 * given; otherwise their declared shape, with every symbolic or unknown dim set to the value given
 * for that dim_param elsewhere in `inputShapes`, else 1 (so results are per sample, batch 1).
 * Returns every value whose shape is known: inputs, initializers, Constant outputs and node outputs.
 */
export function inferShapes(model: onnx.IModelProto, inputShapes?: Readonly<Record<string, readonly number[]>>): Map<string, Shape> {
  const g = model.graph;
  if (!g) throw new ShrinkError('INVALID_MODEL', 'model has no graph; expected ModelProto.graph to be set');
  const shapes = new Map<string, Shape>();
  const values = new Map<string, number[]>();
  const floatValues = new Map<string, number[]>();
  const track = (name: string, t: onnx.ITensorProto): void => {
    const { ints, floats } = smallValues(t);
    if (ints) values.set(name, ints);
    if (floats) floatValues.set(name, floats);
  };
  const inits = new Set<string>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    inits.add(name);
    shapes.set(name, tensorDims(t));
    track(name, t);
  }
  const given = inputShapes ?? {};
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name ?? ''));
  for (const name of Object.keys(given)) {
    if (!inputs.some((v) => v.name === name)) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `inputShapes names '${name}', which is not a graph input; inputs: ${inputs.map((v) => v.name).join(', ')}`,
      );
    }
  }
  // dim_param -> size, learned from the shapes the caller gave.
  const symbols = new Map<string, number>();
  for (const v of inputs) {
    const want = given[v.name ?? ''];
    const decl = typeShape(v.type);
    if (!want) continue;
    if (want.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShrinkError('INVALID_ARGUMENT', `inputShapes['${v.name}'] = [${want.join(', ')}] must hold non-negative integers`);
    }
    if (decl) {
      const bad = decl.length !== want.length || decl.some((d, i) => typeof d === 'number' && d !== want[i]);
      if (bad) {
        throw new ShrinkError(
          'INVALID_ARGUMENT',
          `inputShapes['${v.name}'] = [${want.join(', ')}] does not fit the declared shape [${decl.map((d) => d ?? '?').join(', ')}]`,
        );
      }
      decl.forEach((d, i) => {
        if (typeof d === 'string') symbols.set(d, want[i]!);
      });
    }
  }
  for (const v of inputs) {
    const name = v.name ?? '';
    const want = given[name];
    if (want) shapes.set(name, [...want]);
    else {
      const decl = typeShape(v.type);
      if (decl)
        shapes.set(
          name,
          decl.map((d) => (typeof d === 'number' ? d : typeof d === 'string' ? (symbols.get(d) ?? 1) : 1)),
        );
    }
  }
  // Declared shapes of intermediate values, used when no rule computes one.
  const declared = new Map<string, (number | string | null)[]>();
  for (const v of [...(g.valueInfo ?? []), ...(g.output ?? [])]) {
    const d = typeShape(v.type);
    if (d && v.name) declared.set(v.name, d);
  }
  const resolveDeclared = (name: string): Shape | undefined => {
    const d = declared.get(name);
    if (!d) return undefined;
    const out: number[] = [];
    for (const x of d) {
      const v = typeof x === 'number' ? x : typeof x === 'string' ? symbols.get(x) : undefined;
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  };

  for (const node of g.node ?? []) {
    const ins = node.input ?? [];
    const outValues: (number[] | undefined)[] = [];
    const rule = SHAPE_RULES.get(node.opType ?? '');
    let result: (Shape | undefined)[] = [];
    if (rule) {
      const input: ShapeRuleInput = {
        node,
        opset: opsetVersionOf(model, node.domain ?? '') ?? 1,
        shape: (i) => (ins[i] ? shapes.get(ins[i]) : undefined),
        value: (i) => (ins[i] ? values.get(ins[i]) : undefined),
        floats: (i) => (ins[i] ? floatValues.get(ins[i]) : undefined),
        int: (name, dflt) => attrInt(node, name, dflt),
        ints: (name) => attrInts(node, name),
        string: (name, dflt) => attrString(node, name, dflt),
        setValue: (i, v) => {
          if (v.length <= MAX_TRACKED_VALUES) outValues[i] = v;
        },
      };
      try {
        result = rule(input);
      } catch {
        // A rule meeting a shape it does not expect (e.g. rank mismatch) leaves the outputs unknown.
        result = [];
      }
    }
    const constant = constantTensor(node);
    if (constant && (node.output ?? [])[0]) track(node.output![0]!, constant);
    (node.output ?? []).forEach((o, i) => {
      if (!o) return;
      const s = result[i] ?? resolveDeclared(o);
      if (s && s.every((d) => Number.isInteger(d) && d >= 0)) shapes.set(o, s);
      const v = outValues[i];
      if (v) values.set(o, v);
    });
  }
  return shapes;
}
