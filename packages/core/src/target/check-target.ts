/**
 * Which nodes of a model a target rejects, runs slowly, sends back to the CPU, or may compute wrongly:
 * the op table matched against every node (main graph and If/Loop/Scan bodies), with element types from
 * declarations and core's type rules. Pure: no runtime is loaded; op-table.runtime.test.ts keeps the
 * table honest against onnxruntime.
 */
import { constantTensor } from '../onnx/constant-tensor.js';
import { normalDomain } from '../onnx/domain.js';
import { elemTypes } from '../onnx/elem-types.js';
import { attrInt, findAttr, nodesDeep, subgraphsOf } from '../onnx/graph.js';
import { nodeLabel } from '../onnx/node-label.js';
import { onnx } from '../onnx/proto.js';
import { isExternalTensor, readTensor, tensorDims, tensorNumel } from '../onnx/tensor.js';
import { OP_RULES, type AttrCondition, type ElemName, type OpMatch, type OpRule } from './op-table.js';
import { resolveTarget, type CpuTargetName, type TargetInfo, type TargetName } from './targets.js';

export type FindingKind = 'rejected' | 'cpu-fallback' | 'unconfirmed' | 'may-saturate' | 'may-overflow' | 'slow';

export interface TargetFinding {
  readonly severity: 'error' | 'warn';
  readonly kind: FindingKind;
  /** nodeLabel: the node's name, else its first output. */
  readonly node: string;
  readonly opType: string;
  /** The op-table row (OpRule.id). */
  readonly rule: string;
  readonly message: string;
  readonly source: string;
}

export interface CheckTargetOptions {
  /** What `cpu` is on the machine meant (detectCpuTarget().target); without it `cpu` gets every CPU's rules. */
  readonly cpu?: CpuTargetName;
  /** The rows to match; OP_RULES unless a test or a caller narrows them. */
  readonly rules?: readonly OpRule[];
}

const DT = onnx.TensorProto.DataType;
const ELEM_NAMES: Readonly<Record<number, ElemName>> = {
  [DT.FLOAT]: 'float32',
  [DT.UINT8]: 'uint8',
  [DT.INT8]: 'int8',
  [DT.INT32]: 'int32',
  [DT.INT64]: 'int64',
  [DT.FLOAT16]: 'float16',
  [DT.DOUBLE]: 'float64',
  [DT.BFLOAT16]: 'bfloat16',
  // onnx-proto 8 predates the 4-bit types: UINT4 = 21, INT4 = 22 in onnx.proto (IR 10).
  21: 'uint4',
  22: 'int4',
};

/** What a node can see: value types and constant tensors of its graph and the graphs around it. */
interface Scope {
  readonly types: ReadonlyMap<string, number>;
  readonly consts: ReadonlyMap<string, onnx.ITensorProto>;
}

function scopes(g: onnx.IGraphProto, outer: Scope, into: Map<onnx.INodeProto, Scope>): void {
  // Outer values typed as value_info: the lowest-precedence declarations, so a body's own inputs win.
  const outerInfo = [...outer.types].map(([name, elemType]) => ({ name, type: { tensorType: { elemType } } }));
  const types = new Map([...outer.types, ...elemTypes({ ...g, valueInfo: [...outerInfo, ...(g.valueInfo ?? [])] })]);
  const consts = new Map(outer.consts);
  for (const t of g.initializer ?? []) if (t.name) consts.set(t.name, t);
  for (const n of g.node ?? []) {
    const c = constantTensor(n);
    if (c && n.output?.[0]) consts.set(n.output[0], c);
  }
  const scope = { types, consts };
  for (const n of g.node ?? []) {
    into.set(n, scope);
    for (const sg of subgraphsOf(n)) scopes(sg, scope, into);
  }
}

function attrHolds(node: onnx.INodeProto, name: string, c: AttrCondition): boolean {
  const v = findAttr(node, name) ? attrInt(node, name, 0) : c.dflt;
  if (v === undefined) return false;
  if (c.in && !c.in.includes(v)) return false;
  if (c.notIn && c.notIn.includes(v)) return false;
  return true;
}

function granularity(node: onnx.INodeProto, scope: Scope): OpMatch['granularity'] | undefined {
  if (attrInt(node, 'block_size', 0) > 0) return 'blocked';
  const scale = scope.consts.get(node.input?.[1] ?? '');
  if (!scale) return undefined;
  return tensorNumel(tensorDims(scale)) === 1 ? 'per-tensor' : 'per-axis';
}

