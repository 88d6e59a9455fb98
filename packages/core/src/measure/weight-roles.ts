/**
 * What each stored tensor is to the ops that read it: a quantization scale, a zero point, integer weight
 * codes (packed or not), or a plain tensor. Parameter counts need this because a quantized model stores
 * its weights as codes plus scales and zero points, and only the codes stand for parameters: counted that
 * way, a model and its q8, q4 and fp16 versions have the same number of parameters.
 */
import type { onnx } from '../onnx/proto.js';
import { attrInt, subgraphsOf } from '../onnx/graph.js';

/** Input slots of the quantization ops: scales, zero points, and inputs that hold codes of any integer type. */
interface Slots {
  readonly scales: readonly number[];
  readonly zeroPoints: readonly number[];
  readonly codes: readonly number[];
}

const SLOTS: ReadonlyMap<string, Slots> = new Map([
  ['QuantizeLinear', { scales: [1], zeroPoints: [2], codes: [] }],
  ['DequantizeLinear', { scales: [1], zeroPoints: [2], codes: [0] }],
  ['MatMulInteger', { scales: [], zeroPoints: [2, 3], codes: [0, 1] }],
  ['ConvInteger', { scales: [], zeroPoints: [2, 3], codes: [0, 1] }],
  ['QLinearMatMul', { scales: [1, 4, 6], zeroPoints: [2, 5, 7], codes: [0, 3] }],
  // The int32 bias of QLinearConv and QGemm is a quantized parameter like the weight.
  ['QLinearConv', { scales: [1, 4, 6], zeroPoints: [2, 5, 7], codes: [0, 3, 8] }],
  ['QGemm', { scales: [1, 4, 7], zeroPoints: [2, 5, 8], codes: [0, 3, 6] }],
  ['MatMulNBits', { scales: [2], zeroPoints: [3], codes: [1] }],
  ['GatherBlockQuantized', { scales: [2], zeroPoints: [3], codes: [0] }],
  ['DynamicQuantizeMatMul', { scales: [2], zeroPoints: [3], codes: [1] }],
  ['MatMulIntegerToFloat', { scales: [2, 3], zeroPoints: [4, 5], codes: [0, 1] }],
  ['QAttention', { scales: [3, 4], zeroPoints: [6, 7], codes: [1] }],
]);

/**
 * Other com.microsoft QLinear* ops (QLinearAdd, QLinearConcat, QLinearSigmoid, …) list (x, x_scale,
 * x_zero_point) groups: every float input is a scale, an input right after a scale is its zero point.
 */
function genericQLinear(op: string): boolean {
  return op.startsWith('QLinear') && !SLOTS.has(op);
}

/** Ops that pass a tensor on unchanged in value: a scale reshaped before a Mul is still a scale. */
const PASS_THROUGH = new Set(['Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity', 'Cast', 'Expand']);

export type WeightRole = 'scale' | 'zeroPoint' | 'code';

/** Codes packed `bits` to the byte (MatMulNBits, GatherBlockQuantized), by tensor name. */
export interface PackedCodes {
  bits: number;
  /** Logical element count when the op's attributes say it; otherwise derived from the bytes. */
  elements?: number;
}

export interface WeightRoles {
  /** Value name → role (values without a role are plain tensors). */
  readonly roles: ReadonlyMap<string, WeightRole>;
  readonly packed: ReadonlyMap<string, PackedCodes>;
  /** Nodes that read stored weight codes, by kind: "MatMulNBits (4-bit, block 32)" → 12. */
  readonly quantizedOps: Readonly<Record<string, number>>;
}

interface Walk {
  roles: Map<string, WeightRole>;
  packed: Map<string, PackedCodes>;
  /** Values that are scales computed at run time (DynamicQuantizeLinear's y_scale and products of scales). */
  runtimeScales: Set<string>;
  /** Output → input of PASS_THROUGH nodes. */
  aliases: Map<string, string>;
  /** Stored tensors (initializers, Constant outputs) of every graph, with their element type. */
  stored: Map<string, number>;
  /** (node, code input name) pairs, resolved into quantizedOps once all tensors are known. */
  readers: Array<{ node: onnx.INodeProto; code: string }>;
  /** Values that are stored integer codes cast to float, or such values with a zero point taken off / a scale applied. */
  castCodes: Set<string>;
}

