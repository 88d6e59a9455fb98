import { ShrinkError } from '../errors.js';
import { constantTensor } from '../onnx/constant-tensor.js';
import { isDefaultDomain, normalDomain } from '../onnx/domain.js';
import { attrInt, cloneModel, nodeUses, opsetVersionOf, subgraphsOf, typeDtype, typeShape } from '../onnx/graph.js';
import { onnx } from '../onnx/proto.js';
import { inferShapes } from '../onnx/shapes.js';
import { dtypeFromOnnx, readTensor, tensorDims, type DType, type TensorValue } from '../onnx/tensor.js';
import { findAdapter } from './adapters.js';
import { downgradeBlock } from './downgrade-guards.js';
import { COMPATIBLE_DOWN, COMPATIBLE_UP, SCHEMA_VERSIONS } from './schema-versions.js';
import type { AdapterScope, ConvertOpsetResult, OpsetChange, OpsetDirection } from './types.js';

/** The highest default-domain opset the schema tables cover (and the converter can reach). */
export const MAX_CONVERTIBLE_OPSET = 21;

/** The IR version each opset first shipped with (onnx.helper VERSION_TABLE): a model at opset N needs at least this IR. */
const IR_FOR_OPSET: readonly number[] = [3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 7, 7, 8, 8, 8, 8, 9, 9, 10];

export function irVersionForOpset(opset: number): number {
  return IR_FOR_OPSET[Math.min(opset, IR_FOR_OPSET.length - 1)] ?? 3;
}

const BOOL_OPS = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

/** What the adapters may look up in one graph, with the enclosing graphs behind it. */
class GraphScope {
  readonly consts = new Map<string, onnx.ITensorProto>();
  readonly dtypes = new Map<string, DType>();
  readonly ranks = new Map<string, number>();
  readonly uses = new Set<string>();

  constructor(
    readonly graph: onnx.IGraphProto,
    readonly parent: GraphScope | undefined,
    inferred: ReadonlyMap<string, readonly number[]> | undefined,
  ) {
    for (const t of graph.initializer ?? []) {
      if (!t.name) continue;
      this.consts.set(t.name, t);
      this.dtypes.set(t.name, dtypeFromOnnx(t.dataType ?? 1));
      this.ranks.set(t.name, tensorDims(t).length);
    }
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
      if (!v.name) continue;
      const d = typeDtype(v.type);
      if (d) this.dtypes.set(v.name, d);
      const s = typeShape(v.type);
      if (s) this.ranks.set(v.name, s.length);
    }
    if (inferred) for (const [k, s] of inferred) if (!this.ranks.has(k)) this.ranks.set(k, s.length);
    for (const o of graph.output ?? []) if (o.name) this.uses.add(o.name);
    for (const n of graph.node ?? []) {
      for (const u of nodeUses(n)) this.uses.add(u);
      const c = constantTensor(n);
      const out = (n.output ?? [])[0];
      if (c && out) {
        this.consts.set(out, c);
        this.ranks.set(out, tensorDims(c).length);
      }
      // Element types run forward: most ops keep their first input's type, which is all Clip and Pad need.
      if (!out || this.dtype(out)) continue;
      const op = isDefaultDomain(n) ? n.opType : undefined;
      let d: DType | undefined;
      if (c) d = dtypeFromOnnx(c.dataType ?? 1);
      else if (op === 'Cast') d = safeDtype(attrInt(n, 'to', 0));
      else if (op && BOOL_OPS.has(op)) d = 'bool';
      else if (op && INT64_OPS.has(op)) d = 'int64';
      else d = (n.input ?? []).map((i) => (i ? this.dtype(i) : undefined)).find((x) => x !== undefined);
      if (d) this.dtypes.set(out, d);
    }
  }

  constant(name: string): onnx.ITensorProto | undefined {
    return this.consts.get(name) ?? this.parent?.constant(name);
  }
  dtype(name: string): DType | undefined {
    return this.dtypes.get(name) ?? this.parent?.dtype(name);
  }
  rank(name: string): number | undefined {
    return this.ranks.get(name) ?? this.parent?.rank(name);
  }
}

