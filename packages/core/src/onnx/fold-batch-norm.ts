/**
 * Inference-mode BatchNormalization folded into the Conv (or ConvTranspose) that writes its input:
 * W' = W * s, b' = (b - mean) * s + beta with s = scale / sqrt(var + epsilon) per output channel.
 * onnxruntime fuses the two at load, but the file still stores the BN's four vectors and a quantizer
 * sees them as one more float node per Conv; exporters such as paddle2onnx keep every BN.
 *
 * A fold rewrites only what belongs to the pair: the Conv's weight and bias get new tensors under fresh
 * names (a weight another node reads is never touched, and such a Conv is not folded), the Conv writes
 * the BN's output name so readers and graph outputs see the same name, and the old constants go only
 * when nothing else reads them.
 */
import { constantTensor } from './constant-tensor.js';
import { isDefaultDomain } from './domain.js';
import { attrFloat, attrInt, Graph } from './graph.js';
import { nodeLabel } from './node-label.js';
import type { onnx } from './proto.js';
import { float32ToFloat16, tensorNumel, toFloat32, type TensorValue } from './tensor.js';
import { withSubgraphs } from './with-subgraphs.js';

/** One BatchNormalization folded into the node before it. */
export interface BatchNormFolded {
  /** Labels (name, else first output) of the BN that went and of the Conv that now writes its output. */
  readonly batchNorm: string;
  readonly conv: string;
  /** '' in the main graph, else the body's path ('If_0/then_branch/'). */
  readonly where: string;
}

/** One BatchNormalization left as it is, and why. */
export interface BatchNormKept {
  readonly batchNorm: string;
  readonly reason: string;
  readonly where: string;
}

export interface FoldBatchNormsResult {
  /** A new model; the input is never mutated. */
  model: onnx.ModelProto;
  folded: number;
  foldedNodes: BatchNormFolded[];
  kept: BatchNormKept[];
}

// Weight types whose values are rewritten here; others (bfloat16, float64) are left alone.
const WEIGHT_TYPES = new Set(['float32', 'float16']);