function collectStored(g: onnx.IGraphProto, into: Map<string, number>): void {
  for (const t of g.initializer ?? []) if (t.name) into.set(t.name, t.dataType ?? 0);
  for (const s of g.sparseInitializer ?? []) if (s.values?.name) into.set(s.values.name, s.values.dataType ?? 0);
  for (const n of g.node ?? []) {
    if (n.opType === 'Constant' && n.output?.[0]) {
      const a = (n.attribute ?? [])[0];
      into.set(n.output[0], a?.t?.dataType ?? (a?.name === 'value_float' || a?.name === 'value_floats' ? 1 : 7));
    }
    for (const sg of subgraphsOf(n)) collectStored(sg, into);
  }
}

const FLOAT_CODES = new Set([1, 10, 11, 16]);
/** uint8, int8, uint4, int4: what weight codes are stored as. */
const INTEGER_CODES = new Set([2, 3, 21, 22]);

function mark(w: Walk, name: string | undefined, role: WeightRole): void {
  if (!name) return;
  let v = name;
  for (let hops = 0; hops < 8 && !w.stored.has(v); hops++) {
    const src = w.aliases.get(v);
    if (src === undefined) break;
    v = src;
  }
  if (!w.stored.has(v)) return;
  // A scale or zero point read as data elsewhere is still a quantization parameter; codes never demote it.
  if (w.roles.get(v) === 'scale' || w.roles.get(v) === 'zeroPoint') return;
  w.roles.set(v, role);
}

function walk(g: onnx.IGraphProto, w: Walk): void {
  for (const n of g.node ?? []) {
    const op = n.opType ?? '';
    const ins = n.input ?? [];
    if (PASS_THROUGH.has(op) && ins[0] && n.output?.[0]) w.aliases.set(n.output[0], ins[0]);
    const slots = SLOTS.get(op);
    if (slots) {
      for (const i of slots.scales) mark(w, ins[i], 'scale');
      for (const i of slots.zeroPoints) mark(w, ins[i], 'zeroPoint');
      for (const i of slots.codes) {
        const c = ins[i];
        if (c && w.stored.has(c) && !FLOAT_CODES.has(w.stored.get(c) ?? 0)) {
          mark(w, c, 'code');
          w.readers.push({ node: n, code: c });
        }
      }
    } else if (genericQLinear(op)) {
      let afterScale = false;
      ins.forEach((name, i) => {
        const t = w.stored.get(name);
        if (t !== undefined && FLOAT_CODES.has(t) && i > 0) {
          mark(w, name, 'scale');
          afterScale = true;
          return;
        }
        if (afterScale) mark(w, name, 'zeroPoint');
        else if (t !== undefined) {
          mark(w, name, 'code');
          w.readers.push({ node: n, code: name });
        }
        afterScale = false;
      });
    } else if (op === 'Cast' && ins[0] && n.output?.[0] && INTEGER_CODES.has(w.stored.get(ins[0]) ?? 0)) {
      // Weight-only codes dequantized in the graph: Cast(codes) [- zero point] * scale feeds a float op.
      w.castCodes.add(n.output[0]);
      mark(w, ins[0], 'code');
      w.readers.push({ node: n, code: ins[0] });
    } else if ((op === 'Mul' || op === 'Sub') && ins.length === 2 && ins.some((i) => w.castCodes.has(i))) {
      const other = w.castCodes.has(ins[0]!) ? ins[1] : ins[0];
      if (other && resolvesToStored(w, other)) mark(w, other, op === 'Mul' ? 'scale' : 'zeroPoint');
      if (n.output?.[0]) w.castCodes.add(n.output[0]);
    } else if (op === 'DynamicQuantizeLinear') {
      if (n.output?.[1]) w.runtimeScales.add(n.output[1]);
    } else if (op === 'Mul' && ins.length === 2) {
      // Dynamic quantization rescales the integer result by Mul(x_scale, w_scale) (onnxruntime and Shrink).
      const [a, b] = ins as [string, string];
      const aScale = w.runtimeScales.has(a);
      const bScale = w.runtimeScales.has(b);
      if (aScale || bScale) {
        const other = aScale ? b : a;
        if (w.runtimeScales.has(other) || resolvesToStored(w, other)) {
          mark(w, other, 'scale');
          if (n.output?.[0]) w.runtimeScales.add(n.output[0]);
        }
      }
    }
    if (op === 'MatMulNBits') {
      const bits = attrInt(n, 'bits', 4);
      const K = attrInt(n, 'K', 0);
      const N = attrInt(n, 'N', 0);
      const block = attrInt(n, 'block_size', 0);
      if (ins[1]) w.packed.set(ins[1], { bits, ...(K > 0 && N > 0 ? { elements: K * N } : {}) });
      // Zero points are packed codes too (a float zero point is not: it is counted as is).
      if (ins[3]) w.packed.set(ins[3], { bits, ...(N > 0 && K > 0 && block > 0 ? { elements: N * Math.ceil(K / block) } : {}) });
    } else if (op === 'GatherBlockQuantized') {
      const bits = attrInt(n, 'bits', 4);
      if (ins[0]) w.packed.set(ins[0], { bits });
      if (ins[3]) w.packed.set(ins[3], { bits });
    } else if (['MatMul', 'Gemm', 'Gather', 'Conv', 'ConvTranspose'].includes(op)) {
      // A float op reading 8-bit codes directly (Shrink's quantized Gather tables): the codes are weights.
      for (const c of ins.slice(0, 2)) {
        const t = w.stored.get(c);
        if (t === 2 || t === 3) w.readers.push({ node: n, code: c });
      }
    }
    for (const sg of subgraphsOf(n)) walk(sg, w);
  }
}

