/**
 * Weights inside control flow. If branches and Loop/Scan bodies are graphs held in node attributes; a
 * graph pass sees only its own graph's nodes. `withSubgraphs` runs a pass on the main graph, then on
 * every body as a model of its own (same opsets), innermost last, and puts the rewritten bodies back.
 *
 * Outer initializers that only bodies of one node read are handed to those bodies first, so each body's
 * pass sees them as its own constant weights: read by one body, the initializer moves into it; read by
 * several sibling bodies (an If's two branches), each gets a copy, and once all of them are rewritten the
 * tensors they hold alike (the copies, or the codes each made of its copy) go back to the outer graph
 * under one name. A weight shared by two branches is so quantized or pruned once, and stays shared.
 */
import { onnx } from './proto.js';
import { nodeUses, subgraphsOf } from './graph.js';
import { bodyWhere, inBody } from './select-scope.js';

/** Where a body sits and what it can read from outside, for the caller merging its report. */
export interface BodyScope {
  /** Path of the body, ending in '/': 'If_0/then_branch/', nested ones appended. */
  readonly where: string;
  /**
   * Initializers of enclosing graphs a body still reads as they are: an outer graph's own nodes read
   * them too, so the body's pass sees a value that is not its own (and passes say "computed at run time").
   */
  readonly outerWeights: ReadonlySet<string>;
}

/** `pass` on the main graph and on every If/Loop/Scan body in it (nested ones too); `onBody` gets each body's result. */
export function withSubgraphs<R extends { model: onnx.IModelProto }>(
  model: onnx.IModelProto,
  pass: (model: onnx.IModelProto) => R,
  onBody: (body: R, scope: BodyScope) => void,
): R {
  const top = pass(model);
  const out = top.model;
  // Every name in the model, rewritten bodies added as they come: ONNX wants names unique across scopes.
  const taken = new Set(allNames(out.graph!));
  rewriteBodies({ model: out, pass, onBody, taken }, out.graph!, '', new Set());
  return top;
}

/** Whether any node of the model holds a subgraph. */
export function hasSubgraphs(model: onnx.IModelProto): boolean {
  return (model.graph?.node ?? []).some((n) => subgraphsOf(n).length > 0);
}

interface Walk<R> {
  model: onnx.IModelProto;
  pass: (model: onnx.IModelProto) => R;
  onBody: (body: R, scope: BodyScope) => void;
  taken: Set<string>;
}

function rewriteBodies<R extends { model: onnx.IModelProto }>(
  w: Walk<R>,
  g: onnx.IGraphProto,
  path: string,
  outer: ReadonlySet<string>,
): void {
  const readers = outerReaders(g);
  for (const node of g.node ?? []) {
    if (subgraphsOf(node).length === 0) continue;
    handInto(g, node, readers);
    const visible = new Set([...outer, ...(g.initializer ?? []).map((t) => t.name ?? '')]);
    const rewritten: onnx.IGraphProto[] = [];
    for (const a of node.attribute ?? []) {
      const bodies = a.g ? [a.g] : (a.graphs ?? []);
      for (let i = 0; i < bodies.length; i++) {
        const where = bodyWhere(path, node, a, a.g ? undefined : i);
        const body = rewriteBody(w, bodies[i]!, where, visible);
        if (a.g) a.g = body;
        else a.graphs![i] = body;
        rewritten.push(body);
      }
    }
    hoistAlike(g, rewritten);
  }
}

/** One body through the pass, then its own bodies; names the outer scopes use are reserved while it runs. */
function rewriteBody<R extends { model: onnx.IModelProto }>(
  w: Walk<R>,
  body: onnx.IGraphProto,
  where: string,
  outer: ReadonlySet<string>,
): onnx.GraphProto {
  const own = definedIn(body);
  for (const v of body.valueInfo ?? []) if (v.name) own.add(v.name);
  const reserved = [...w.taken].filter((n) => !own.has(n));
  // The pass's Graph reserves value_info names: a new inner name must not shadow an outer value. Only the
  // graph comes back, so the IR version does not matter.
  const sub = onnx.ModelProto.create({
    opsetImport: w.model.opsetImport,
    graph: { ...body, valueInfo: [...(body.valueInfo ?? []), ...reserved.map((name) => ({ name }))] },
  });
  // --include/--exclude name body nodes by label or by path; the main graph's pass checked the entries.
  const r = inBody(where, () => w.pass(sub));
  const g = onnx.GraphProto.create(r.model.graph!);
  const mine = new Set(reserved);
  g.valueInfo = g.valueInfo.filter((v) => !mine.has(v.name ?? ''));
  // Opsets a body needs (com.microsoft for MatMulNBits) are the model's.
  const opsets = (w.model.opsetImport ??= []);
  for (const o of r.model.opsetImport ?? []) {
    if (!opsets.some((m) => (m.domain ?? '') === (o.domain ?? ''))) opsets.push(o);
  }
  const reads = new Set(nodeUses({ attribute: [{ g }] }));
  w.onBody(r, { where, outerWeights: new Set([...outer].filter((n) => reads.has(n))) });
  for (const n of allNames(g)) w.taken.add(n);
  rewriteBodies(w, g, where, outer);
  return g;
}

/** Every value name of a graph and its subgraphs. */
function allNames(g: onnx.IGraphProto): string[] {
  const names = new Set<string>();
  const walk = (h: onnx.IGraphProto): void => {
    for (const v of [...(h.input ?? []), ...(h.output ?? [])]) if (v.name) names.add(v.name);
    for (const t of h.initializer ?? []) if (t.name) names.add(t.name);
    for (const n of h.node ?? []) {
      for (const o of n.output ?? []) if (o) names.add(o);
      for (const s of subgraphsOf(n)) walk(s);
    }
  };
  walk(g);
  return [...names];
}