interface Plan {
  bn: onnx.NodeProto;
  conv: onnx.NodeProto;
  weight: TensorValue;
  bias: TensorValue | undefined;
  /** Output channel of each weight element. */
  channelOf: (i: number) => number;
  scale: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

type Decision = { plan: Plan } | { kept: string };

/** The BN's own attributes and outputs allow a fold (inference mode, one output, per-channel). */
function batchNormMode(bn: onnx.NodeProto, opset: number): string | undefined {
  if (!bn.output[0]) return 'it writes no output';
  if (bn.output.slice(1).some((o) => o !== '')) return 'it writes its running or saved mean/variance (training mode)';
  if (opset >= 14 && attrInt(bn, 'training_mode', 0) !== 0) return 'training_mode is 1';
  // Before opset 7 is_test defaults to 0, which asks for batch statistics.
  if (opset < 7 && attrInt(bn, 'is_test', 0) === 0) return 'is_test is 0 (training mode)';
  if (opset < 9 && attrInt(bn, 'spatial', 1) !== 1) return 'spatial is 0 (per-element statistics)';
  return undefined;
}

/** A constant the fold may read: an initializer or Constant node, not a graph input a feed may override. */
function constantInput(graph: Graph, name: string | undefined): TensorValue | undefined {
  if (!name || graph.isGraphInput(name)) return undefined;
  return graph.constantValue(name);
}

function planFold(graph: Graph, bn: onnx.NodeProto, opset: number): Decision {
  const mode = batchNormMode(bn, opset);
  if (mode) return { kept: mode };
  const x = bn.input[0] ?? '';
  const conv = graph.producer(x);
  if (!conv) return { kept: `its input '${x}' is a graph input or initializer, not a Conv output` };
  if (!isDefaultDomain(conv) || (conv.opType !== 'Conv' && conv.opType !== 'ConvTranspose')) {
    return { kept: `its input is written by ${nodeLabel(conv)} (${conv.opType}), not a Conv` };
  }
  if (graph.isGraphOutput(x)) return { kept: `the Conv's output '${x}' is also a graph output` };
  if (graph.consumers(x).length !== 1) return { kept: `the Conv's output '${x}' is read by ${graph.consumers(x).length} nodes` };
  const params = bn.input.slice(1, 5).map((n) => constantInput(graph, n));
  if (params.length !== 4 || params.some((p) => !p)) return { kept: 'its scale, bias, mean or variance is computed at run time' };
  const w = conv.input[1] ?? '';
  const weight = constantInput(graph, w);
  if (!weight) return { kept: `the Conv's weight '${w}' is computed at run time` };
  if (graph.consumers(w).length !== 1 || graph.isGraphOutput(w)) return { kept: `the Conv's weight '${w}' is read by other nodes too` };
  if (!WEIGHT_TYPES.has(weight.dtype)) return { kept: `the Conv's weight is ${weight.dtype} (folds float32 and float16)` };
  const b = conv.input[2];
  const bias = b ? constantInput(graph, b) : undefined;
  if (b && !bias) return { kept: `the Conv's bias '${b}' is computed at run time` };
  if (bias && bias.dtype !== weight.dtype) return { kept: `the Conv's bias is ${bias.dtype}, its weight ${weight.dtype}` };
  if (params.some((p) => p!.dtype === 'string' || p!.dtype === 'bool')) return { kept: 'its parameters are not numbers' };
  const layout = channelLayout(conv, weight.dims);
  if ('kept' in layout) return layout;
  const channels = layout.channels;
  const [scale, beta, mean, variance] = params.map((p) => toFloat32(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  if ([scale, beta, mean, variance].some((p) => p.length !== channels)) {
    return { kept: `its parameters do not hold one value per each of the Conv's ${channels} output channels` };
  }
  if (bias && bias.data.length !== channels) return { kept: `the Conv's bias holds ${bias.data.length} values for ${channels} channels` };
  return {
    plan: { bn, conv, weight, bias, channelOf: layout.channelOf, scale, beta, mean, variance, epsilon: attrFloat(bn, 'epsilon', 1e-5) },
  };
}

/**
 * Output channels and the output channel of each weight element. Conv's weight is [M, C/group, k...]
 * (channel = axis 0); ConvTranspose's is [C, M/group, k...], so element [c, j, ...] feeds output
 * channel (c's group) * M/group + j.
 */
function channelLayout(
  conv: onnx.NodeProto,
  dims: readonly number[],
): { channels: number; channelOf: (i: number) => number } | { kept: string } {
  if (dims.length < 3) return { kept: `the ${conv.opType}'s weight has rank ${dims.length}` };
  const inner = tensorNumel(dims.slice(2));
  if (conv.opType === 'Conv') {
    const per = dims[1]! * inner;
    return { channels: dims[0]!, channelOf: (i) => Math.floor(i / per) };
  }
  const group = attrInt(conv, 'group', 1);
  const [cin, perGroup] = [dims[0]!, dims[1]!];
  if (group < 1 || cin % group !== 0) return { kept: `the ConvTranspose's group ${group} does not divide its ${cin} input channels` };
  const inPerGroup = cin / group;
  return {
    channels: perGroup * group,
    channelOf: (i) => {
      const c = Math.floor(i / (perGroup * inner));
      const j = Math.floor(i / inner) % perGroup;
      return Math.floor(c / inPerGroup) * perGroup + j;
    },
  };
}

/** The new weight and bias values, or why they cannot be made (a variance + epsilon at or below 0). */
function foldedValues(p: Plan): { weight: Float32Array; bias: Float32Array } | { kept: string } {
  const channels = p.scale.length;
  const s = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    s[c] = p.scale[c]! / Math.sqrt(p.variance[c]! + p.epsilon);
    if (!Number.isFinite(s[c]!)) return { kept: `channel ${c}: variance + epsilon is ${p.variance[c]! + p.epsilon}` };
  }
  const w = toFloat32(p.weight);
  const weight = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) weight[i] = w[i]! * s[p.channelOf(i)]!;
  const b = p.bias ? toFloat32(p.bias) : undefined;
  const bias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) bias[c] = ((b?.[c] ?? 0) - p.mean[c]!) * s[c]! + p.beta[c]!;
  return { weight, bias };
}

