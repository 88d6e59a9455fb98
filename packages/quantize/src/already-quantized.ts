/**
 * Models that are quantized already: QDQ pairs, QOperator ops, MatMulNBits, DynamicQuantizeLinear, and
 * 8-bit weight codes a Cast and a Mul turn back to float (q8's weight-only Conv and recurrent weights).
 * Quantizing them again would stack a second rounding on the first or skip every node, so the pass
 * refuses them in one line naming what is there, unless `requantize` asks to dequantize the weights to
 * float first (dequantizeWeights) and quantize from those. A float16 model is not quantized.
 */
import {
  attrInt,
  dtypeFromOnnx,
  float32ToFloat16,
  Graph,
  isDefaultDomain,
  makeNode,
  nodeLabel,
  ShrinkError,
  subgraphsOf,
  toFloat32,
  withSubgraphs,
  type onnx,
} from '@shrink/core';
import { foldIntegerOp } from './dequantize-integer.js';
import { dequantizeTensor } from './math/params.js';
import { dequantizeBlockwise, type NBits } from './ops/nbits-blocks.js';

/** Op types that only a quantized model holds (QuantizeLinear alone may be a model's int8 output). */
const QUANTIZED_OPS = new Set([
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'QLinearConv',
  'QLinearMatMul',
  'QLinearAdd',
  'QLinearMul',
  'QLinearGemm',
  'QGemm',
  'ConvInteger',
  'MatMulInteger',
  'MatMulNBits',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'GatherBlockQuantized',
]);

/** How quantizedOps names a weight stored as codes -> Cast -> Mul(scale): it counts the nodes reading it. */
export const CAST_MUL_WEIGHTS = 'int8 weight-only (codes -> Cast -> Mul)';

const EIGHT_BIT: ReadonlySet<string> = new Set(['int8', 'uint8']);

/**
 * Op type -> count and the first node's label, over the whole model (subgraphs too). Weights stored as
 * 8-bit codes behind a Cast and a Mul count under CAST_MUL_WEIGHTS, named by the node reading them.
 */
export function quantizedOps(model: onnx.IModelProto): Map<string, { count: number; first: string }> {
  const found = new Map<string, { count: number; first: string }>();
  const add = (op: string, label: string): void => {
    const f = found.get(op);
    if (f) f.count++;
    else found.set(op, { count: 1, first: label });
  };
  // Initializers of the enclosing graphs are visible in a body: the codes may be kept outside it.
  const walk = (g: onnx.IGraphProto, outer: ReadonlyMap<string, onnx.ITensorProto>): void => {
    const inits = new Map(outer);
    for (const t of g.initializer ?? []) inits.set(t.name ?? '', t);
    const producers = new Map<string, onnx.INodeProto>();
    const readers = new Map<string, onnx.INodeProto[]>();
    for (const n of g.node ?? []) {
      for (const o of n.output ?? []) producers.set(o, n);
      for (const i of n.input ?? []) readers.set(i, [...(readers.get(i) ?? []), n]);
    }
    for (const n of g.node ?? []) {
      const op = n.opType ?? '';
      if (QUANTIZED_OPS.has(op)) add(op, nodeLabel(n));
      else if (castMulCodes(n, producers, inits)) add(CAST_MUL_WEIGHTS, nodeLabel(weightReader(n, readers) ?? n));
      for (const s of subgraphsOf(n)) walk(s, inits);
    }
  };
  walk(model.graph ?? {}, new Map());
  return found;
}

/** Whether `mul` is Mul(Cast(8-bit initializer), float initializer): a weight stored as codes and a scale. */
function castMulCodes(
  mul: onnx.INodeProto,
  producers: ReadonlyMap<string, onnx.INodeProto>,
  inits: ReadonlyMap<string, onnx.ITensorProto>,
): boolean {
  if (mul.opType !== 'Mul' || !isDefaultDomain(mul) || mul.input?.length !== 2) return false;
  const dtype = (name: string | undefined) => {
    const t = name !== undefined ? inits.get(name) : undefined;
    return t ? dtypeFromOnnx(t.dataType ?? 0) : undefined;
  };
  return mul.input.some((x, i) => {
    const cast = producers.get(x);
    const scale = dtype(mul.input![1 - i]);
    return (
      cast?.opType === 'Cast' &&
      isDefaultDomain(cast) &&
      EIGHT_BIT.has(dtype(cast.input?.[0]) ?? '') &&
      (scale === 'float32' || scale === 'float16')
    );
  });
}

/** The node a dequantized weight feeds (past a Cast to float16), for naming it. */
function weightReader(mul: onnx.INodeProto, readers: ReadonlyMap<string, onnx.INodeProto[]>): onnx.INodeProto | undefined {
  let r = readers.get(mul.output?.[0] ?? '')?.[0];
  if (r?.opType === 'Cast') r = readers.get(r.output?.[0] ?? '')?.[0] ?? r;
  return r;
}