function safeDtype(code: number): DType | undefined {
  try {
    return dtypeFromOnnx(code);
  } catch {
    return undefined;
  }
}

function allNames(g: onnx.IGraphProto, into: Set<string>): void {
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) if (v.name) into.add(v.name);
  for (const t of g.initializer ?? []) if (t.name) into.add(t.name);
  for (const n of g.node ?? []) {
    for (const x of [...(n.input ?? []), ...(n.output ?? [])]) if (x) into.add(x);
    for (const sg of subgraphsOf(n)) allNames(sg, into);
  }
}

function label(node: onnx.INodeProto): string {
  return node.name ? node.name : `${node.opType ?? '?'} → ${(node.output ?? [])[0] ?? ''}`;
}

/** Why a node without an adapter cannot cross this version, or undefined when it can as it is. */
function schemaBlock(node: onnx.INodeProto, direction: OpsetDirection, version: number, scope: GraphScope): string | undefined {
  const op = node.opType ?? '';
  const versions = SCHEMA_VERSIONS[op];
  if (!versions) return `not an operator of the default ONNX domain up to opset ${MAX_CONVERTIBLE_OPSET}`;
  if (!versions.includes(version)) return undefined;
  if (direction === 'down' && version === versions[0]) return `arrived at opset ${version}`;
  if (direction === 'up' && version === versions[0]) return undefined; // only nodes our adapters just made can be here
  const compatible = direction === 'up' ? COMPATIBLE_UP[op] : COMPATIBLE_DOWN[op];
  if (compatible?.includes(version)) return undefined;
  // Down through a change onnx calls compatible upwards: fine when the node uses nothing it added.
  if (direction === 'down' && COMPATIBLE_UP[op]?.includes(version))
    return downgradeBlock(node, version, scope.dtype((node.input ?? [])[0] ?? ''));
  return `its schema changed at opset ${version} and Shrink has no rule for that change`;
}

/**
 * Converts the default-domain opset of a model, version by version, like onnx's version converter: at
 * each step every node whose op changed schema there is rewritten by its adapter (tables in this
 * folder), kept when the change is compatible, or the conversion refuses in one line naming the node.
 * Also sets `opset_import` and raises the IR version the new opset needs. Pure: `model` is not mutated.
 */
