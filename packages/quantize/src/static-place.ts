/**
 * The writing half of the static pass: turns the decisions of static-plan.ts into graph edits — a
 * QuantizeLinear -> DequantizeLinear pair per marked tensor, weights stored as codes behind a
 * DequantizeLinear, int32 biases — as onnxruntime's QDQQuantizer lays them out. Every graph edit of the
 * pass is here.
 */
import { makeNode, ShrinkError, type DType, type Graph, type onnx, type TensorData } from '@shrink/core';
import { dropUnread } from './drop-unread.js';
import { chooseParams, quantizeTensor } from './math/params.js';
import { roundHalfEven } from './math/round.js';
import type { StaticTypes } from './ops/qdq-code-types.js';
import { constFloat, type QdqBias, type QdqWeight, type TensorMark } from './ops/qdq-types.js';
import type { StaticDecisions } from './static-plan.js';
import type { NodeOutcome } from './types.js';

type Params = { scale: number; zeroPoint: number };

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Removes a Relu/Clip `node` whose producer's quantized output clamps as it does: the producer writes
 * the node's output instead. Returns the producer.
 */
export function foldInto(graph: Graph, node: onnx.NodeProto): onnx.NodeProto {
  const x = node.input[0]!;
  const y = node.output[0]!;
  const producer = graph.producer(x)!;
  graph.removeNode(node);
  graph.editNode(producer, (p) => {
    p.output = p.output.map((o) => (o === x ? y : o));
  });
  // Clip's bound inputs are read by nothing else, usually.
  dropUnread(
    graph,
    node.input.slice(1).filter((i) => i !== ''),
  );
  return producer;
}

/**
 * Places the decided plans: Q/DQ pairs, weights and biases; fills the decided nodes' outcomes in
 * `decisions.outcomeAt`, returns notes about what was written.
 */
export function placeStatic(graph: Graph, decisions: StaticDecisions, types: StaticTypes): string[] {
  const { marks, ranges, decided, outcomeAt } = decisions;
  const notes: string[] = [];

  // --- Q/DQ pairs, one per marked tensor ----------------------------------------------------------
  const params = new Map<string, Params>();
  const paramsOf = (name: string): Params => {
    const hit = params.get(name);
    if (hit) return hit;
    const m = marks.get(name)!;
    const r = ranges.get(name)!;
    const p = m.sameAs ? paramsOf(m.sameAs) : chooseParams(r[0], r[1], types.activation, false);
    params.set(name, p);
    return p;
  };
  const qdqInits = new Map<string, { scale: string; zeroPoint: string }>();
  const pairs = new Map<string, { q: string; dq: string }>();
  for (const name of marks.keys()) {
    // Tensors sharing params share the scale/zero-point initializers too (onnxruntime compares them to drop the pair).
    const root = rootOf(name, marks);
    let inits = qdqInits.get(root);
    if (!inits) {
      const p = paramsOf(root);
      inits = { scale: graph.uniqueName(`${root}_scale`), zeroPoint: graph.uniqueName(`${root}_zero_point`) };
      graph.setInitializer(inits.scale, 'float32', [], Float32Array.of(p.scale));
      graph.setInitializer(inits.zeroPoint, types.activation, [], [p.zeroPoint]);
      qdqInits.set(root, inits);
    }
    pairs.set(name, addQdqPair(graph, name, inits));
  }

  // --- weights and biases ---------------------------------------------------------------------------
  const weightCache = new Map<string, WrittenWeight>();
  const replaced = new Set<string>();
  for (const { node, label, plan, at } of decided) {
    const written: NonNullable<NodeOutcome['weights']> = [];
    const replacedBy: string[] = [];
    const byInput = new Map<number, WrittenWeight>();
    for (const w of plan.weights) {
      const name = node.input[w.input]!;
      const ww = writeWeight(graph, name, w, types, weightCache);
      byInput.set(w.input, ww);
      setInput(graph, node, w.input, ww.output);
      replaced.add(name);
      replacedBy.push(ww.node);
      if (ww.fresh) written.push(ww.info);
    }
    if (plan.bias) {
      const ww = byInput.get(plan.bias.weightInput)!;
      const name = node.input[plan.bias.input]!;
      const b = writeBias(graph, name, plan.bias, paramsOf(plan.bias.activation).scale, ww);
      setInput(graph, node, plan.bias.input, b.output);
      replaced.add(name);
      replacedBy.push(b.node);
      written.push(b.info);
      if (b.clamped > 0)
        notes.push(`bias '${name}' of '${label}': ${b.clamped} value(s) beyond the int32 range at scale input x weight were clamped`);
    }
    if (plan.dropAttrs?.length) {
      graph.editNode(node, (n) => {
        n.attribute = n.attribute.filter((a) => !plan.dropAttrs!.includes(a.name ?? ''));
      });
    }
    for (const a of plan.activations) replacedBy.unshift(pairs.get(a)!.dq);
    replacedBy.push(label);
    for (const o of plan.outputs) replacedBy.push(pairs.get(o.name)!.q);
    outcomeAt[at] = { name: label, opType: node.opType, action: 'quantized', replacedBy, ...(written.length ? { weights: written } : {}) };
  }
  dropUnread(graph, replaced);
  graph.topoSort();
  return notes;
}