/** Removes the initializer or Constant node behind `name` once nothing reads it. */
function dropIfUnread(graph: Graph, name: string | undefined): void {
  if (!name || graph.consumers(name).length > 0 || graph.isGraphOutput(name) || graph.isGraphInput(name)) return;
  if (graph.isInitializer(name)) {
    graph.removeInitializer(name);
    return;
  }
  const p = graph.producer(name);
  if (p && constantTensor(p) && p.output.length === 1) graph.removeNode(p);
}

function apply(graph: Graph, p: Plan, values: { weight: Float32Array; bias: Float32Array }): void {
  const dtype = p.weight.dtype;
  const encode = (v: Float32Array) => (dtype === 'float16' ? float32ToFloat16(v) : v);
  const [x, w, b] = [p.conv.input[0] ?? '', p.conv.input[1]!, p.conv.input[2]];
  const newW = graph.uniqueName(`${w}_bnfold`);
  const newB = graph.uniqueName(`${b || w}_bnfold_bias`);
  graph.setInitializer(newW, dtype, p.weight.dims, encode(values.weight), { copy: false });
  graph.setInitializer(newB, dtype, [values.bias.length], encode(values.bias), { copy: false });
  const y = p.bn.output[0]!;
  const old = [w, b, ...p.bn.input.slice(1, 5)];
  graph.removeNode(p.bn);
  graph.editNode(p.conv, (n) => {
    n.input = [x, newW, newB];
    n.output = [y];
  });
  for (const name of old) dropIfUnread(graph, name);
}

/**
 * Folds every BatchNormalization of `graph`'s own nodes that can be folded, editing `graph` in place
 * (subgraph bodies are not visited: `foldBatchNorms` does those). Value_info of the Conv outputs that
 * went stays until dead values are swept.
 */
export function foldBatchNormsInGraph(graph: Graph, where = ''): { folded: BatchNormFolded[]; kept: BatchNormKept[] } {
  const opset = graph.opsetVersion('') ?? 1;
  const folded: BatchNormFolded[] = [];
  const kept: BatchNormKept[] = [];
  for (const bn of [...graph.nodes]) {
    if (!isDefaultDomain(bn) || bn.opType !== 'BatchNormalization') continue;
    const label = nodeLabel(bn);
    const d = planFold(graph, bn, opset);
    const values = 'plan' in d ? foldedValues(d.plan) : d;
    if ('kept' in values || !('plan' in d)) {
      kept.push({ batchNorm: label, reason: 'kept' in values ? values.kept : '', where });
      continue;
    }
    const conv = nodeLabel(d.plan.conv);
    apply(graph, d.plan, values);
    folded.push({ batchNorm: label, conv, where });
  }
  return { folded, kept };
}

/**
 * `model` with every foldable BatchNormalization folded into the Conv before it, in the main graph and
 * in If/Loop/Scan bodies; never mutates `model`. `kept` says why each other BatchNormalization stays.
 */
export function foldBatchNorms(model: onnx.IModelProto): FoldBatchNormsResult {
  const foldedNodes: BatchNormFolded[] = [];
  const kept: BatchNormKept[] = [];
  const pass = (m: onnx.IModelProto) => {
    const graph = Graph.from(m);
    const before = new Set(graph.nodes.flatMap((n) => n.output));
    const r = foldBatchNormsInGraph(graph);
    const out = graph.toModel();
    // The folded Convs' old output names are gone; their value_info would describe nothing.
    const g = out.graph!;
    const now = new Set((g.node ?? []).flatMap((n) => n.output ?? []));
    g.valueInfo = (g.valueInfo ?? []).filter((v) => !before.has(v.name ?? '') || now.has(v.name ?? ''));
    return { model: out, ...r };
  };
  const top = withSubgraphs(model, pass, (body, scope) => {
    foldedNodes.push(...body.folded.map((f) => ({ ...f, where: scope.where })));
    kept.push(...body.kept.map((k) => ({ ...k, where: scope.where })));
  });
  foldedNodes.unshift(...top.folded);
  kept.unshift(...top.kept);
  return { model: top.model, folded: foldedNodes.length, foldedNodes, kept };
}
