/**
 * Weights inside control flow. If branches and Loop/Scan bodies are graphs held in node attributes; a
 * graph pass sees only its own graph's nodes. `withSubgraphs` runs a pass on the main graph, then on
 * every body as a model of its own (same opsets), innermost last, and puts the rewritten bodies back.
 * An outer initializer read only inside one body moves into that body first, so the body's pass sees
 * it as its own constant weight (and can drop the float copy once it is quantized).
 */
import { nodeUses, onnx, subgraphsOf } from '@shrink/core';
import type { NodeOutcome, PassResult } from './types.js';

/** A graph pass: one graph's nodes, subgraphs carried untouched. */
export type GraphPass = (model: onnx.IModelProto) => PassResult;

/** What the bodies added to a report: their node rows, unhandled ops and notes. */
interface Merged {
  nodes: NodeOutcome[];
  unhandled: Record<string, number>;
  notes: string[];
}

/** `pass` on the main graph and on every If/Loop/Scan body in it (nested ones too); one merged report. */
export function withSubgraphs(model: onnx.IModelProto, pass: GraphPass): PassResult {
  const top = pass(model);
  const out = top.model;
  const merged: Merged = { nodes: top.report.nodes, unhandled: { ...top.report.unhandled }, notes: [...top.report.notes] };
  // Every name in the model, rewritten bodies added as they come: ONNX wants names unique across scopes.
  const taken = new Set(allNames(out.graph!));
  rewriteBodies(out, out.graph!, pass, merged, '', taken);
  return { model: out, report: { ...top.report, nodes: merged.nodes, unhandled: merged.unhandled, notes: [...new Set(merged.notes)] } };
}

/** Whether any node of the model holds a subgraph. */
export function hasSubgraphs(model: onnx.IModelProto): boolean {
  return (model.graph?.node ?? []).some((n) => subgraphsOf(n).length > 0);
}

function rewriteBodies(
  model: onnx.ModelProto,
  g: onnx.IGraphProto,
  pass: GraphPass,
  merged: Merged,
  path: string,
  taken: Set<string>,
): void {
  const readers = outerReaders(g);
  for (const node of g.node ?? []) {
    for (const a of node.attribute ?? []) {
      const bodies = a.g ? [a.g] : (a.graphs ?? []);
      for (let i = 0; i < bodies.length; i++) {
        const body = bodies[i]!;
        moveOnlyUsedInside(g, node, body, readers);
        const where = `${path}${node.name || node.opType || 'node'}/${a.name ?? ''}${a.g ? '' : `[${i}]`}`;
        const rewritten = rewriteBody(model, body, pass, merged, `${where}/`, taken);
        if (a.g) a.g = rewritten;
        else a.graphs![i] = rewritten;
      }
    }
  }
}

/** One body through the pass, then its own bodies; names the outer scopes use are reserved while it runs. */
function rewriteBody(
  model: onnx.ModelProto,
  body: onnx.IGraphProto,
  pass: GraphPass,
  merged: Merged,
  where: string,
  taken: Set<string>,
): onnx.GraphProto {
  const own = definedIn(body);
  for (const v of body.valueInfo ?? []) if (v.name) own.add(v.name);
  const reserved = [...taken].filter((n) => !own.has(n));
  // The pass's Graph reserves value_info names: a new inner name must not shadow an outer value. Only the
  // graph comes back, so the IR version does not matter.
  const sub = onnx.ModelProto.create({
    opsetImport: model.opsetImport,
    graph: { ...body, valueInfo: [...(body.valueInfo ?? []), ...reserved.map((name) => ({ name }))] },
  });
  const r = pass(sub);
  const g = onnx.GraphProto.create(r.model.graph!);
  const mine = new Set(reserved);
  g.valueInfo = g.valueInfo.filter((v) => !mine.has(v.name ?? ''));
  // Opsets a body needs (com.microsoft for MatMulNBits) are the model's.
  for (const o of r.model.opsetImport) {
    if (!model.opsetImport.some((m) => (m.domain ?? '') === (o.domain ?? ''))) model.opsetImport.push(o);
  }
  merged.nodes.push(...r.report.nodes.map((n) => ({ ...n, name: `${where}${n.name}` })));
  for (const [k, v] of Object.entries(r.report.unhandled)) merged.unhandled[k] = (merged.unhandled[k] ?? 0) + v;
  merged.notes.push(...r.report.notes);
  for (const n of allNames(g)) taken.add(n);
  rewriteBodies(model, g, pass, merged, where, taken);
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
 * Moves into `body` the initializers of `g` that only `body` reads: no other node of `g`, not `node`'s
 * own inputs, no other body of the attribute, not a graph input or output.
 */
function moveOnlyUsedInside(
  g: onnx.IGraphProto,
  node: onnx.INodeProto,
  body: onnx.IGraphProto,
  readers: Map<string, Set<onnx.INodeProto>>,
): void {
  const uses = bodyUses(body);
  const otherBodies = subgraphsOf(node).filter((s) => s !== body);
  const elsewhere = new Set(otherBodies.flatMap((s) => [...bodyUses(s)]));
  const io = new Set([...(g.input ?? []), ...(g.output ?? [])].map((v) => v.name));
  const moving = (g.initializer ?? []).filter((t) => {
    const name = t.name ?? '';
    if (!uses.has(name) || elsewhere.has(name) || io.has(name) || (node.input ?? []).includes(name)) return false;
    const r = readers.get(name);
    return r?.size === 1 && r.has(node);
  });
  if (moving.length === 0) return;
  const names = new Set(moving.map((t) => t.name));
  g.initializer = (g.initializer ?? []).filter((t) => !names.has(t.name));
  body.initializer = [...(body.initializer ?? []), ...moving];
}