function rootOf(name: string, marks: ReadonlyMap<string, TensorMark>): string {
  let n = name;
  for (let m = marks.get(n); m?.sameAs !== undefined; m = marks.get(n)) n = m.sameAs;
  return n;
}

/**
 * QuantizeLinear -> DequantizeLinear on `name`. A computed value keeps its name on the DequantizeLinear
 * output (its producer now writes `<name>_float`), so readers, graph outputs and --explain all see the
 * value as the quantized model really carries it. A graph input cannot be renamed: its readers move to
 * `<name>_dequantized` instead.
 */
function addQdqPair(graph: Graph, name: string, inits: { scale: string; zeroPoint: string }): { q: string; dq: string } {
  const quantized = graph.uniqueName(`${name}_quantized`);
  const qName = graph.uniqueNodeName(`${name}_QuantizeLinear`);
  const dqName = graph.uniqueNodeName(`${name}_DequantizeLinear`);
  const producer = graph.producer(name);
  if (producer) {
    const pre = graph.uniqueName(`${name}_float`);
    graph.editNode(producer, (p) => {
      p.output = p.output.map((o) => (o === name ? pre : o));
    });
    graph.addNodes([
      makeNode('QuantizeLinear', [pre, inits.scale, inits.zeroPoint], [quantized], undefined, { name: qName }),
      makeNode('DequantizeLinear', [quantized, inits.scale, inits.zeroPoint], [name], undefined, { name: dqName }),
    ]);
    return { q: qName, dq: dqName };
  }
  const dequantized = graph.uniqueName(`${name}_dequantized`);
  const [q] = graph.addNodes([
    makeNode('QuantizeLinear', [name, inits.scale, inits.zeroPoint], [quantized], undefined, { name: qName }),
    makeNode('DequantizeLinear', [quantized, inits.scale, inits.zeroPoint], [dequantized], undefined, { name: dqName }),
  ]);
  graph.replaceAllUses(name, dequantized, { except: [q!] });
  return { q: qName, dq: dqName };
}

function setInput(graph: Graph, node: onnx.NodeProto, index: number, value: string): void {
  graph.editNode(node, (n) => {
    n.input[index] = value;
  });
}

interface WrittenWeight {
  output: string;
  node: string;
  scale: Float32Array;
  axis?: number;
  info: { name: string; dtype: string; elements: number; bytes: number };
  fresh: boolean;
}

/**
 * Codes, scale and zero point as initializers named after `name`, and the DequantizeLinear that reads
 * them (per channel along `axis` when given, per tensor otherwise).
 */
