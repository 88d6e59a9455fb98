/**
 * Multiply-accumulate counts of the compute-heavy ops, from static shapes (see shapes.ts).
 * One MAC = one multiply + one add of the underlying dot products; bias adds, activations, pooling
 * and normalization are not counted. Results are for the input shapes used: the declared ones, with every
 * symbolic dim given a value by `chooseInputDims` (batch 1) unless the caller gives shapes, and the values
 * chosen are returned (`assumed`) so a report can say what the count is per.
 */
import type { onnx } from '../onnx/proto.js';
import { attrInt, attrString, typeDtype, typeShape } from '../onnx/graph.js';
import { chooseInputDims, describeAssumed, type DeclaredInput } from '../onnx/input-dims.js';
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
  /** Nodes that likely do multiply-accumulates but could not be counted (unknown shapes, unsupported op, loop body). */
  unknown: string[];
  /** `total` misses the `unknown` nodes: the true count is at least `total`. */
  lowerBound: boolean;
  /** Symbolic input dims given a value to count at (name → value), e.g. {batch_size: 1, sequence_length: 16}. */
  assumed: Record<string, number>;
  /** The input shapes counted at. */
  inputShapes: Record<string, number[]>;
  /** If nodes counted at their larger branch: If label → branch attribute name. */
  branches: Record<string, string>;
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

type ShapeArg = ReadonlyMap<string, readonly number[]> | Readonly<Record<string, readonly number[]>>;

function isShapeMap(v: unknown): v is ReadonlyMap<string, readonly number[]> {
  return v instanceof Map;
}

/** The graph inputs that are fed (not initializers), as `chooseInputDims` reads them. */
function declaredInputs(g: onnx.IGraphProto): DeclaredInput[] {
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  return (g.input ?? [])
    .filter((v) => !inits.has(v.name ?? ''))
    .map((v) => {
      const shape = typeShape(v.type);
      const type = typeDtype(v.type);
      return {
        name: v.name ?? '',
        ...(type ? { type } : {}),
        ...(shape ? { shape: shape.map((d) => (d === null ? undefined : d)) } : {}),
      };
    });
}

/**
 * Shapes for every input: the caller's where given, the rest from `chooseInputDims` (symbols the caller's
 * shapes fix keep those values, so a given batch of 8 is the batch everywhere).
 */
function inputShapesFor(g: onnx.IGraphProto, given: Readonly<Record<string, readonly number[]>>) {
  const declared = declaredInputs(g);
  const symbols: Record<string, number> = {};
  for (const d of declared) {
    const want = given[d.name];
    d.shape?.forEach((dim, i) => {
      if (typeof dim === 'string' && want?.[i] !== undefined) symbols[dim] = want[i];
    });
  }
  const rest = declared.filter((d) => !given[d.name] && d.shape);
  const chosen = chooseInputDims(rest, { symbols });
  const dims: Record<string, number[]> = {};
  for (const d of declared) {
    const v = given[d.name] ?? chosen.dims[d.name];
    if (v) dims[d.name] = [...v];
  }
  // Symbols the caller's shapes fixed are not assumptions.
  const assumed = Object.fromEntries(Object.entries(chosen.assumed).filter(([k]) => !(k in symbols)));
  return { dims, assumed };
}

/**
 * MACs of every MatMul/Gemm/Conv-family node (incl. quantized and com.microsoft variants, LSTM/GRU/RNN),
 * and of the larger branch of each If. `shapes`: a map from `inferShapes`, or shapes for some or all
 * inputs to infer from (the rest, and by default all, from the declared shapes; see `chooseInputDims`).
 */
export function countMacs(model: onnx.IModelProto, shapes?: ShapeArg): MacCount {
  const result: MacCount = { total: 0, byNode: [], unknown: [], lowerBound: false, assumed: {}, inputShapes: {}, branches: {} };
  const g = model.graph;
  if (!g) return result;
  let known: ReadonlyMap<string, readonly number[]>;
  // Undefined when the caller gave inferred shapes: If branches then have none and are left unknown.
  let dims: Record<string, number[]> | undefined;
  if (isShapeMap(shapes)) known = shapes;
  else {
    const chosen = inputShapesFor(g, shapes ?? {});
    dims = chosen.dims;
    result.assumed = chosen.assumed;
    result.inputShapes = chosen.dims;
    known = inferShapes(flattenIfs(model), dims);
  }
  countNodes(model, 0, known, dims, result);
  result.lowerBound = result.unknown.length > 0;
  return result;
}

