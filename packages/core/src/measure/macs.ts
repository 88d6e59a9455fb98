/**
 * Multiply-accumulate counts of the compute-heavy ops, from static shapes (see shapes.ts).
 * One MAC = one multiply + one add of the underlying dot products; bias adds, activations, pooling
 * and normalization are not counted. Results are for the input shapes used: batch 1 per sample
 * unless the caller gives shapes.
 */
import type { onnx } from '../onnx/proto.js';
import { attrInt, attrString } from '../onnx/graph.js';
import { nodeLabel } from '../onnx/node-label.js';
import { tensorNumel } from '../onnx/tensor.js';
import { COMPUTE_OPS, type ComputeFamily, type ComputeOperands } from '../onnx/compute-ops.js';
import { inferShapes, matmulShape, type Shape } from '../onnx/shapes.js';

export interface NodeMacs {
  /** The node's report label (nodeLabel: its name, else its first output). */
  name: string;
  opType: string;
  macs: number;
}

export interface MacCount {
  total: number;
  byNode: NodeMacs[];
  /** Nodes that likely do multiply-accumulates but could not be counted (unknown shapes, unsupported op, subgraph). */
  unknown: string[];
}

interface MacInput {
  readonly node: onnx.INodeProto;
  shape(i: number): Shape | undefined;
  outShape(i: number): Shape | undefined;
  int(name: string, dflt: number): number;
  string(name: string, dflt: string): string;
}

type MacRule = (n: MacInput) => number | undefined;

function matmul(ia: number, ib: number): MacRule {
  return (n) => {
    const a = n.shape(ia);
    const b = n.shape(ib);
    if (!a || !b) return undefined;
    const out = matmulShape(a, b);
    return out ? tensorNumel(out) * a[a.length - 1]! : undefined;
  };
}

function gemm(ia: number, ib: number): MacRule {
  return (n) => {
    const a = n.shape(ia);
    const b = n.shape(ib);
    if (!a || !b || a.length !== 2 || b.length !== 2) return undefined;
    const [m, k] = n.int('transA', 0) ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
    const cols = n.int('transB', 0) ? b[0]! : b[1]!;
    return m * k * cols;
  };
}

/** Each output element is a dot product over (C_in / group) x kernel; W is [M, C/group, k...]. */
function conv(iw: number): MacRule {
  return (n) => {
    const w = n.shape(iw);
    const y = n.outShape(0);
    if (!w || !y || w.length < 3) return undefined;
    return tensorNumel(y) * tensorNumel(w.slice(1));
  };
}

/** Each input element is scattered through (C_out / group) x kernel weights; W is [C, M/group, k...]. */
const convTranspose: MacRule = (n) => {
  const x = n.shape(0);
  const w = n.shape(1);
  if (!x || !w || w.length < 3) return undefined;
  return tensorNumel(x) * tensorNumel(w.slice(1));
};

const matMulNBits: MacRule = (n) => {
  const a = n.shape(0);
  const K = n.int('K', 0);
  const N = n.int('N', 0);
  if (!a || K <= 0 || N <= 0) return undefined;
  return (tensorNumel(a) / K) * K * N;
};

/** Recurrent layers: per step and direction, `gates` matmuls of [batch, input + hidden] x [.., hidden]. */
function recurrent(gates: number): MacRule {
  return (n) => {
    const x = n.shape(0);
    const hidden = n.int('hidden_size', 0);
    if (!x || x.length !== 3 || hidden <= 0) return undefined;
    const [seq, batch] = n.int('layout', 0) === 1 ? [x[1]!, x[0]!] : [x[0]!, x[1]!];
    const dirs = n.string('direction', 'forward') === 'bidirectional' ? 2 : 1;
    return dirs * seq * batch * gates * hidden * (x[2]! + hidden);
  };
}

const COMPUTE_MACS: Readonly<Record<ComputeFamily, (o: ComputeOperands) => MacRule>> = {
  matmul: (o) => matmul(o.a, o.b),
  gemm: (o) => gemm(o.a, o.b),
  conv: (o) => conv(o.b),
};

/** MAC rules by op type. */
export const MAC_RULES: ReadonlyMap<string, MacRule> = new Map<string, MacRule>([
  ...[...COMPUTE_OPS].map(([op, o]) => [op, COMPUTE_MACS[o.family](o)] as const),
  ['MatMulNBits', matMulNBits],
  ['ConvTranspose', convTranspose],
  ['LSTM', recurrent(4)],
  ['GRU', recurrent(3)],
  ['RNN', recurrent(1)],
]);

/** Ops that do substantial multiply-accumulates Shrink does not count: reported as unknown. */
const UNCOUNTED = new Set([
  'Einsum',
  'Attention',
  'MultiHeadAttention',
  'GroupQueryAttention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'QAttention',
  'DecoderMaskedMultiHeadAttention',
  'SparseAttention',
  'QOrderedMatMul',
  'GatherBlockQuantized',
]);

function hasMacOps(node: onnx.INodeProto): boolean {
  for (const a of node.attribute ?? []) {
    for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
      for (const n of g.node ?? []) {
        if (MAC_RULES.has(n.opType ?? '') || UNCOUNTED.has(n.opType ?? '') || hasMacOps(n)) return true;
      }
    }
  }
  return false;
}

function isShapeMap(v: unknown): v is ReadonlyMap<string, readonly number[]> {
  return v instanceof Map;
}

/**
 * MACs of every MatMul/Gemm/Conv-family node (incl. quantized and com.microsoft variants, LSTM/GRU/RNN).
 * `shapes`: a map from `inferShapes`, or per-input shapes to infer from (default: batch 1).
 */
export function countMacs(
  model: onnx.IModelProto,
  shapes?: ReadonlyMap<string, readonly number[]> | Readonly<Record<string, readonly number[]>>,
): MacCount {
  const known = isShapeMap(shapes) ? shapes : inferShapes(model, shapes);
  const result: MacCount = { total: 0, byNode: [], unknown: [] };
  (model.graph?.node ?? []).forEach((node) => {
    const opType = node.opType ?? '';
    const name = nodeLabel(node);
    const rule = MAC_RULES.get(opType);
    if (!rule) {
      if (UNCOUNTED.has(opType) || hasMacOps(node)) result.unknown.push(name);
      return;
    }
    const ins = node.input ?? [];
    const outs = node.output ?? [];
    const macs = rule({
      node,
      shape: (i) => (ins[i] ? (known.get(ins[i]) as Shape | undefined) : undefined),
      outShape: (i) => (outs[i] ? (known.get(outs[i]) as Shape | undefined) : undefined),
      int: (key, dflt) => attrInt(node, key, dflt),
      string: (key, dflt) => attrString(node, key, dflt),
    });
    if (macs === undefined || !Number.isFinite(macs)) {
      result.unknown.push(name);
      return;
    }
    result.byNode.push({ name, opType, macs });
    result.total += macs;
  });
  return result;
}
