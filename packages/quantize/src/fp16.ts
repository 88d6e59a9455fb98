/**
 * float32 -> float16 conversion of a whole model (the fp16 dtype, and the second half of q4f16).
 * Float32 initializers, Constant values and the values computed by converted ops become float16; the
 * model's inputs and outputs stay float32, with Casts at the edges, so callers feed and read what they
 * did before. Ops on the block list (and ops of other domains, and nodes with subgraphs) stay float32,
 * with Casts where they meet float16 tensors.
 */
import {
  constantTensor,
  findAttr,
  float32ToFloat16,
  Graph,
  dtypeFromOnnx,
  ShrinkError,
  isDefaultDomain,
  makeNode,
  makeTensor,
  nodeLabel,
  nodeUses,
  normalDomain,
  onnx,
  readTensor,
  selectNodes,
  toFloat32,
  type DType,
} from '@shrink/core';
import { holdsBodies, typeClashes, valueTypes } from './fp16-types.js';
import type { ResolvedQuantizeOptions } from './options.js';
import { withSubgraphs } from './subgraphs.js';
import type { NodeOutcome, PassResult } from './types.js';

/**
 * Ops kept in float32: onnxconverter-common's float16 DEFAULT_OP_BLOCK_LIST (ops without float16
 * kernels or that lose too much in half precision: ML-domain ops, TopK, NonMaxSuppression, RoiAlign,
 * Resize, Range, CumSum, Min, Max, Upsample, RandomUniformLike), plus the quantization ops, whose scales
 * and float inputs are float32 by their schema (QLinear* ops are kept too).
 */
export const FP16_BLOCK_LIST: readonly string[] = [
  'ArrayFeatureExtractor',
  'Binarizer',
  'CastMap',
  'CategoryMapper',
  'DictVectorizer',
  'FeatureVectorizer',
  'Imputer',
  'LabelEncoder',
  'LinearClassifier',
  'LinearRegressor',
  'Normalizer',
  'OneHotEncoder',
  'RandomUniformLike',
  'SVMClassifier',
  'SVMRegressor',
  'Scaler',
  'TreeEnsembleClassifier',
  'TreeEnsembleRegressor',
  'ZipMap',
  'NonMaxSuppression',
  'TopK',
  'RoiAlign',
  'Resize',
  'Range',
  'CumSum',
  'Min',
  'Max',
  'Upsample',
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'MatMulInteger',
  'ConvInteger',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
];

/** Largest finite float16. */
export const FLOAT16_MAX = 65504;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
/** Ops whose output type is an attribute: when they are converted, the attribute says float16. */
const DTYPE_ATTR: Readonly<Record<string, string>> = {
  Cast: 'to',
  EyeLike: 'dtype',
  RandomNormal: 'dtype',
  RandomUniform: 'dtype',
  RandomNormalLike: 'dtype',
  Bernoulli: 'dtype',
};

/** Ops that read any element type: a Cast in front of them would only lose precision (e.g. float -> int64 of 2049). */
const ANY_INPUT_TYPE = new Set(['Cast', 'Shape', 'Size']);

interface Counts {
  clamped: number;
  flushed: number;
}

/**
 * float32 values -> float16 bits. Finite values beyond ±65504 are clamped to it (they would become
 * infinities); infinities and NaN stay what they are. Counts the clamped values and the nonzero
 * values that flush to ±0 (below half the smallest float16 subnormal, ~3e-8).
 */
export function toFloat16Clamped(data: Float32Array, counts: Counts): Uint16Array {
  const src = new Float32Array(data);
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    if (x > FLOAT16_MAX && x !== Infinity) {
      src[i] = FLOAT16_MAX;
      counts.clamped++;
    } else if (x < -FLOAT16_MAX && x !== -Infinity) {
      src[i] = -FLOAT16_MAX;
      counts.clamped++;
    }
  }
  const half = float32ToFloat16(src);
  for (let i = 0; i < src.length; i++) if (src[i] !== 0 && (half[i]! & 0x7fff) === 0) counts.flushed++;
  return half;
}

function halfTensor(t: onnx.ITensorProto, name: string, counts: Counts): onnx.TensorProto {
  const v = readTensor(t);
  return makeTensor(name, 'float16', v.dims, toFloat16Clamped(toFloat32(v), counts));
}

