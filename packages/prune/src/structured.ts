import {
  countMacs,
  countParams,
  Graph,
  inferShapes,
  isDefaultDomain,
  makeValueInfo,
  nodeLabel,
  parseOptions,
  tensorDims,
  tensorNumel,
  type onnx,
  countUnhandled,
  selectNodes,
} from '@shrink/core';
import { pruneOptionsSchema, type PruneOptions } from './options.js';
import type { LayerOutcome, PruneResult } from './types.js';
import { CONSUMERS, describeNode, isSkip, PRODUCERS, type Found, type ProducerPlan } from './ops/structured-layers.js';
import { THROUGH, type UnitAxisState } from './ops/structured-through.js';
import { axisNorms, sliceInitializer, type UnitSlice } from './ops/structured-tensor.js';
import { countZeros } from './ops/weights.js';

/** Everything that changes size when units of one producer are removed. */
interface Chain {
  /** Per-unit constants after the weight: biases, BatchNormalization params, scales, and the next layer's rows. */
  slices: UnitSlice[];
  /** Constants added before any other op: a unit with zero weight and zero bias here is dead. */
  biases: UnitSlice[];
  /** Values carrying the units, for value_info. */
  values: { name: string; fromEnd: number; expand: number }[];
}

/** Follows the producer's output through unit-wise ops to the one layer that reads it. */
function traceChain(
  graph: Graph,
  producer: onnx.NodeProto,
  plan: ProducerPlan,
  shapes: ReadonlyMap<string, readonly number[]>,
): Found<Chain> {
  const chain: Chain = { slices: [], biases: [], values: [] };
  if (plan.bias) {
    chain.slices.push(plan.bias);
    chain.biases.push(plan.bias);
  }
  let state: UnitAxisState = { units: plan.units, fromEnd: plan.fromEnd, rank: plan.rank, expand: 1 };
  let value = producer.output[0] ?? '';
  let addingBias = true;
  // A broken graph can loop (a node's output renamed to a value upstream): stop instead of spinning.
  const seen = new Set<string>();
  for (;;) {
    if (seen.has(value)) return { skip: `'${value}' is reached again from itself: the graph has a cycle, which ONNX does not allow` };
    seen.add(value);
    if (graph.isGraphOutput(value)) return { skip: `'${value}' is a graph output (outputs keep their shape)` };
    chain.values.push({ name: value, fromEnd: state.fromEnd, expand: state.expand });
    const users = graph.consumers(value);
    if (users.length !== 1) {
      return {
        skip:
          users.length === 0
            ? `'${value}' has no consumer`
            : `'${value}' feeds ${users.length} nodes (${users.map(describeNode).join(', ')}); branches are not pruned`,
      };
    }
    const next = users[0]!;
    const label = describeNode(next);
    const consumer = isDefaultDomain(next) ? CONSUMERS.get(next.opType) : undefined;
    if (consumer) {
      const rows = consumer(graph, next, value);
      if (isSkip(rows)) return rows;
      const size = state.units * state.expand;
      const have = (graph.shapeOf(rows.tensor) ?? [])[rows.axis];
      if (have !== size) return { skip: `${label}: weight '${rows.tensor}' axis ${rows.axis} has ${have} entries, expected ${size}` };
      chain.slices.push({ ...rows, expand: state.expand });
      return chain;
    }
    const through = isDefaultDomain(next) ? THROUGH.get(next.opType) : undefined;
    if (!through) return { skip: `'${value}' feeds ${label}, which structured pruning does not follow` };
    const extra = next.output.slice(1).find((o) => o !== '' && (graph.consumers(o).length > 0 || graph.isGraphOutput(o)));
    if (extra) return { skip: `${label}: its extra output '${extra}' is used` };
    const step = through(graph, next, value, state, shapes);
    if (isSkip(step)) return step;
    chain.slices.push(...step.slices);
    if (addingBias && (next.opType === 'Add' || next.opType === 'Sub')) chain.biases.push(...step.slices);
    else addingBias = false;
    if (step.next) state = step.next;
    value = next.output[0] ?? '';
  }
}

function unitValues(graph: Graph, slice: UnitSlice, unit: number): Float32Array {
  const t = graph.readInitializer(slice.tensor);
  const data = t.data as Float32Array;
  const inner = tensorNumel(t.dims.slice(slice.axis + 1));
  const n = t.dims[slice.axis]!;
  const outer = data.length / (n * inner);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < slice.expand; r++) {
      const at = (o * n + unit * slice.expand + r) * inner;
      out.push(...data.subarray(at, at + inner));
    }
  }
  return Float32Array.from(out);
}

/** Units to remove: dead ones (zero weight and zero bias) first, then the lowest norms; ties go to the lower index. */
function unitsToRemove(graph: Graph, plan: ProducerPlan, chain: Chain, norm: 'l1' | 'l2', count: number): Set<number> {
  const w = graph.readInitializer(plan.weight.tensor);
  const norms = axisNorms(w.data as Float32Array, w.dims, plan.weight.axis, norm);
  const score = Array.from(norms, (v, u) => {
    const dead = v === 0 && chain.biases.every((b) => unitValues(graph, b, u).every((x) => x === 0));
    return dead ? -1 : v;
  });
  const order = score.map((_, u) => u).sort((a, b) => score[a]! - score[b]! || a - b);
  return new Set(order.slice(0, count));
}