/** Refuses an already-quantized model in one line (most frequent ops first), unless `requantize`. */
export function refuseQuantized(model: onnx.IModelProto, requantize: boolean): void {
  if (requantize) return;
  const found = [...quantizedOps(model)].sort((a, b) => b[1].count - a[1].count);
  if (found.length === 0) return;
  const list = found.map(([op, f]) => `${f.count} ${op}`).join(', ');
  throw new ShrinkError(
    'UNSUPPORTED_MODEL',
    `model is already quantized: ${list} node(s) (e.g. node '${found[0]![1].first}'); requantize dequantizes its weights to float and quantizes again`,
    { option: 'requantize' },
  );
}

interface Dequantized {
  model: onnx.ModelProto;
  weights: number;
  pairs: number;
  nbits: number;
  castMul: number;
  integer: number;
}

/**
 * The model with its stored weights back in float32: DequantizeLinear of constant codes becomes the
 * float constant, a QuantizeLinear -> DequantizeLinear pair on an activation goes (the value passes
 * through), MatMulNBits becomes MatMul (+ Add of its bias) with the dequantized weight, codes -> Cast ->
 * Mul(scale) becomes the float weight (float16 where a Cast to float16 followed). Bodies of If/Loop/Scan
 * too. Other quantized ops (QLinear*, *Integer, DynamicQuantizeLinear) are refused by name: their float
 * form is a graph rewrite of its own.
 */
export function dequantizeWeights(model: onnx.IModelProto): { model: onnx.ModelProto; notes: string[] } {
  const total = { weights: 0, pairs: 0, nbits: 0, castMul: 0, integer: 0 };
  const count = (d: Dequantized): void => {
    for (const k of ['weights', 'pairs', 'nbits', 'castMul', 'integer'] as const) total[k] += d[k];
  };
  const r = withSubgraphs(model, dequantizeGraph, count);
  count(r);
  const left = quantizedOps(r.model);
  if (left.size > 0) {
    const [op, f] = [...left][0]!;
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `requantize dequantizes DequantizeLinear weights, QDQ pairs, MatMulNBits, dynamic MatMulInteger/ConvInteger and Cast+Mul weight codes; ${op} (e.g. node '${f.first}') has no float form here yet: quantize the float model instead`,
      { option: 'requantize' },
    );
  }
  const done = [
    [total.weights, 'weight(s) dequantized from DequantizeLinear'],
    [total.pairs, 'activation QDQ pair(s) removed'],
    [total.nbits, 'MatMulNBits back to MatMul'],
    [total.castMul, 'Cast+Mul weight code(s) back to float'],
    [total.integer, 'dynamic MatMulInteger/ConvInteger back to MatMul/Conv'],
  ] as const;
  const said = done.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  return {
    model: r.model,
    notes: [`requantize: ${said.join(', ')}; quantized again from those floats (the first rounding stays in them)`],
  };
}

/** One graph's stored weights back in float (its bodies are withSubgraphs' part). */
function dequantizeGraph(model: onnx.IModelProto): Dequantized {
  const graph = Graph.from(model);
  let weights = 0;
  let pairs = 0;
  let nbits = 0;
  let castMul = 0;
  let integer = 0;
  for (const node of [...graph.nodes]) {
    const op = node.opType;
    if (foldIntegerOp(graph, node)) {
      integer++;
      continue;
    }
    if (op === 'Mul' && isDefaultDomain(node) && foldCastMul(graph, node)) {
      castMul++;
      continue;
    }
    if (op === 'DequantizeLinear' && isDefaultDomain(node)) {
      const [x, s, z] = node.input;
      const codes = x ? graph.constantValue(x) : undefined;
      const scale = s ? graph.constantValue(s) : undefined;
      if (codes && scale) {
        const zp = z ? graph.constantValue(z) : undefined;
        const axis = scale.dims.length === 0 || scale.data.length === 1 ? undefined : attrInt(node, 'axis', 1);
        const sc = toFloat32(scale);
        const zeros = zp ? Array.from(zp.data as ArrayLike<number>, Number) : new Array<number>(sc.length).fill(0);
        const q = codes.data as Int8Array | Uint8Array;
        const data = dequantizeTensor(q, codes.dims, sc, zeros, axis);
        const out = node.output[0]!;
        graph.removeNode(node);
        graph.setInitializer(out, 'float32', codes.dims, data);
        weights++;
        continue;
      }
      const q = x ? graph.producer(x) : undefined;
      if (q && q.opType === 'QuantizeLinear' && isDefaultDomain(q) && q.input[0]) {
        graph.replaceAllUses(node.output[0]!, q.input[0], { graphOutputs: true });
        graph.removeNode(node);
        pairs++;
        continue;
      }
    }
    if (op === 'MatMulNBits' && node.domain === 'com.microsoft') {
      const [a, b, s, zp, gIdx, bias] = node.input;
      const packed = b ? graph.constantValue(b) : undefined;
      const scales = s ? graph.constantValue(s) : undefined;
      const zeroPoints = zp ? graph.constantValue(zp) : undefined;
      if (packed && scales && !gIdx && (!zp || zeroPoints?.dtype === 'uint8')) {
        const K = attrInt(node, 'K', 0);
        const N = attrInt(node, 'N', 0);
        const bits = attrInt(node, 'bits', 4) as NBits;
        const blockSize = attrInt(node, 'block_size', 32);
        const nBlocks = Math.ceil(K / blockSize);
        const w = dequantizeBlockwise({
          bits,
          blockSize,
          K,
          N,
          nBlocks,
          blobSize: (blockSize * bits) / 8,
          packed: packed.data as Uint8Array,
          scales: toFloat32(scales),
          ...(zeroPoints ? { zeroPoints: zeroPoints.data as Uint8Array } : {}),
        });
        const wName = graph.uniqueName(`${b}_dequantized`);
        graph.setInitializer(wName, 'float32', [K, N], w);
        const out = node.output[0]!;
        const mmOut = bias ? graph.uniqueName(`${out}_matmul`) : out;
        const nodes = [makeNode('MatMul', [a!, wName], [mmOut], {}, { name: graph.uniqueNodeName(`${node.name || 'MatMul'}_float`) })];
        if (bias) nodes.push(makeNode('Add', [mmOut, bias], [out], {}, { name: graph.uniqueNodeName(`${node.name || 'MatMul'}_bias`) }));
        graph.replaceNode(node, nodes);
        nbits++;
        continue;
      }
    }
  }
  graph.removeDeadNodes();
  return { model: graph.toModel(), weights, pairs, nbits, castMul, integer };
}