function definedIn(g: onnx.IGraphProto): Set<string> {
  const d = new Set<string>();
  for (const v of g.input ?? []) if (v.name) d.add(v.name);
  for (const t of g.initializer ?? []) if (t.name) d.add(t.name);
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o) d.add(o);
  return d;
}

/** Value name -> the nodes of `g` that read it (directly or from their subgraphs). */
function outerReaders(g: onnx.IGraphProto): Map<string, Set<onnx.INodeProto>> {
  const m = new Map<string, Set<onnx.INodeProto>>();
  for (const n of g.node ?? []) {
    for (const u of nodeUses(n)) {
      const s = m.get(u);
      if (s) s.add(n);
      else m.set(u, new Set([n]));
    }
  }
  return m;
}

/** Reads of a body from outside it. */
const bodyUses = (body: onnx.IGraphProto): Set<string> => new Set(nodeUses({ attribute: [{ g: body }] }));

/**
 * Hands the initializers of `g` that only `node`'s bodies read (no other node of `g`, not `node`'s own
 * inputs, not a graph input or output) to those bodies: moved into the one body that reads it, or copied
 * into each of several (hoistAlike brings what stays alike back).
 */
function handInto(g: onnx.IGraphProto, node: onnx.INodeProto, readers: Map<string, Set<onnx.INodeProto>>): void {
  const bodies = subgraphsOf(node).map((b) => ({ body: b, uses: bodyUses(b) }));
  const io = new Set([...(g.input ?? []), ...(g.output ?? [])].map((v) => v.name));
  const kept: onnx.ITensorProto[] = [];
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    const r = readers.get(name);
    const inside = bodies.filter((b) => b.uses.has(name));
    if (inside.length === 0 || io.has(name) || (node.input ?? []).includes(name) || r?.size !== 1 || !r.has(node)) {
      kept.push(t);
      continue;
    }
    inside.forEach((b, i) => {
      // The first body takes the tensor itself; the others a copy (a pass may replace, never write into, its data).
      b.body.initializer = [...(b.body.initializer ?? []), i === 0 ? t : onnx.TensorProto.create({ ...t })];
    });
  }
  g.initializer = kept;
}

/** The bytes that say what a tensor holds, its name left out. */
const contentOf = (t: onnx.ITensorProto): Uint8Array => onnx.TensorProto.encode({ ...t, name: '' }).finish();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Held {
  /** The graph holding the tensor: `g` itself, or one of the bodies. */
  holder: onnx.IGraphProto;
  tensor: onnx.ITensorProto;
  bytes?: Uint8Array;
}

/**
 * Tensors that two or more of the sibling `bodies` hold alike, or that a body holds like `g` does, are
 * kept once in `g` (under `g`'s name, else the first body's), and the bodies read that name. Copies of
 * one weight quantized in each body, or in the body and the outer graph, so end up stored once. A body's
 * own inputs and outputs are left where they are, and so are one-value tensors.
 */
function hoistAlike(g: onnx.IGraphProto, bodies: readonly onnx.IGraphProto[]): void {
  const groups = new Map<string, Held[]>();
  const add = (holder: onnx.IGraphProto, t: onnx.ITensorProto): void => {
    // One-value tensors (a per-tensor scale, a zero point of 0) are alike by chance as often as by origin.
    if ((t.dims ?? []).reduce((n, d) => n * Number(d), 1) < 2) return;
    const key = `${t.dataType}|${(t.dims ?? []).join(',')}`;
    const list = groups.get(key) ?? [];
    list.push({ holder, tensor: t });
    groups.set(key, list);
  };
  for (const body of bodies) {
    const io = new Set([...(body.input ?? []), ...(body.output ?? [])].map((v) => v.name));
    for (const t of body.initializer ?? []) if (!io.has(t.name)) add(body, t);
  }
  const outerIo = new Set([...(g.input ?? []), ...(g.output ?? [])].map((v) => v.name));
  // Only shapes some body holds are worth comparing against the outer graph's tensors.
  for (const t of g.initializer ?? []) if (groups.has(`${t.dataType}|${(t.dims ?? []).join(',')}`) && !outerIo.has(t.name)) add(g, t);
  for (const list of groups.values()) {
    // Bytes are read only where two holders have a tensor of one type and shape.
    if (new Set(list.map((e) => e.holder)).size < 2) continue;
    for (const e of list) e.bytes = contentOf(e.tensor);
    // The outer graph's tensor first, so its name is the one kept.
    list.sort((a, b) => Number(b.holder === g) - Number(a.holder === g));
    while (list.length > 1) {
      const first = list[0]!;
      const alike = list.filter((e) => sameBytes(e.bytes!, first.bytes!));
      const rest = list.filter((e) => !alike.includes(e));
      list.length = 0;
      list.push(...rest);
      if (new Set(alike.map((e) => e.holder)).size < 2) continue;
      const name = first.tensor.name ?? '';
      if (first.holder !== g) g.initializer = [...(g.initializer ?? []), first.tensor];
      for (const e of alike) {
        if (e.holder === g) continue;
        e.holder.initializer = (e.holder.initializer ?? []).filter((t) => t !== e.tensor);
        if (e.tensor.name !== name) renameReads(e.holder, e.tensor.name ?? '', name);
      }
    }
  }
}

/** Reads of `from` in `g` and its subgraphs become reads of `to` (names are unique across scopes). */
function renameReads(g: onnx.IGraphProto, from: string, to: string): void {
  for (const n of g.node ?? []) {
    n.input = (n.input ?? []).map((i) => (i === from ? to : i));
    for (const s of subgraphsOf(n)) renameReads(s, from, to);
  }
}