/** Counts `model.graph.node[from..]` into `result`; If branches are inlined after the nodes before them. */
function countNodes(
  model: onnx.IModelProto,
  from: number,
  known: ReadonlyMap<string, readonly number[]>,
  dims: Record<string, number[]> | undefined,
  result: MacCount,
): void {
  const nodes = model.graph?.node ?? [];
  nodes.slice(from).forEach((node, k) => {
    const opType = node.opType ?? '';
    const name = nodeLabel(node);
    if (opType === 'If' && isDefaultDomain(node) && dims) {
      countIf(model, from + k, dims, result);
      return;
    }
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
}

function isDefaultDomain(node: onnx.INodeProto): boolean {
  return !node.domain || node.domain === 'ai.onnx';
}

/**
 * For shape inference only: every If replaced by the nodes of both its branches, its outputs taken from the
 * then branch (Identity). Exporters guard shapes with Ifs (pad when too short, reshape when 2-D) whose
 * branches agree on the output's shape; without this, nothing after such an If has a shape.
 */
function flattenIfs(model: onnx.IModelProto): onnx.IModelProto {
  const g = model.graph;
  if (!g?.node?.some((n) => n.opType === 'If' && isDefaultDomain(n))) return model;
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [...(g.initializer ?? [])];
  const flatten = (list: readonly onnx.INodeProto[]): void => {
    for (const n of list) {
      const then = (n.attribute ?? []).find((a) => a.name === 'then_branch')?.g;
      const other = (n.attribute ?? []).find((a) => a.name === 'else_branch')?.g;
      if (n.opType !== 'If' || !isDefaultDomain(n) || !then || !other) {
        nodes.push(n);
        continue;
      }
      for (const b of [then, other]) {
        inits.push(...(b.initializer ?? []));
        flatten(b.node ?? []);
      }
      (n.output ?? []).forEach((o, i) => {
        const src = then.output?.[i]?.name;
        if (o && src) nodes.push({ opType: 'Identity', input: [src], output: [o] });
      });
    }
  };
  flatten(g.node);
  return { ...model, graph: { ...g, node: nodes, initializer: inits } };
}

/**
 * One branch of an If runs per call, so the If costs its larger branch. Each branch is counted inlined
 * after the nodes before the If (ONNX names are unique across scopes, so inlining renames nothing), which
 * gives its nodes the shapes of the outer values they read.
 */
function countIf(model: onnx.IModelProto, at: number, dims: Record<string, number[]>, result: MacCount): void {
  const g = model.graph!;
  const node = g.node![at]!;
  const before = g.node!.slice(0, at);
  let best: { attr: string; r: MacCount } | undefined;
  for (const a of node.attribute ?? []) {
    if (!a.g) continue;
    const inlined: onnx.IModelProto = {
      ...model,
      graph: {
        ...g,
        node: [...before, ...(a.g.node ?? [])],
        initializer: [...(g.initializer ?? []), ...(a.g.initializer ?? [])],
        valueInfo: [...(g.valueInfo ?? []), ...(a.g.valueInfo ?? [])],
        output: [],
      },
    };
    const r: MacCount = { total: 0, byNode: [], unknown: [], lowerBound: false, assumed: {}, inputShapes: {}, branches: {} };
    let known: ReadonlyMap<string, readonly number[]>;
    try {
      known = inferShapes(flattenIfs(inlined), dims);
    } catch {
      known = new Map();
    }
    countNodes(inlined, before.length, known, dims, r);
    if (!best || r.total > best.r.total || (r.total === best.r.total && r.unknown.length > best.r.unknown.length)) {
      best = { attr: a.name ?? '', r };
    }
  }
  if (!best) return;
  result.total += best.r.total;
  result.byNode.push(...best.r.byNode);
  result.unknown.push(...best.r.unknown);
  Object.assign(result.branches, best.r.branches, { [nodeLabel(node)]: best.attr });
}

/**
 * What a MAC count is per, for reports: "per sample at batch=1, sequence=16 (input [1, 16])", and
 * "lower bound: not counted: …" when some nodes could not be counted.
 */
export function describeMacs(m: MacCount): string {
  const shapes = Object.entries(m.inputShapes);
  const given = shapes.length > 0 && shapes.length <= 4 ? shapes.map(([k, v]) => `${k} [${v.join(', ')}]`).join(', ') : '';
  const assumed = describeAssumed(m.assumed);
  const at = assumed ? `at ${assumed}${given ? ` (${given})` : ''}` : given ? `at ${given}` : 'at the declared shapes';
  const branches = Object.entries(m.branches);
  return [
    `MatMul/Gemm/Conv per sample ${at}`,
    ...(branches.length ? [`If counted at its larger branch (${branches.map(([k, v]) => `${k}: ${v}`).join(', ')})`] : []),
    ...(m.lowerBound ? [`lower bound, not counted: ${m.unknown.join(', ')}`] : []),
  ].join('; ');
}