/**
 * Why a node must stay float32 because a constant it reads holds finite values beyond float16's range
 * (a BatchNormalization's running variance of 4.8e7 in a real OCR detector): clamped to 65504, that
 * layer would compute something else, scaling its output by up to sqrt(4.8e7 / 65504) ~ 27x.
 */
function beyondHalf(graph: Graph, node: onnx.NodeProto): string | undefined {
  for (const input of node.input) {
    if (!input) continue;
    const v = graph.constantValue(input);
    if (!v || v.dtype !== 'float32') continue;
    let peak = 0;
    for (const x of v.data as Float32Array) {
      const a = Math.abs(x);
      if (a > peak && a !== Infinity) peak = a;
    }
    if (peak > FLOAT16_MAX)
      return `constant input '${input}' holds values up to ${Number(peak.toPrecision(3))}, beyond float16's ±${FLOAT16_MAX}`;
  }
  return undefined;
}

const SE_WEIGHTED = new Set(['Conv', 'MatMul', 'Gemm']);
const GATES = new Set(['Sigmoid', 'HardSigmoid']);

/** Whether `node`'s output reaches a Mul through a (Hard)Sigmoid, with at most one Add/Relu/Clip/HardSwish between. */
function feedsGate(graph: Graph, node: onnx.NodeProto): boolean {
  const out = node.output[0];
  if (!out) return false;
  const step = (v: string, hops: number): boolean =>
    graph.consumers(v).some((c) => {
      if (GATES.has(c.opType)) return graph.consumers(c.output[0] ?? '').some((m) => m.opType === 'Mul');
      return hops > 0 && ['Add', 'Relu', 'Clip'].includes(c.opType) && c.output[0] !== undefined && step(c.output[0], hops - 1);
    });
  return step(out, 1);
}

/** How many standard deviations of headroom a value must keep below float16's largest finite value. */
const SIGMAS = 8;

/**
 * Why the producer of a BatchNormalization's input must stay float32: the running statistics say what
 * that input spreads to (mean ± sigma), and when 8 sigma pass 65504 its float16 value overflows to
 * infinity on some inputs. The PaddleOCR detector's head Conv feeds a BatchNormalization with variance
 * up to 9.8e7 (sigma ~9900): 1.8e4 on rendered text, 2e5 on a black page.
 */
function wideInputOf(graph: Graph, bn: onnx.NodeProto): string | undefined {
  const mean = bn.input[3] ? graph.constantValue(bn.input[3]) : undefined;
  const variance = bn.input[4] ? graph.constantValue(bn.input[4]) : undefined;
  if (!mean || !variance || mean.dtype !== 'float32' || variance.dtype !== 'float32') return undefined;
  let reach = 0;
  const m = mean.data as Float32Array;
  const v = variance.data as Float32Array;
  for (let c = 0; c < v.length; c++) reach = Math.max(reach, Math.abs(m[c % m.length]!) + SIGMAS * Math.sqrt(Math.max(0, v[c]!)));
  if (!(reach > FLOAT16_MAX)) return undefined;
  return `its output feeds BatchNormalization '${nodeLabel(bn)}', whose running statistics put it at up to ${Number(reach.toPrecision(3))} (|mean| + ${SIGMAS} sigma), beyond float16's ±${FLOAT16_MAX}`;
}

/**
 * Peak |value| of float32 values seen when the float32 model ran on data (runtime/fp16-ranges.ts), by
 * value name, and what it ran on, for the reasons ("8 sample(s) of feeds.npz").
 */
export interface MeasuredRanges {
  readonly peaks: ReadonlyMap<string, number>;
  readonly on: string;
  readonly synthetic: boolean;
}

/**
 * The largest |value| a measured node output may reach and still be computed in float16: 65504 / 16.
 * The run saw a few samples, not every input, and an op's own accumulation (a ReduceSum, a
 * LayerNormalization's variance) is not exposed; 16x room covers a louder input or a sum of 16 such
 * values. On the corpus's realistic feeds the models fp16 already converted well stay under it (what they
 * leave to float16 peaks at 2.3e3 in PP-OCRv4's detector, 195 in its recogniser, 42 in openWakeWord's
 * embedding, 5.5 in silero-vad v5), while the melspectrogram's STFT reaches 2e5 and its power 4e10.
 * onnxruntime's CPU runs many float16 ops in float32 behind its own Casts and hides some overflows;
 * GPU providers run them in float16, and a value past 65504 is Infinity there.
 */
export const MEASURED_LIMIT = FLOAT16_MAX / 16;