function resizeValueInfo(graph: Graph, chain: Chain, kept: number): void {
  for (const v of chain.values) {
    const shape = graph.shapeOf(v.name);
    const dtype = graph.dtypeOf(v.name);
    if (!shape || !dtype || graph.isGraphInput(v.name) || graph.isGraphOutput(v.name)) continue;
    const axis = shape.length - 1 - v.fromEnd;
    if (axis < 0 || typeof shape[axis] !== 'number') continue;
    const next = [...shape];
    next[axis] = kept * v.expand;
    graph.setValueInfo(makeValueInfo(v.name, dtype, next));
  }
}

function elementsOf(model: onnx.IModelProto, name: string): number | undefined {
  const t = model.graph?.initializer?.find((i) => i.name === name);
  return t ? tensorNumel(tensorDims(t)) : undefined;
}

/**
 * Structured pruning: removes the `sparsity` fraction of hidden units (MatMul/Gemm output columns) or
 * output channels (Conv) with the lowest weight norm, together with everything sized by them — biases,
 * BatchNormalization parameters, per-unit constants and the next layer's input rows/channels — so the
 * model really shrinks. A layer is skipped, with the reason, when its output feeds a graph output, a
 * branch (residual Add, Concat, several readers) or an op whose unit mapping is not known.
 */
export function pruneStructured(model: onnx.IModelProto, options: PruneOptions = {}): PruneResult {
  const opts = parseOptions(pruneOptionsSchema, { ...options, method: 'structured' }, 'prune options');
  const graph = Graph.from(model);
  const selector = selectNodes(graph, opts);
  const shapes = inferShapes(model);
  const layers: { outcome: LayerOutcome; node: onnx.NodeProto }[] = [];
  graph.nodes.forEach((node) => {
    const rule = isDefaultDomain(node) ? PRODUCERS.get(node.opType) : undefined;
    if (!rule) return;
    const outcome: LayerOutcome = { name: nodeLabel(node), opType: node.opType, action: 'skipped' };
    layers.push({ outcome, node });
    const selected = selector.isSelected(node);
    if (!selected.ok) {
      outcome.reason = selected.reason;
      return;
    }
    const plan = rule(graph, node, shapes);
    if (isSkip(plan)) {
      outcome.reason = plan.skip;
      return;
    }
    outcome.weight = plan.weight.tensor;
    const chain = traceChain(graph, node, plan, shapes);
    if (isSkip(chain)) {
      outcome.reason = chain.skip;
      return;
    }
    // At least one unit stays: a zero-width layer is not a valid model.
    const count = Math.min(plan.units - 1, Math.round(opts.sparsity * plan.units));
    const removed = unitsToRemove(graph, plan, chain, opts.norm, count);
    const keep = Array.from({ length: plan.units }, (_, u) => u).filter((u) => !removed.has(u));
    outcome.action = 'pruned';
    outcome.unitsRemoved = removed.size;
    outcome.unitsKept = keep.length;
    if (removed.size === 0) return;
    for (const s of [plan.weight, ...chain.slices]) sliceInitializer(graph, s, keep);
    resizeValueInfo(graph, chain, keep.length);
  });
  for (const { outcome, node } of layers) {
    const w = node.input[1];
    if (outcome.weight === undefined && w && graph.isInitializer(w)) outcome.weight = w;
  }
  const out = graph.toModel();
  let zeros = 0;
  let elements = 0;
  let before = 0;
  let after = 0;
  for (const { outcome } of layers) {
    if (!outcome.weight) continue;
    outcome.elementsBefore = elementsOf(model, outcome.weight);
    outcome.elementsAfter = elementsOf(out, outcome.weight);
    if (outcome.elementsBefore === undefined || outcome.elementsAfter === undefined) continue;
    before += outcome.elementsBefore;
    after += outcome.elementsAfter;
    if (graph.dtypeOf(outcome.weight) !== 'float32') continue;
    const data = graph.readInitializer(outcome.weight).data as Float32Array;
    const z = countZeros(data);
    outcome.sparsity = data.length > 0 ? z / data.length : 0;
    if (outcome.action === 'pruned') {
      zeros += z;
      elements += data.length;
    }
  }
  const macsBefore = countMacs(model).total;
  const macsAfter = countMacs(out).total;
  const paramsBefore = countParams(model).params;
  const paramsAfter = countParams(out).params;
  const pruned = layers.filter((l) => l.outcome.action === 'pruned').length;
  const notes = [
    `structured (${opts.norm} norm): ${pruned} of ${layers.length} layers pruned; weight elements ${before} -> ${after}`,
    `MACs ${macsBefore} -> ${macsAfter} (batch 1); parameters ${paramsBefore} -> ${paramsAfter}`,
  ];
  const handled = new Set([...PRODUCERS.keys(), ...CONSUMERS.keys(), ...THROUGH.keys()]);
  return {
    model: out,
    report: {
      method: 'structured',
      targetSparsity: opts.sparsity,
      layers: layers.map((l) => l.outcome),
      unhandled: countUnhandled(graph, handled),
      sparsity: elements > 0 ? zeros / elements : 0,
      notes,
    },
  };
}
