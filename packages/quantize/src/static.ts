/**
 * Static int8 quantization in QDQ form, as onnxruntime's quantize_static(QuantFormat.QDQ) writes it:
 * activations uint8 asymmetric from calibrated ranges (QuantizeLinear -> DequantizeLinear pairs),
 * weights stored as int8 symmetric codes behind a DequantizeLinear, biases int32 with
 * scale = input scale x weight scale — and a Q/DQ pair on every quantized node's OUTPUT too, since
 * onnxruntime only fuses DQ -> Conv/MatMul/Gemm -> Q into QLinearConv / QLinearMatMul / QGemm when
 * the Q is there (without it the graph runs float kernels plus conversions, slower than the original).
 * Portable: graph rewriting and math only.
 */
import { Graph as GraphView, makeNode, ShrinkError, type DType, type Graph, type onnx, type TensorData, countUnhandled, selectNodes } from '@shrink/core';
import { chooseParams, quantizeTensor, type IntType } from './math/params.js';
import { roundHalfEven } from './math/round.js';
import type { ResolvedQuantizeOptions } from './options.js';
import { describeWeightFormat, weightFormat, type WeightFormat } from './weight-format.js';
import type { NodeOutcome, PassResult, QuantizeReport } from './types.js';
import { QDQ_ACTIVATION_OPS } from './ops/qdq-activation.js';
import { QDQ_CONV_OPS } from './ops/qdq-conv.js';
import { QDQ_MATMUL_OPS } from './ops/qdq-matmul.js';
import { QDQ_MOVEMENT_OPS } from './ops/qdq-movement.js';
import { constFloat, type QdqBias, type QdqOp, type QdqPlan, type QdqView, type QdqWeight, type TensorMark } from './ops/qdq-types.js';

/** Op type -> static (QDQ) handler. */
export const QDQ_OPS: ReadonlyMap<string, QdqOp> = new Map([
  ...QDQ_CONV_OPS,
  ...QDQ_MATMUL_OPS,
  ...QDQ_MOVEMENT_OPS,
  ...QDQ_ACTIVATION_OPS,
]);

/** Where the ranges came from, for the report. */
export interface CalibrationSource {
  method: string;
  samples: number;
  data: string;
}

type Range = readonly [number, number];
type Params = { scale: number; zeroPoint: number };

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const ACTIVATION_TYPE = 'uint8' as const;
/** 8-bit code types this pass writes. */
type Int8Type = 'int8' | 'uint8';

function isDefaultDomain(node: onnx.INodeProto): boolean {
  return !node.domain || node.domain === 'ai.onnx';
}

/**
 * The activations calibration must see for the static pass: the data inputs and first outputs of every
 * node the QDQ table handles (constants excluded). Graph inputs are included.
 */
export function calibrationTensors(model: onnx.IModelProto): string[] {
  const graph = GraphView.from(model);
  const out = new Set<string>();
  for (const node of graph.nodes) {
    const op = isDefaultDomain(node) ? QDQ_OPS.get(node.opType) : undefined;
    if (!op) continue;
    const names = [...op.dataInputs.map((i) => node.input[i]), node.output[0]];
    for (const name of names) {
      if (!name || graph.constantValue(name)) continue;
      const dt = graph.dtypeOf(name);
      if (dt === undefined || dt === 'float32') out.add(name);
    }
  }
  return [...out];
}

interface Decided {
  node: onnx.NodeProto;
  plan: QdqPlan;
  /** Position in graph order (for the report). */
  at: number;
}

/**
 * Quantizes `model` statically with the activation `ranges` from calibration (tensor name -> [min, max]).
 * Conv, MatMul and Gemm are quantized; MaxPool/Reshape/Flatten/Transpose/Squeeze/Unsqueeze carry their
 * input's quantization through; Relu/Clip after a quantized op fold into its output range. Everything
 * else stays float (report.unhandled). Graph outputs stay float under their own names. The input model
 * is not modified.
 */
