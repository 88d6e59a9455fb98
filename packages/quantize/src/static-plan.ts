/**
 * The deciding half of the static pass: the QDQ handler table, and the walk that asks each handler,
 * node by node in topological order, what its node needs — later handlers see the marks of earlier ones.
 * Decisions are data (plans and tensor marks) for static-place.ts; the one graph edit made here is a
 * fold (Relu/Clip into its producer), which later decisions must see.
 */
import { isDefaultDomain, nodeLabel, type Graph, type NodeSelector, type onnx } from '@shrink/core';
import type { ResolvedQuantizeOptions } from './options.js';
import { nodeOutcome } from './node-outcome.js';
import { QDQ_ACTIVATION_OPS } from './ops/qdq-activation.js';
import type { StaticTypes } from './ops/qdq-code-types.js';
import { QDQ_CONV_OPS } from './ops/qdq-conv.js';
import { QDQ_MATMUL_OPS } from './ops/qdq-matmul.js';
import { QDQ_MOVEMENT_OPS } from './ops/qdq-movement.js';
import type { QdqOp, QdqPlan, QdqView, TensorMark } from './ops/qdq-types.js';
import { notWorthIt } from './static-cost.js';
import { foldInto } from './static-place.js';
import type { NodeOutcome } from './types.js';

/** Op type -> static (QDQ) handler. */
export const QDQ_OPS: ReadonlyMap<string, QdqOp> = new Map([
  ...QDQ_CONV_OPS,
  ...QDQ_MATMUL_OPS,
  ...QDQ_MOVEMENT_OPS,
  ...QDQ_ACTIVATION_OPS,
]);

/** Ops whose quantized form is an integer kernel (the others only carry quantization along). */
export const QDQ_COMPUTE: ReadonlySet<string> = new Set([...QDQ_CONV_OPS.keys(), ...QDQ_MATMUL_OPS.keys()]);

/** The static handler of a node, if any: default-domain ops only. */
export function qdqOpOf(node: onnx.INodeProto): QdqOp | undefined {
  return isDefaultDomain(node) ? QDQ_OPS.get(node.opType ?? '') : undefined;
}

export type Range = readonly [number, number];

/** A node whose plan is to be placed. */
export interface Decided {
  node: onnx.NodeProto;
  /** The node's label as the input model has it (placing renames its outputs). */
  label: string;
  plan: QdqPlan;
  /** Position in graph order (for the report). */
  at: number;
}

export interface StaticDecisions {
  /** Every tensor that gets a Q/DQ pair, and how. */
  marks: Map<string, TensorMark>;
  /** The calibrated range of each marked tensor with its own parameters. */
  ranges: Map<string, [number, number]>;
  decided: Decided[];
  /** Outcomes by position in graph order, so the report lists nodes as the model has them; decided nodes are filled in when placed. */
  outcomeAt: NodeOutcome[];
}

export interface PlanContext {
  readonly options: ResolvedQuantizeOptions;
  readonly selector: NodeSelector;
  readonly ranges: ReadonlyMap<string, Range>;
  readonly perChannel: boolean;
  readonly opset: number;
  readonly types: StaticTypes;
}

/** Decides every node of the (topologically sorted) graph; folds are applied as they are decided. */
export function planStatic(graph: Graph, ctx: PlanContext): StaticDecisions {
  const { options, selector, ranges } = ctx;
  const marks = new Map<string, TensorMark>();
  const usedRanges = new Map<string, [number, number]>();
  const outcomeAt: NodeOutcome[] = [];
  const decided: Decided[] = [];
  const view: QdqView = { graph, perChannel: ctx.perChannel, opset: ctx.opset, mark: (n) => marks.get(n) };

  const rangeOf = (name: string): [number, number] | string => {
    const dt = graph.dtypeOf(name);
    if (dt !== undefined && dt !== 'float32') return `'${name}' is ${dt}; only float32 activations are quantized`;
    const r = ranges.get(name);
    if (!r) return `no calibration range for '${name}'`;
    if (!Number.isFinite(r[0]) || !Number.isFinite(r[1]) || r[0] > r[1])
      return `calibration range [${r[0]}, ${r[1]}] of '${name}' is not a finite [min, max]`;
    return [r[0], r[1]];
  };

  for (const [at, node] of [...graph.nodes].entries()) {
    const op = qdqOpOf(node);
    if (!op) continue;
    const sel = selector.isSelected(node);
    if (!sel.ok) {
      outcomeAt[at] = nodeOutcome(node, 'skipped', { reason: sel.reason });
      continue;
    }
    const d = op.decide(node, view);
    if (d.kind === 'skip') {
      outcomeAt[at] = nodeOutcome(node, 'kept-float', { reason: d.reason });
      continue;
    }
    if (d.kind === 'fold') {
      const x = node.input[0]!;
      const y = node.output[0]!;
      const r = rangeOf(y);
      if (typeof r === 'string') {
        outcomeAt[at] = nodeOutcome(node, 'kept-float', { reason: r });
        continue;
      }
      const producer = foldInto(graph, node);
      const into = decided.find((dd) => dd.node === producer);
      if (into) into.plan.outputs = into.plan.outputs.map((o) => (o.name === x ? { name: y } : o));
      marks.delete(x);
      usedRanges.delete(x);
      marks.set(y, { asOutput: true });
      usedRanges.set(y, r);
      outcomeAt[at] = nodeOutcome(node, 'quantized', {
        reason: `folded into '${into?.label ?? nodeLabel(producer)}': its ${ctx.types.activation} output range [${fmt(r[0])}, ${fmt(r[1])}] clamps as ${node.opType} does`,
        replacedBy: [],
      });
      continue;
    }
    const plan = d.plan;
    // An explicit --include of the node's name overrides the cost rules.
    const forced = !!node.name && (options.include ?? []).includes(node.name);
    const costly = forced ? undefined : notWorthIt(graph, node, plan, marks);
    if (costly) {
      outcomeAt[at] = nodeOutcome(node, 'kept-float', { reason: costly });
      continue;
    }
    const own = [...plan.activations.filter((a) => !marks.has(a)), ...plan.outputs.filter((o) => !o.sameAs).map((o) => o.name)];
    const problems = own.map(rangeOf).filter((r): r is string => typeof r === 'string');
    if (problems.length > 0) {
      outcomeAt[at] = nodeOutcome(node, 'kept-float', { reason: problems.join('; ') });
      continue;
    }
    for (const a of plan.activations) {
      if (marks.has(a)) continue;
      marks.set(a, { asOutput: false });
      usedRanges.set(a, rangeOf(a) as [number, number]);
    }
    for (const o of plan.outputs) {
      if (o.sameAs) marks.set(o.name, { asOutput: true, sameAs: o.sameAs });
      else {
        marks.set(o.name, { asOutput: true });
        usedRanges.set(o.name, rangeOf(o.name) as [number, number]);
      }
    }
    decided.push({ node, label: nodeLabel(node), plan, at });
  }
  return { marks, ranges: usedRanges, decided, outcomeAt };
}

function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}