/**
 * Mul(Cast(codes), scale) with constant 8-bit codes and a float scale broadcast over them becomes the
 * float initializer it computes; a Cast to float16 that alone reads it is folded too (the weight stays
 * float16, as the Conv computing in float16 had it). False when `mul` is not that.
 */
function foldCastMul(graph: Graph, mul: onnx.NodeProto): boolean {
  if (mul.input.length !== 2) return false;
  const at = mul.input.findIndex((x) => {
    const c = graph.producer(x);
    const codes = c?.opType === 'Cast' && isDefaultDomain(c) && c.input[0] ? graph.constantValue(c.input[0]) : undefined;
    return codes !== undefined && EIGHT_BIT.has(codes.dtype);
  });
  if (at < 0) return false;
  const codes = graph.constantValue(graph.producer(mul.input[at]!)!.input[0]!)!;
  const scale = graph.constantValue(mul.input[1 - at]!);
  if (!scale || (scale.dtype !== 'float32' && scale.dtype !== 'float16')) return false;
  const data = scaledCodes(codes.data as Int8Array | Uint8Array, codes.dims, toFloat32(scale), scale.dims);
  if (!data) return false;
  const out = mul.output[0]!;
  const readers = graph.consumers(out);
  const half = readers.length === 1 && readers[0]!.opType === 'Cast' && attrInt(readers[0]!, 'to', 0) === 10 && !graph.isGraphOutput(out);
  graph.removeNode(mul);
  if (half) {
    const cast = readers[0]!;
    graph.removeNode(cast);
    graph.setInitializer(cast.output[0]!, 'float16', codes.dims, float32ToFloat16(data));
  } else if (scale.dtype === 'float16') {
    // Mul writes its inputs' type: a float16 scale (codes cast to float16) made a float16 weight.
    graph.setInitializer(out, 'float16', codes.dims, float32ToFloat16(data));
  } else graph.setInitializer(out, 'float32', codes.dims, data);
  return true;
}

/** codes * scale, the scale broadcast (numpy rules) over the codes' dims; undefined when it does not broadcast to them. */
function scaledCodes(
  codes: ArrayLike<number>,
  dims: readonly number[],
  scale: Float32Array,
  sDims: readonly number[],
): Float32Array | undefined {
  if (sDims.length > dims.length) return undefined;
  const pad = dims.length - sDims.length;
  const sd = dims.map((d, i) => (i < pad ? 1 : sDims[i - pad]!));
  if (sd.some((d, i) => d !== 1 && d !== dims[i])) return undefined;
  // Strides of the scale over the codes' index space (0 where it broadcasts).
  const strides = new Array<number>(dims.length).fill(0);
  for (let i = dims.length - 1, s = 1; i >= 0; i--) {
    if (sd[i] !== 1) strides[i] = s;
    s *= sd[i]!;
  }
  const out = new Float32Array(codes.length);
  const idx = new Array<number>(dims.length).fill(0);
  for (let k = 0; k < codes.length; k++) {
    let j = 0;
    for (let i = 0; i < dims.length; i++) j += idx[i]! * strides[i]!;
    out[k] = codes[k]! * scale[j]!;
    for (let i = dims.length - 1; i >= 0; i--) {
      if (++idx[i]! < dims[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}