export function convertOpset(model: onnx.IModelProto, targetOpset: number): ConvertOpsetResult {
  if (!Number.isInteger(targetOpset) || targetOpset < 1 || targetOpset > MAX_CONVERTIBLE_OPSET) {
    throw new ShrinkError('INVALID_ARGUMENT', `target opset ${targetOpset} is outside 1..${MAX_CONVERTIBLE_OPSET}`, { option: 'opset' });
  }
  const out = cloneModel(model);
  const graph = out.graph;
  if (!graph) throw new ShrinkError('INVALID_MODEL', 'model has no graph; expected ModelProto.graph to be set');
  const entry = out.opsetImport.find((o) => normalDomain(o.domain) === '');
  const from = opsetVersionOf(out, '');
  if (from === undefined) {
    throw new ShrinkError(
      'INVALID_MODEL',
      'the model imports no default-domain opset (opset_import has no "" or "ai.onnx" entry), so there is nothing to convert from',
    );
  }
  const irFrom = Number(out.irVersion);
  const taken = new Set<string>();
  allNames(graph, taken);
  const fresh = (base: string): string => {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    let name = clean;
    for (let i = 1; taken.has(name); i++) name = `${clean}_${i}`;
    taken.add(name);
    return name;
  };
  let inferred: Map<string, number[]> | undefined;
  try {
    const feeds: Record<string, number[]> = {};
    for (const v of graph.input ?? []) {
      const s = typeShape(v.type);
      if (v.name && s) feeds[v.name] = s.map((d) => (typeof d === 'number' ? d : 1));
    }
    inferred = inferShapes(out, feeds);
  } catch {
    inferred = undefined; // ranks are a help for a few adapters, never required to load
  }

  const changes: OpsetChange[] = [];
  const notes = new Set<string>();
  const addedTop: onnx.ITensorProto[] = [];
  const direction: OpsetDirection = targetOpset >= from ? 'up' : 'down';

  const convertGraph = (g: onnx.IGraphProto, parent: GraphScope | undefined, version: number, to: number): void => {
    const scope = new GraphScope(g, parent, parent ? undefined : inferred);
    const adapterScope: AdapterScope = {
      to,
      target: targetOpset,
      constant: (name): TensorValue | undefined => {
        const t = scope.constant(name);
        return t ? readTensor(t) : undefined;
      },
      rank: (name) => scope.rank(name),
      dtype: (name) => scope.dtype(name),
      fresh,
      used: (name) => scope.uses.has(name),
    };
    const nodes: onnx.INodeProto[] = [];
    for (const node of g.node ?? []) {
      for (const sg of subgraphsOf(node)) convertGraph(sg, scope, version, to);
      const op = node.opType ?? '';
      if (!isDefaultDomain(node)) {
        nodes.push(node);
        continue;
      }
      const adapter = findAdapter(direction, op, version);
      const plan = adapter ? adapter.plan(node, adapterScope) : undefined;
      const why = plan ? (plan.kind === 'refuse' ? plan.why : undefined) : schemaBlock(node, direction, version, scope);
      if (why !== undefined) {
        const step = direction === 'up' ? `${version - 1} → ${version}` : `${version} → ${version - 1}`;
        throw new ShrinkError(
          'UNSUPPORTED_OP',
          `cannot convert opset ${from} → ${targetOpset}: node '${label(node)}' (${op}) at step ${step}: ${why}`,
          { subject: undefined },
        );
      }
      if (!plan || plan.kind !== 'rewrite') {
        nodes.push(node);
        continue;
      }
      nodes.push(...plan.nodes);
      if (plan.initializers?.length) {
        g.initializer = [...(g.initializer ?? []), ...plan.initializers];
        if (!parent) addedTop.push(...plan.initializers);
      }
      if (plan.note) notes.add(plan.note);
      changes.push({ node: label(node), op, version, what: plan.what });
    }
    g.node = nodes;
  };

  if (direction === 'up') for (let v = from + 1; v <= targetOpset; v++) convertGraph(graph, undefined, v, v);
  else for (let v = from; v > targetOpset; v--) convertGraph(graph, undefined, v, v - 1);

  entry!.version = targetOpset;
  const irTo = Math.max(irFrom, irVersionForOpset(targetOpset));
  out.irVersion = irTo;
  if (irTo !== irFrom) notes.add(`IR version ${irFrom} → ${irTo} (opset ${targetOpset} needs IR ≥ ${irVersionForOpset(targetOpset)})`);
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  if (irTo >= 4 && irFrom < 4) {
    // IR < 4 listed every initializer as a graph input too; from 4 that makes it an input callers may
    // override (and onnxruntime will not constant-fold), so they become plain initializers.
    const before = (graph.input ?? []).length;
    graph.input = (graph.input ?? []).filter((v) => !inits.has(v.name ?? ''));
    const moved = before - graph.input.length;
    if (moved > 0) notes.add(`${moved} initializers listed as graph inputs (IR < 4 style) became plain initializers`);
  } else if (irTo < 4) {
    // IR 3 requires every initializer to be a graph input as well.
    for (const t of addedTop) {
      graph.input = [
        ...(graph.input ?? []),
        onnx.ValueInfoProto.create({
          name: t.name,
          type: { tensorType: { elemType: t.dataType, shape: { dim: tensorDims(t).map((d) => ({ dimValue: d })) } } },
        }),
      ];
    }
  }
  // Per node, under the op it had before (an Upsample that became a Resize counts once, as an Upsample).
  const firstOp = new Map<string, string>();
  for (const c of changes) if (!firstOp.has(c.node)) firstOp.set(c.node, c.op);
  const counts: Record<string, number> = {};
  for (const op of firstOp.values()) counts[op] = (counts[op] ?? 0) + 1;
  return {
    model: out,
    fromOpset: from,
    toOpset: targetOpset,
    irVersion: { from: irFrom, to: irTo },
    changes,
    counts,
    nodesChanged: firstOp.size,
    notes: [...notes],
  };
}
