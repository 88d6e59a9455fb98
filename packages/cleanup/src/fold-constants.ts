/**
 * Constant folding over the main graph, in graph order (so a folded value feeds the next fold): a node
 * of the fold table whose inputs are constants is computed by its handler and replaced by its values,
 * stored as initializers under its output names (a Constant node where the output is a graph output).
 * Nodes whose inputs are all constants but that are not folded are counted, with the reason. Along the
 * way, the dims of values computed at run time are followed where fixed (ops/propagate-shapes.ts), so
 * a Shape of such a value folds too.
 */
import { isDefaultDomain, makeNode, makeTensor, nodeLabel, normalDomain, tensorNumel, type Graph, type onnx } from '@shrink/core';
import { constantOf, isConstant, staticShapeOf } from './constant-of.js';
import { FOLD_OPS } from './ops/fold-table.js';
import { propagatedDims } from './ops/propagate-shapes.js';
import type { FoldedValue, FoldView } from './ops/fold-types.js';
import type { NodeOutcome } from './types.js';

/** A fold may store this many elements more than its node's constant inputs hold (Expand, broadcasting), not more. */
export const MAX_FOLD_GROWTH = 1024;

export interface FoldResult {
  folded: number;
  byOp: Record<string, number>;
  notFolded: Record<string, number>;
}

const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

/** Why the values cannot stand for the node's outputs (a count, type or declared-shape mismatch, or growth), if so. */
function refuseValues(graph: Graph, node: onnx.NodeProto, values: readonly FoldedValue[], view: FoldView): string | undefined {
  if (values.length !== node.output.length) return `the handler gave ${values.length} values for ${node.output.length} outputs`;
  for (let i = 0; i < values.length; i++) {
    const name = node.output[i]!;
    const v = values[i]!;
    if (!name) continue;
    const dtype = graph.dtypeOf(name);
    if (dtype !== undefined && dtype !== v.dtype) return `computed ${v.dtype} but '${name}' is declared ${dtype}`;
    const declared = graph.shapeOf(name);
    if (declared && (declared.length !== v.dims.length || declared.some((d, k) => typeof d === 'number' && d !== v.dims[k]))) {
      return `computed dims [${v.dims.join(', ')}] but '${name}' is declared [${declared.map((d) => d ?? '?').join(', ')}]`;
    }
  }
  const out = values.reduce((n, v) => n + tensorNumel(v.dims), 0);
  const inputs = node.input.reduce((n, _, i) => n + (view.value(i)?.data.length ?? 0), 0);
  if (out > inputs + MAX_FOLD_GROWTH) return `would store ${out} values computed from ${inputs}: folding would grow the model`;
  return undefined;
}

/** Replaces `node` by its values: initializers, or Constant nodes for graph outputs. */
function place(graph: Graph, node: onnx.NodeProto, values: readonly FoldedValue[]): void {
  const label = nodeLabel(node);
  const constants: onnx.NodeProto[] = [];
  const inits: Array<[string, FoldedValue]> = [];
  node.output.forEach((name, i) => {
    if (!name) return;
    const v = values[i]!;
    if (graph.isGraphOutput(name)) {
      constants.push(
        makeNode(
          'Constant',
          [],
          [name],
          { value: makeTensor(name, v.dtype, v.dims, v.data) },
          { name: graph.uniqueNodeName(`${label}_folded`) },
        ),
      );
    } else inits.push([name, v]);
  });
  if (constants.length > 0) graph.replaceNode(node, constants);
  else graph.removeNode(node);
  for (const [name, v] of inits) graph.setInitializer(name, v.dtype, v.dims, v.data);
}

/** Folds what it can; nodes in `reported` (kept by an earlier step, with their reason) are not reported again. */
export function foldConstants(graph: Graph, outcomes: NodeOutcome[], reported: ReadonlySet<onnx.NodeProto> = new Set()): FoldResult {
  const result: FoldResult = { folded: 0, byOp: {}, notFolded: {} };
  const opset = graph.opsetVersion('') ?? 1;
  // Graph order must be a topological order for a folded value to feed the next fold, and ONNX requires
  // one; some converters append nodes at the end (imgly's fp16 model: every Cast after its readers).
  // Core's sort keeps an already sorted graph as it is.
  graph.topoSort();
  // Fixed dims of values nodes compute at run time (ops/propagate-shapes.ts), for Shape and the shape rules.
  const inferred = new Map<string, number[]>();
  const viewOf = (node: onnx.NodeProto): FoldView => ({
    opset,
    value: (i) => constantOf(graph, node.input[i]),
    staticShape: (i) => staticShapeOf(graph, node.input[i]) ?? inferred.get(node.input[i] ?? ''),
  });
  /** Records the dims of a node left in the graph, when they follow from fixed dims. */
  const followDims = (node: onnx.NodeProto) => {
    const dims = node.output[0] ? propagatedDims(node, viewOf(node)) : undefined;
    if (dims) inferred.set(node.output[0]!, dims);
  };
  for (const node of [...graph.nodes]) {
    if (node.opType === 'Constant' && isDefaultDomain(node)) continue;
    const given = node.input.filter((i) => i !== '');
    const allConstant = given.length > 0 && given.every((i) => isConstant(graph, i));
    const kept = (reason: string) => {
      bump(result.notFolded, isDefaultDomain(node) ? node.opType : `${normalDomain(node.domain)}:${node.opType}`);
      outcomes.push({ name: nodeLabel(node), opType: node.opType, action: 'kept', reason: `not folded: ${reason}` });
    };
    const op = isDefaultDomain(node) ? FOLD_OPS.get(node.opType) : undefined;
    if (!op) {
      if (allConstant && !reported.has(node))
        kept(
          isDefaultDomain(node) ? `${node.opType} is not in the fold table` : `ops of domain '${normalDomain(node.domain)}' are not folded`,
        );
      followDims(node);
      continue;
    }
    if (op.needs === 'all' && !allConstant) {
      followDims(node);
      continue;
    }
    const view = viewOf(node);
    let decision;
    try {
      decision = op.fold(node, view);
    } catch (e) {
      // A handler meeting a malformed constant keeps the node; the runtime will say what is wrong.
      decision = { kind: 'keep' as const, reason: `the handler failed: ${(e as Error).message}` };
    }
    if (decision.kind === 'keep') {
      kept(decision.reason);
      followDims(node);
      continue;
    }
    const refused = refuseValues(graph, node, decision.outputs, view);
    if (refused) {
      kept(refused);
      followDims(node);
      continue;
    }
    place(graph, node, decision.outputs);
    result.folded++;
    bump(result.byOp, node.opType);
    const into = node.output.filter((o) => o !== '');
    outcomes.push({
      name: nodeLabel(node),
      opType: node.opType,
      action: 'folded',
      reason: `folded into ${into.map((o) => `'${o}'`).join(', ')}`,
    });
  }
  return result;
}