/** What --dtype fp16 reads of the quantize options, and the ranges measured on data when there are any. */
export type Float16Options = Pick<ResolvedQuantizeOptions, 'keepFloat32' | 'include' | 'exclude'> & { ranges?: MeasuredRanges };

const STATIC_VALUE = new Set(['Constant', 'ConstantOfShape']);

const shortNumber = (x: number): string => (x >= 1e5 ? x.toExponential(1).replace('e+', 'e') : String(Math.round(x)));

/**
 * Why a node must stay float32 by the measured ranges: its float32 output reached past MEASURED_LIMIT,
 * or it reads a value past float16's range (the Cast in front of it would write Infinity; a Log of the
 * melspectrogram's power did).
 */
function measuredBeyond(node: onnx.NodeProto, ranges: MeasuredRanges, isF32: (v: string) => boolean): string | undefined {
  const on = ranges.synthetic ? 'synthetic samples' : 'the data';
  // A constant's value is known without running anything: beyondHalf judges it, and below 65504 it fits.
  if (STATIC_VALUE.has(node.opType) && isDefaultDomain(node)) return undefined;
  for (const o of node.output) {
    const peak = o && isF32(o) ? ranges.peaks.get(o) : undefined;
    if (peak !== undefined && peak > MEASURED_LIMIT)
      return `its output '${o}' reached ${shortNumber(peak)} on ${on}, past ${MEASURED_LIMIT} (float16's ±${FLOAT16_MAX} / 16, room for what follows)`;
  }
  if (ANY_INPUT_TYPE.has(node.opType) && isDefaultDomain(node)) return undefined;
  for (const i of node.input) {
    const peak = i && isF32(i) ? ranges.peaks.get(i) : undefined;
    if (peak !== undefined && peak > FLOAT16_MAX)
      return `it reads '${i}', which reached ${shortNumber(peak)} on ${on}: past float16's ±${FLOAT16_MAX} it would read Infinity`;
  }
  return undefined;
}

/**
 * Converts float32 tensors and ops to float16; inputs and outputs stay float32. `keepFloat32` adds op
 * types to FP16_BLOCK_LIST; --exclude'd nodes (and nodes outside --include) stay float32 too. If/Loop/Scan
 * bodies are converted too, each with Casts at its own boundary (body inputs, outputs and the outer
 * values it reads keep their types). A model whose weights are float16 already is refused.
 */
export function convertToFloat16(model: onnx.IModelProto, options: Float16Options): PassResult {
  const known = new Map<string, number>();
  const r = withSubgraphs(model, (m) => {
    const out = convertGraph(m, options, known);
    for (const [name, code] of valueTypes(out.model.graph ?? {}, known)) known.set(name, code);
    return out;
  });
  if (options.ranges) r.report.notes.splice(1, 0, rangeNote(r.report.nodes, options.ranges));
  return r;
}

const MEASURED_REASON = /reached [0-9.e]+ on (the data|synthetic samples)[,:] past/;

/** The range check in one note: what it ran on and how many nodes it kept float32 (If/Loop/Scan bodies are not measured). */
function rangeNote(nodes: readonly NodeOutcome[], ranges: MeasuredRanges): string {
  const kept = nodes.filter((n) => n.action === 'kept-float' && MEASURED_REASON.test(n.reason ?? '')).length;
  const what = ` on ${ranges.on}${ranges.synthetic ? ' (synthetic samples: give the inputs the model meets with --calib-data)' : ''}`;
  return kept > 0
    ? `range check${what}: ${kept} node(s) stay float32 because a value they compute passed ${MEASURED_LIMIT} (float16's ±${FLOAT16_MAX} / 16) or one they read passed ${FLOAT16_MAX} (see each node's reason); their weights are stored float16 and cast to float32 as they are read`
    : `range check${what}: every value left to float16 stayed within ±${MEASURED_LIMIT} (float16's ±${FLOAT16_MAX} / 16)`;
}

/**
 * One graph to float16, checked: a node whose inputs would bind float16 and another type to one type
 * parameter (a value whose type the inference got wrong) stays float32 with that reason, and the graph
 * is converted again, until onnxruntime would load every node.
 */