/** Int8 weights outside [-64, 64] can saturate VPMADDUBSW's int16 pair sums (255 * 127 * 2 > 32767, while 255 * 64 * 2 = 32640 fits); unknown weights might. */
function wideInt8(node: onnx.INodeProto, index: number, scope: Scope): boolean {
  const w = scope.consts.get(node.input?.[index] ?? '');
  if (!w || w.dataType !== DT.INT8 || isExternalTensor(w)) return true;
  const data = readTensor(w).data as Int8Array;
  for (let i = 0; i < data.length; i++) if (data[i]! < -64 || data[i]! > 64) return true;
  return false;
}

function matches(rule: OpRule, node: onnx.INodeProto, scope: Scope): boolean {
  if (!rule.ops.includes(node.opType ?? '') || normalDomain(node.domain) !== rule.domain) return false;
  const m = rule.match;
  if (!m) return true;
  for (const [i, allowed] of Object.entries(m.inputs ?? {})) {
    const name = node.input?.[Number(i)];
    const code = name ? scope.types.get(name) : undefined;
    const elem = code === undefined ? undefined : ELEM_NAMES[code];
    if (!elem || !allowed.includes(elem)) return false;
  }
  for (const [name, c] of Object.entries(m.attrs ?? {})) if (!attrHolds(node, name, c)) return false;
  if (m.granularity && granularity(node, scope) !== m.granularity) return false;
  if (m.wideInt8 !== undefined && !wideInt8(node, m.wideInt8, scope)) return false;
  return true;
}

function applies(rule: OpRule, t: TargetInfo): boolean {
  if (!rule.runtimes.includes(t.runtime)) return false;
  if (rule.when?.int8Saturates && t.int8Saturates === false) return false;
  if (rule.when?.fp16Compute && rule.when.fp16Compute !== t.fp16Compute) return false;
  return true;
}

function kindOf(rule: OpRule): FindingKind | undefined {
  if (rule.supported !== 'runs') return rule.supported;
  if (rule.risk) return rule.risk;
  return rule.speed === 'slow' ? 'slow' : undefined;
}

const HEADLINE: Readonly<Record<FindingKind, (t: TargetInfo) => string>> = {
  rejected: (t) => `${t.runtime} rejects it at session creation`,
  'cpu-fallback': () => 'runs on the CPU (wasm) EP, not the GPU',
  unconfirmed: (t) => `not confirmed to run on ${t.runtime} 1.30`,
  'may-saturate': (t) =>
    t.int8Saturates === true ? 'int8 products can saturate on this CPU' : 'int8 products can saturate on CPUs without VNNI',
  'may-overflow': () => 'float16 can overflow on WebGPU',
  slow: () => 'slower than its float form',
};

export interface RuleMatch {
  readonly node: onnx.INodeProto;
  readonly rule: OpRule;
}

/**
 * Every (node, row) pair of the table that holds for `target`, including rows that only say a form runs
 * fine: what a pass consults to pick a node's format, and what checkTarget turns into findings.
 */
export function matchRules(model: onnx.IModelProto, target: TargetName, opts: CheckTargetOptions = {}): RuleMatch[] {
  const t = resolveTarget(target, opts.cpu);
  const rules = (opts.rules ?? OP_RULES).filter((r) => applies(r, t));
  const byNode = new Map<onnx.INodeProto, Scope>();
  if (model.graph) scopes(model.graph, { types: new Map(), consts: new Map() }, byNode);
  const out: RuleMatch[] = [];
  for (const node of nodesDeep(model.graph)) {
    const scope = byNode.get(node)!;
    for (const rule of rules) if (matches(rule, node, scope)) out.push({ node, rule });
  }
  return out;
}

/** Findings for every node of `model` that `target` rejects, runs slowly, falls back on, or may get wrong. */
export function checkTarget(model: onnx.IModelProto, target: TargetName, opts: CheckTargetOptions = {}): TargetFinding[] {
  const t = resolveTarget(target, opts.cpu);
  const perNode = new Map<onnx.INodeProto, TargetFinding[]>();
  for (const { node, rule } of matchRules(model, target, opts)) {
    const kind = kindOf(rule);
    if (!kind) continue;
    const list = perNode.get(node) ?? [];
    perNode.set(node, list);
    list.push({
      severity: kind === 'rejected' ? 'error' : 'warn',
      kind,
      node: nodeLabel(node),
      opType: node.opType ?? '',
      rule: rule.id,
      message: `${HEADLINE[kind](t)}: ${rule.note}`,
      source: rule.source,
    });
  }
  // A node the target rejects needs no advice on its speed.
  return [...perNode.values()].flatMap((found) =>
    found.some((f) => f.severity === 'error') ? found.filter((f) => f.severity === 'error') : found,
  );
}