function addDequantized(
  graph: Graph,
  name: string,
  codes: { dtype: DType; dims: readonly number[]; data: TensorData },
  scale: Float32Array,
  zeroPoint: TensorData,
  axis: number | undefined,
): { output: string; node: string; codes: string } {
  const codesName = graph.uniqueName(`${name}_quantized`);
  const scaleName = graph.uniqueName(`${name}_scale`);
  const zp = graph.uniqueName(`${name}_zero_point`);
  const output = graph.uniqueName(`${name}_dequantized`);
  const node = graph.uniqueNodeName(`${name}_DequantizeLinear`);
  const pdims = axis !== undefined ? [scale.length] : [];
  graph.setInitializer(codesName, codes.dtype, codes.dims, codes.data);
  graph.setInitializer(scaleName, 'float32', pdims, scale);
  graph.setInitializer(zp, codes.dtype, pdims, zeroPoint);
  graph.addNode(
    makeNode('DequantizeLinear', [codesName, scaleName, zp], [output], axis !== undefined ? { axis } : undefined, { name: node }),
  );
  return { output, node, codes: codesName };
}

/** Stores a constant as codes + DequantizeLinear once per (name, axis, multiplier). */
function writeWeight(graph: Graph, name: string, w: QdqWeight, types: StaticTypes, cache: Map<string, WrittenWeight>): WrittenWeight {
  const { type, symmetric, reduceRange } = types.weight;
  const key = `${name}|${w.axis ?? ''}|${w.multiplier ?? 1}`;
  const hit = cache.get(key);
  if (hit) return { ...hit, fresh: false };
  const v = constFloat(graph, name, 'weight');
  if (typeof v === 'string') throw new ShrinkError('INVALID_MODEL', v); // handlers checked this already
  const data = w.multiplier === undefined ? v.data : v.data.map((x) => x * w.multiplier!);
  const q = quantizeTensor(data, v.dims, { type, symmetric, reduceRange, ...(w.axis !== undefined ? { axis: w.axis } : {}), name });
  const dq = addDequantized(graph, name, { dtype: type, dims: v.dims, data: q.q }, q.scale, q.zeroPoint, q.axis);
  const ww: WrittenWeight = {
    output: dq.output,
    node: dq.node,
    scale: q.scale,
    ...(q.axis !== undefined ? { axis: q.axis } : {}),
    info: { name: dq.codes, dtype: type, elements: q.q.length, bytes: q.q.length },
    fresh: true,
  };
  cache.set(key, ww);
  return ww;
}

/** int32 bias, scale = input scale x weight scale (per channel when the weight is), zero point 0. */
function writeBias(
  graph: Graph,
  name: string,
  bias: QdqBias,
  inputScale: number,
  weight: WrittenWeight,
): { output: string; node: string; clamped: number; info: WrittenWeight['info'] } {
  const v = constFloat(graph, name, 'bias');
  if (typeof v === 'string') throw new ShrinkError('INVALID_MODEL', v);
  const n = bias.channels;
  const mul = bias.multiplier ?? 1;
  const perChannel = weight.scale.length > 1;
  const scale = new Float32Array(perChannel ? n : 1);
  for (let c = 0; c < scale.length; c++) scale[c] = Math.fround(inputScale * weight.scale[c]!);
  const q = new Int32Array(n);
  let clamped = 0;
  for (let c = 0; c < n; c++) {
    // A single-value bias broadcasts over the channels.
    const b = Math.fround((v.data.length === 1 ? v.data[0]! : v.data[c]!) * mul);
    const code = roundHalfEven(b / scale[perChannel ? c : 0]!);
    if (code < INT32_MIN || code > INT32_MAX) clamped++;
    q[c] = Math.min(INT32_MAX, Math.max(INT32_MIN, code));
  }
  const dq = addDequantized(
    graph,
    name,
    { dtype: 'int32', dims: [n], data: q },
    scale,
    new Int32Array(scale.length),
    perChannel ? 0 : undefined,
  );
  return { output: dq.output, node: dq.node, clamped, info: { name: dq.codes, dtype: 'int32', elements: n, bytes: 4 * n } };
}