function resolvesToStored(w: Walk, name: string): boolean {
  let v = name;
  for (let hops = 0; hops < 8; hops++) {
    if (w.stored.has(v)) return true;
    const src = w.aliases.get(v);
    if (src === undefined) return false;
    v = src;
  }
  return false;
}

const DTYPE_NAMES: Readonly<Record<number, string>> = {
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  21: 'uint4',
  22: 'int4',
};

function label(node: onnx.INodeProto, code: string, w: Walk): string {
  const op = node.opType ?? '';
  if (op === 'MatMulNBits' || op === 'GatherBlockQuantized') {
    return `${op} (${attrInt(node, 'bits', 4)}-bit, block ${attrInt(node, 'block_size', 0)})`;
  }
  const dtype = DTYPE_NAMES[w.stored.get(code) ?? 0] ?? 'integer';
  if (op === 'Cast') return `weight-only, cast in the graph (${dtype})`;
  return op === 'DequantizeLinear' ? `QDQ (${dtype})` : `${op} (${dtype})`;
}

/** Roles of the stored tensors of `g` and of every subgraph inside it. */
export function weightRoles(g: onnx.IGraphProto): WeightRoles {
  const w: Walk = {
    roles: new Map(),
    packed: new Map(),
    runtimeScales: new Set(),
    aliases: new Map(),
    stored: new Map(),
    readers: [],
    castCodes: new Set(),
  };
  collectStored(g, w.stored);
  walk(g, w);
  const quantizedOps: Record<string, number> = {};
  const seen = new Set<onnx.INodeProto>();
  for (const { node, code } of w.readers) {
    // A QDQ of an int32 bias is part of the layer whose weight it serves, not a quantized layer of its own.
    const role = w.roles.get(code);
    if (seen.has(node) || role === 'scale' || role === 'zeroPoint') continue;
    if (node.opType === 'DequantizeLinear' && w.stored.get(code) === 6) continue;
    seen.add(node);
    const key = label(node, code, w);
    quantizedOps[key] = (quantizedOps[key] ?? 0) + 1;
  }
  return { roles: w.roles, packed: w.packed, quantizedOps };
}