export function quantizeStatic(
  model: onnx.IModelProto,
  options: ResolvedQuantizeOptions,
  ranges: ReadonlyMap<string, Range>,
  source?: CalibrationSource,
): PassResult {
  if (options.dtype !== 'q8' && options.dtype !== 'int8' && options.dtype !== 'uint8') {
    throw new ShrinkError('INVALID_ARGUMENT', `static quantization is 8-bit only; dtype '${options.dtype}' has no static mode (use q8, int8 or uint8)`);
  }
  const graph = GraphView.from(model);
  const opset = graph.opsetVersion('') ?? 0;
  if (opset < 10) {
    throw new ShrinkError('UNSUPPORTED_MODEL', `static quantization needs QuantizeLinear/DequantizeLinear (opset >= 10); the model imports opset ${opset}`);
  }
  const notes: string[] = [];
  let perChannel = options.perChannel;
  if (perChannel && opset < 13) {
    perChannel = false;
    notes.push(`per-channel weights need DequantizeLinear with an axis (opset >= 13); the model imports opset ${opset}, so weights are per tensor`);
  }
  const asked = weightFormat(options);
  // onnxruntime's QLinearConv wants one zero point for all channels of a per-channel weight: uint8 per
  // channel is stored symmetric (zero point 128 everywhere), which keeps the exact u8u8 kernels.
  const format: WeightFormat = perChannel && asked.type === 'uint8' ? { ...asked, symmetric: true } : asked;
  const unhandled = countUnhandled(graph, new Set(QDQ_OPS.keys()));
  const selector = selectNodes(graph, options);
  graph.topoSort();

  // --- decide, node by node in topological order (later handlers see earlier marks) ---------------
  const marks = new Map<string, TensorMark>();
  const usedRanges = new Map<string, [number, number]>();
  // Outcomes by position in graph order, so the report lists nodes as the model has them.
  const outcomeAt: NodeOutcome[] = [];
  const decided: Decided[] = [];
  const view: QdqView = { graph, perChannel, opset, mark: (n) => marks.get(n) };

  const rangeOf = (name: string): [number, number] | string => {
    const dt = graph.dtypeOf(name);
    if (dt !== undefined && dt !== 'float32') return `'${name}' is ${dt}; only float32 activations are quantized`;
    const r = ranges.get(name);
    if (!r) return `no calibration range for '${name}'`;
    if (!Number.isFinite(r[0]) || !Number.isFinite(r[1]) || r[0] > r[1]) return `calibration range [${r[0]}, ${r[1]}] of '${name}' is not a finite [min, max]`;
    return [r[0], r[1]];
  };

  for (const [at, node] of [...graph.nodes].entries()) {
    const op = isDefaultDomain(node) ? QDQ_OPS.get(node.opType) : undefined;
    if (!op) continue;
    const base = { name: node.name, opType: node.opType };
    const sel = selector.isSelected(node);
    if (!sel.ok) {
      outcomeAt[at] = { ...base, action: 'skipped', reason: sel.reason };
      continue;
    }
    const d = op.decide(node, view);
    if (d.kind === 'skip') {
      outcomeAt[at] = { ...base, action: 'kept-float', reason: d.reason };
      continue;
    }
    if (d.kind === 'fold') {
      const x = node.input[0]!;
      const y = node.output[0]!;
      const r = rangeOf(y);
      if (typeof r === 'string') {
        outcomeAt[at] = { ...base, action: 'kept-float', reason: r };
        continue;
      }
      const producer = graph.producer(x)!;
      graph.removeNode(node);
      graph.editNode(producer, (p) => {
        p.output = p.output.map((o) => (o === x ? y : o));
      });
      for (const dd of decided) {
        if (dd.node === producer) dd.plan.outputs = dd.plan.outputs.map((o) => (o.name === x ? { name: y } : o));
      }
      marks.delete(x);
      usedRanges.delete(x);
      marks.set(y, { asOutput: true });
      usedRanges.set(y, r);
      // Clip's bound inputs are read by nothing else, usually.
      for (const extra of node.input.slice(1)) if (extra) dropUnused(graph, extra);
      outcomeAt[at] = {
        ...base,
        action: 'quantized',
        reason: `folded into '${producer.name || producer.opType}': its uint8 output range [${fmt(r[0])}, ${fmt(r[1])}] clamps as ${node.opType} does`,
        replacedBy: [],
      };
      continue;
    }
    const plan = d.plan;
    // An explicit --include of the node's name overrides the cost rules below.
    const forced = !!node.name && (options.include ?? []).includes(node.name);
    const costly = forced ? undefined : notWorthIt(graph, node, plan, marks);
    if (costly) {
      outcomeAt[at] = { ...base, action: 'kept-float', reason: costly };
      continue;
    }
    const own = [...plan.activations.filter((a) => !marks.has(a)), ...plan.outputs.filter((o) => !o.sameAs).map((o) => o.name)];
    const problems = own.map(rangeOf).filter((r): r is string => typeof r === 'string');
    if (problems.length > 0) {
      outcomeAt[at] = { ...base, action: 'kept-float', reason: problems.join('; ') };
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
    decided.push({ node, plan, at });
  }

  // --- place Q/DQ pairs, one per marked tensor --------------------------------------------------
  const params = new Map<string, Params>();
  const paramsOf = (name: string): Params => {
    const hit = params.get(name);
    if (hit) return hit;
    const m = marks.get(name)!;
    const p = m.sameAs ? paramsOf(m.sameAs) : rangeParams(usedRanges.get(name)!);
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
      graph.setInitializer(inits.zeroPoint, ACTIVATION_TYPE, [], Uint8Array.of(p.zeroPoint));
      qdqInits.set(root, inits);
    }
    pairs.set(name, addQdqPair(graph, name, inits));
  }

  // --- weights and biases -----------------------------------------------------------------------
  const weightCache = new Map<string, WrittenWeight>();
  const replaced = new Set<string>();
  for (const { node, plan, at } of decided) {
    const written: NonNullable<NodeOutcome['weights']> = [];
    const replacedBy: string[] = [];
    const byInput = new Map<number, WrittenWeight>();
    for (const w of plan.weights) {
      const name = node.input[w.input]!;
      const ww = writeWeight(graph, name, w, format, weightCache);
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
      if (b.clamped > 0) notes.push(`bias '${name}' of '${node.name || node.opType}': ${b.clamped} value(s) beyond the int32 range at scale input x weight were clamped`);
    }
    if (plan.dropAttrs?.length) {
      graph.editNode(node, (n) => {
        n.attribute = n.attribute.filter((a) => !plan.dropAttrs!.includes(a.name ?? ''));
      });
    }
    for (const a of plan.activations) replacedBy.unshift(pairs.get(a)!.dq);
    replacedBy.push(node.name || node.opType);
    for (const o of plan.outputs) replacedBy.push(pairs.get(o.name)!.q);
    outcomeAt[at] = { name: node.name, opType: node.opType, action: 'quantized', replacedBy, ...(written.length ? { weights: written } : {}) };
  }
  for (const name of replaced) dropUnused(graph, name);
  graph.topoSort();
  const outcomes = outcomeAt.filter((o): o is NodeOutcome => o !== undefined);

  const quantized = outcomes.filter((o) => o.action === 'quantized' && QDQ_COMPUTE.has(o.opType)).length;
  const compute = outcomes.filter((o) => QDQ_COMPUTE.has(o.opType)).length;
  notes.unshift(
    `activations uint8 asymmetric from calibrated ranges; weights ${describeWeightFormat(format)} ${perChannel ? 'per channel' : 'per tensor'}; biases int32 (scale = input scale x weight scale)`,
    `${quantized} of ${compute} Conv/MatMul/Gemm node(s) quantized; onnxruntime fuses each DequantizeLinear -> op -> QuantizeLinear group into QLinearConv / QLinearMatMul / QGemm at graph optimization level 'extended' or 'all' — with optimizations off the QDQ graph runs float kernels plus conversions and is slower than the original`,
    'static quantization can make a model slower (float ops between quantized ones add QuantizeLinear/DequantizeLinear work); the measured latency, not this pass, says whether it got faster',
  );
  const data = source?.data ?? options.calibData ?? '';
  if (data.startsWith('random:')) {
    notes.push(`calibrated on random inputs (${data}): a smoke test — the ranges do not reflect real data and accuracy may drop; calibrate on real samples for a model you keep`);
  }
  if (compute > 0 && quantized === 0) notes.push('no Conv/MatMul/Gemm node was quantized: the output model computes as the input did');

  const report: QuantizeReport = {
    dtype: options.dtype,
    mode: 'static',
    nodes: outcomes,
    unhandled,
    weightFormat: format,
    calibration: {
      method: source?.method ?? options.calibMethod,
      samples: source?.samples ?? 0,
      data,
      ranges: Object.fromEntries(usedRanges),
    },
    notes,
  };
  return { model: graph.toModel(), report };
}