function convertGraph(model: onnx.IModelProto, options: Float16Options, outer: ReadonlyMap<string, number>): PassResult {
  const forced = new Map<number, string>();
  for (;;) {
    const { result, origin } = convertOnce(model, options, outer, forced);
    const clashes = typeClashes(result.model.graph ?? {}, outer);
    let added = 0;
    for (const c of clashes) {
      const at = origin[c.index];
      if (at === undefined || forced.has(at)) continue;
      forced.set(at, `kept float32 so the model stays valid: as float16, ${c.detail}`);
      added++;
    }
    if (clashes.length === 0) return result;
    if (added === 0)
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `fp16 would write a model onnxruntime refuses: ${clashes[0]!.detail}; exclude that node (--exclude '${nodeLabel(clashes[0]!.node)}') to keep it float32`,
      );
  }
}

function convertOnce(
  model: onnx.IModelProto,
  options: Float16Options,
  outer: ReadonlyMap<string, number>,
  forced: ReadonlyMap<number, string>,
): { result: PassResult; origin: (number | undefined)[] } {
  const graph = Graph.from(model);
  graph.topoSort();
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  // Report labels as the input model has them: graph outputs get renamed below.
  const labels = new Map(graph.nodes.map((n) => [n, nodeLabel(n)]));
  const labelOf = (n: onnx.NodeProto): string => labels.get(n) ?? nodeLabel(n);
  const selector = selectNodes(graph, options);
  const block = new Set([...FP16_BLOCK_LIST, ...(options.keepFloat32 ?? [])]);
  const old = new Map<string, DType>();
  for (const [name, code] of valueTypes(partsOf(graph), outer)) {
    try {
      old.set(name, dtypeFromOnnx(code));
    } catch {
      // A type Shrink does not carry is not float32.
    }
  }
  const isF32 = (v: string): boolean => old.get(v) === 'float32';

  // 1. Which nodes stay float32, and why.
  const kept = new Map<onnx.NodeProto, string>();
  const unhandled: Record<string, number> = {};
  for (const node of graph.nodes) {
    const domain = normalDomain(node.domain);
    let reason: string | undefined = forced.get(index.get(node)!);
    if (reason !== undefined) {
      // Set by the validity check of an earlier round.
    } else if (domain !== '' && domain !== 'com.microsoft') {
      reason = `ops of domain '${domain}' stay float32`;
      const key = `${domain}:${node.opType}`;
      unhandled[key] = (unhandled[key] ?? 0) + 1;
    } else if (holdsBodies(node)) {
      reason = 'holds If/Loop/Scan bodies: the node keeps float32 at its boundary, its bodies are converted on their own';
    } else if (block.has(node.opType) || node.opType.startsWith('QLinear')) {
      reason = (options.keepFloat32 ?? []).includes(node.opType)
        ? `keepFloat32 lists ${node.opType}`
        : `${node.opType} is on the float32 block list`;
    } else {
      const sel = selector.isSelected(node);
      if (!sel.ok) reason = sel.reason;
      else reason = beyondHalf(graph, node);
    }
    if (reason !== undefined) kept.set(node, reason);
  }
  // The value a BatchNormalization normalizes must fit float16 too, or it overflows before the BN sees it.
  for (const node of graph.nodes) {
    if (node.opType !== 'BatchNormalization' || !isDefaultDomain(node) || !node.input[0]) continue;
    const reason = wideInputOf(graph, node);
    if (reason === undefined) continue;
    if (!kept.has(node))
      kept.set(node, `its input reaches beyond float16's ±${FLOAT16_MAX} (${reason.replace(/^its output feeds [^,]*, whose /, '')})`);
    const producer = graph.producer(node.input[0]);
    if (producer && !kept.has(producer) && isDefaultDomain(producer)) kept.set(producer, reason);
  }
  // A squeeze-and-excitation gate (Conv/MatMul/Gemm -> [Add] -> (Hard)Sigmoid -> Mul) scales a whole feature
  // map by its output: float16 weights there moved PP-OCRv4's recogniser to cosine 0.998 (0.9994 kept).
  // The gate's layers are tiny (1x1 on a pooled vector), so float32 costs nothing measurable.
  for (const node of graph.nodes) {
    if (kept.has(node) || !SE_WEIGHTED.has(node.opType) || !isDefaultDomain(node)) continue;
    if (feedsGate(graph, node)) {
      kept.set(
        node,
        `it feeds a squeeze-and-excitation gate ((Hard)Sigmoid -> Mul over a feature map), whose float16 error scales the whole map`,
      );
    }
  }
  // Values the float32 model was seen to push out of float16's range, on data or synthetic samples.
  const measured = new Set<onnx.NodeProto>();
  if (options.ranges) {
    for (const node of graph.nodes) {
      if (kept.has(node)) continue;
      const reason = measuredBeyond(node, options.ranges, isF32);
      if (reason === undefined) continue;
      kept.set(node, reason);
      measured.add(node);
    }
  }
  const converts = (n: onnx.NodeProto): boolean => !kept.has(n);

  // 2. Which float32 values become float16: what converted nodes compute, and constants they read.
  const half = new Set<string>();
  const outputs = new Set(graph.outputs.map((o) => o.name));
  // A node kept float32 for its measured values still stores its weights float16, read through a Cast to
  // float32: the weights fit (or a static rule would have kept the node), only what it computes does not,
  // and the melspectrogram's STFT and mel filterbank hold all its weights (file 1.0x of float32 otherwise).
  const stores = (n: onnx.NodeProto): boolean => converts(n) || measured.has(n);
  for (const t of graph.initializers) {
    if (isF32(t.name) && !outputs.has(t.name) && graph.consumers(t.name).some(stores)) half.add(t.name);
  }
  for (const node of graph.nodes) {
    if (!converts(node)) continue;
    const constant = node.opType === 'Constant' && isDefaultDomain(node);
    for (const o of node.output) {
      if (!o || !isF32(o) || graph.isInitializer(o)) continue;
      // A Constant only read by float32 ops is better left float32; one that bodies read is stored
      // float16 (silero-vad v5 keeps its GRU weights in Constants that only nested If branches read).
      if (constant && !graph.consumers(o).some((c) => converts(c) || holdsBodies(c)) && !outputs.has(o)) continue;
      half.add(o);
    }
  }

  // 3. Graph outputs keep their name and float32 type: the producer writes `<name>_fp16`, a Cast writes the name.
  let casts = 0;
  for (const out of graph.outputs.map((o) => o.name)) {
    if (!half.has(out)) continue;
    const producer = graph.producer(out)!;
    const inner = graph.uniqueName(`${out}_fp16`);
    graph.editNode(producer, (n) => {
      n.output = n.output.map((o) => (o === out ? inner : o));
    });
    graph.replaceAllUses(out, inner);
    half.delete(out);
    half.add(inner);
    old.set(inner, 'float32');
    graph.addNode(makeNode('Cast', [inner], [out], { to: FLOAT }, { name: graph.uniqueNodeName(`${out}_to_float32`) }), {
      after: producer,
    });
    casts++;
  }

  // 4. Casts where a float32 value meets a float16 op, or a float16 value a float32 op (subgraph reads included).
  const castOf = new Map<string, string>();
  for (const node of [...graph.nodes]) {
    if (ANY_INPUT_TYPE.has(node.opType) && isDefaultDomain(node)) continue;
    const want: DType = converts(node) ? 'float16' : 'float32';
    for (const u of nodeUses(node)) {
      if (!isF32(u)) continue;
      const have: DType = half.has(u) ? 'float16' : 'float32';
      if (have === want) continue;
      const key = `${u}>${want}`;
      let cast = castOf.get(key);
      if (cast === undefined) {
        cast = graph.uniqueName(`${u}_${want === 'float16' ? 'fp16' : 'fp32'}`);
        const to = want === 'float16' ? FLOAT16 : FLOAT;
        graph.addNode(makeNode('Cast', [u], [cast], { to }, { name: graph.uniqueNodeName(`${u}_to_${want}`) }), { before: node });
        castOf.set(key, cast);
        casts++;
      }
      graph.replaceAllUses(u, cast, { except: graph.consumers(u).filter((n) => n !== node) });
    }
  }

  // 5. Rewrite the tensors and type attributes that say float32.
  const counts: Counts = { clamped: 0, flushed: 0 };
  let constantBytes = 0;
  let constantsConverted = 0;
  const weightsOf = new Map<string, { name: string; dtype: string; elements: number; bytes: number }>();
  for (const t of [...graph.initializers]) {
    if (!half.has(t.name)) continue;
    const h = graph.setInitializer(halfTensor(t, t.name, counts));
    weightsOf.set(t.name, { name: t.name, dtype: 'float16', elements: h.rawData.length / 2, bytes: h.rawData.length });
  }
  for (const node of [...graph.nodes]) {
    if (!converts(node) || !isDefaultDomain(node) || !node.output.some((o) => half.has(o))) continue;
    if (node.opType === 'Constant') {
      const value = constantTensor(node)!;
      const t = halfTensor(value, value.name ?? '', counts);
      constantsConverted++;
      constantBytes += t.rawData.length;
      graph.editNode(node, (n) => {
        n.attribute = [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t })];
      });
    } else if (node.opType === 'ConstantOfShape') {
      const a = findAttr(node, 'value');
      if (a?.t) a.t = halfTensor(a.t, a.t.name ?? '', counts);
      else
        node.attribute.push(
          onnx.AttributeProto.create({
            name: 'value',
            type: onnx.AttributeProto.AttributeType.TENSOR,
            t: makeTensor('value', 'float16', [1], [0]),
          }),
        );
    } else {
      const attrName = DTYPE_ATTR[node.opType];
      const a = attrName ? findAttr(node, attrName) : undefined;
      if (a && Number(a.i) === FLOAT) a.i = FLOAT16;
      else if (attrName && !a && node.opType.startsWith('Random')) {
        node.attribute.push(onnx.AttributeProto.create({ name: attrName, type: onnx.AttributeProto.AttributeType.INT, i: FLOAT16 }));
      }
    }
  }

  // 6. Declared types of the values that changed.
  for (const vi of [...graph.valueInfo]) {
    if (half.has(vi.name) && vi.type?.tensorType?.elemType === FLOAT) {
      graph.setValueInfo(
        onnx.ValueInfoProto.create({
          ...(vi as onnx.IValueInfoProto),
          type: { ...vi.type, tensorType: { ...vi.type.tensorType, elemType: FLOAT16 } },
        }),
      );
    }
  }
  graph.topoSort();
  graph.removeDeadNodes();

  // 7. The report: every node that reads or writes float32 tensors.
  const nodes: NodeOutcome[] = [];
  const listed = new Set<string>();
  for (const [node, reason] of kept) {
    if (node.output.some(isF32) || node.input.some(isF32))
      nodes.push({ name: labelOf(node), opType: node.opType, action: 'kept-float', reason });
  }
  for (const node of graph.nodes) {
    if (!converts(node) || kept.has(node) || !node.output.some((o) => half.has(o))) continue;
    const weights = node.input.filter((i) => weightsOf.has(i) && !listed.has(i)).map((i) => (listed.add(i), weightsOf.get(i)!));
    nodes.push({ name: labelOf(node), opType: node.opType, action: 'quantized', ...(weights.length > 0 ? { weights } : {}) });
  }
  const converted = [...weightsOf.values()];
  const notes = [
    `${converted.length} float32 initializer(s) and ${constantsConverted} Constant node(s) -> float16 (${converted.reduce((s, w) => s + w.bytes, 0) + constantBytes} bytes); inputs and outputs stay float32 (${casts} Cast node(s) inserted)`,
  ];
  const wide = [...kept].filter(([n, r]) => !measured.has(n) && r.includes("beyond float16's")).length;
  if (wide > 0)
    notes.push(
      `${wide} node(s) stay float32 because a constant they read does not fit float16, or a BatchNormalization's statistics put their output beyond it (see each node's reason)`,
    );
  if (counts.clamped > 0) notes.push(`${counts.clamped} value(s) beyond ±${FLOAT16_MAX} were clamped to the largest float16`);
  if (counts.flushed > 0) notes.push(`${counts.flushed} nonzero value(s) below float16's smallest subnormal (~6e-8) became 0`);
  if (kept.size > 0) notes.push(`${kept.size} node(s) stay float32 (block list, other domains, subgraphs, include/exclude or ranges)`);
  notes.push(
    "onnxruntime's CPU provider lacks float16 kernels for some ops and runs those in float32 behind its own Casts; float16 mainly halves the file",
  );
  const origin = graph.nodes.map((n) => index.get(n));
  return {
    result: {
      model: graph.toModel(),
      report: { dtype: 'fp16', mode: 'fp16', nodes, unhandled, clamped: counts.clamped, notes },
    },
    origin,
  };
}

/** A Graph view's lists as a GraphProto shape, without cloning its tensors. */
function partsOf(graph: Graph): onnx.IGraphProto {
  return {
    input: [...graph.inputs],
    output: [...graph.outputs],
    valueInfo: [...graph.valueInfo],
    initializer: [...graph.initializers],
    node: [...graph.nodes],
  };
}