/**
 * Below this many values summed per output (C_in/group x kh x kw for Conv, K for MatMul/Gemm) an int8
 * kernel loses to float: onnxruntime's u8s8 GEMM packs K in blocks of 4-16 with per-output requantize
 * work, and the QuantizeLinear of the (wide) input costs about what the float kernel does. Measured on
 * fashion-cnn (2 threads): its 1-channel 3x3 Conv (K = 9) ran as QLinearConv in ~512 µs against ~47 µs
 * float at batch 32, while its K = 144 Conv and K = 64/800 Gemms fuse and run at or below float speed.
 */
export const MIN_QDQ_REDUCTION = 16;

/**
 * Ops onnxruntime's QDQPropagationTransformer moves a QuantizeLinear above (its CanNodePropagate list):
 * a Q at the input of a quantized op climbs through them up to the first other producer.
 */
const ORT_Q_PROPAGATES: ReadonlySet<string> = new Set(['MaxPool', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice']);

/** Why quantizing this planned node would cost more than it saves, or undefined when it should run int8. */
function notWorthIt(graph: Graph, node: onnx.NodeProto, plan: QdqPlan, marks: ReadonlyMap<string, TensorMark>): string | undefined {
  const name = node.name || node.opType;
  if (plan.reduction !== undefined && plan.reduction < MIN_QDQ_REDUCTION) {
    return `reduction of ${plan.reduction} values is too small for int8 kernels to pay off (< ${MIN_QDQ_REDUCTION}; --include '${name}' forces it)`;
  }
  for (const a of plan.activations) {
    if (marks.has(a)) continue;
    const pool = maxPoolAbove(graph, a, marks);
    if (pool) {
      return (
        `input '${a}' comes from float ops through MaxPool '${pool}': onnxruntime would move the QuantizeLinear above the MaxPool ` +
        `(QDQ propagation) and run it on uint8 NCHW, slower than the float ops it saves; --include '${name}' forces it`
      );
    }
  }
  return undefined;
}

/**
 * The MaxPool a QuantizeLinear on `name` would be moved above by onnxruntime, if any: the chain of
 * single-reader ops it propagates through, walked up from `name` until a quantized tensor (a
 * DequantizeLinear stops the propagation) or another producer.
 */
function maxPoolAbove(graph: Graph, name: string, marks: ReadonlyMap<string, TensorMark>): string | undefined {
  let t = name;
  for (let p = graph.producer(t); p && isDefaultDomain(p) && ORT_Q_PROPAGATES.has(p.opType); p = graph.producer(t)) {
    if (graph.consumers(t).length !== 1 || graph.isGraphOutput(t)) return undefined;
    if (p.opType === 'MaxPool') return p.name || p.output[0];
    const x = p.input[0];
    if (!x || marks.has(x)) return undefined;
    t = x;
  }
  return undefined;
}

/** Ops whose quantized form is an integer kernel (the others only carry quantization along). */
const QDQ_COMPUTE: ReadonlySet<string> = new Set([...QDQ_CONV_OPS.keys(), ...QDQ_MATMUL_OPS.keys()]);

function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}

function rangeParams(r: Range): Params {
  return chooseParams(r[0], r[1], ACTIVATION_TYPE, false);
}

function rootOf(name: string, marks: ReadonlyMap<string, TensorMark>): string {
  let n = name;
  for (let m = marks.get(n); m?.sameAs !== undefined; m = marks.get(n)) n = m.sameAs;
  return n;
}

/** Removes a constant (initializer or Constant node) nothing reads any more. */
function dropUnused(graph: Graph, name: string): void {
  if (graph.consumers(name).length > 0 || graph.isGraphOutput(name)) return;
  if (graph.isInitializer(name)) graph.removeInitializer(name);
  else {
    const p = graph.producer(name);
    if (p && p.opType === 'Constant') graph.removeNode(p);
  }
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
  graph.addNode(makeNode('DequantizeLinear', [codesName, scaleName, zp], [output], axis !== undefined ? { axis } : undefined, { name: node }));
  return { output, node, codes: codesName };
}

/** Stores a constant as 8-bit codes + DequantizeLinear once per (name, axis, multiplier). */
function writeWeight(
  graph: Graph,
  name: string,
  w: QdqWeight,
  format: WeightFormat,
  cache: Map<string, WrittenWeight>,
): WrittenWeight {
  const type: Int8Type = format.type;
  const key = `${name}|${w.axis ?? ''}|${w.multiplier ?? 1}`;
  const hit = cache.get(key);
  if (hit) return { ...hit, fresh: false };
  const v = constFloat(graph, name, 'weight');
  if (typeof v === 'string') throw new ShrinkError('INVALID_MODEL', v); // handlers checked this already
  const data = w.multiplier === undefined ? v.data : v.data.map((x) => x * w.multiplier!);
  const q = quantizeTensor(data, v.dims, { type, symmetric: format.symmetric, reduceRange: format.reduceRange, ...(w.axis !== undefined ? { axis: w.axis } : {}), name });
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
  const dq = addDequantized(graph, name, { dtype: 'int32', dims: [n], data: q }, scale, new Int32Array(scale.length), perChannel ? 0 : undefined);
  return { output: dq.output, node: dq.node, clamped, info: { name: dq.codes, dtype: 'int32', elements: n, bytes: 4 * n } };
}
