/**
 * Models that are quantized already: QDQ pairs, QOperator ops, MatMulNBits, DynamicQuantizeLinear.
 * Quantizing them again would stack a second rounding on the first or skip every node, so the pass
 * refuses them in one line naming what is there, unless `requantize` asks to dequantize the weights to
 * float first (dequantizeWeights) and quantize from those. A float16 model is not quantized.
 */
import { attrInt, Graph, isDefaultDomain, makeNode, nodeLabel, ShrinkError, subgraphsOf, toFloat32, type onnx } from '@shrink/core';
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

/** Op type -> count and the first node's label, over the whole model (subgraphs too). */
export function quantizedOps(model: onnx.IModelProto): Map<string, { count: number; first: string }> {
  const found = new Map<string, { count: number; first: string }>();
  const walk = (g: onnx.IGraphProto): void => {
    for (const n of g.node ?? []) {
      const op = n.opType ?? '';
      if (QUANTIZED_OPS.has(op)) {
        const f = found.get(op);
        if (f) f.count++;
        else found.set(op, { count: 1, first: nodeLabel(n) });
      }
      for (const s of subgraphsOf(n)) walk(s);
    }
  };
  walk(model.graph ?? {});
  return found;
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

/**
 * The model with its stored weights back in float32: DequantizeLinear of constant codes becomes the
 * float constant, a QuantizeLinear -> DequantizeLinear pair on an activation goes (the value passes
 * through), MatMulNBits becomes MatMul (+ Add of its bias) with the dequantized weight. Other quantized
 * ops (QLinear*, *Integer, DynamicQuantizeLinear) are refused by name: their float form is a graph
 * rewrite of its own.
 */
export function dequantizeWeights(model: onnx.IModelProto): { model: onnx.ModelProto; notes: string[] } {
  const graph = Graph.from(model);
  let weights = 0;
  let pairs = 0;
  let nbits = 0;
  for (const node of [...graph.nodes]) {
    const op = node.opType;
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
  const left = quantizedOps(graph.toModel());
  if (left.size > 0) {
    const [op, f] = [...left][0]!;
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `requantize dequantizes DequantizeLinear weights, QDQ pairs and MatMulNBits; ${op} (e.g. node '${f.first}') has no float form here yet: quantize the float model instead`,
      { option: 'requantize' },
    );
  }
  const notes = [
    `requantize: ${weights} weight(s) dequantized from DequantizeLinear, ${pairs} activation QDQ pair(s) removed, ${nbits} MatMulNBits back to MatMul; quantized again from those floats (the first rounding stays in them)`,
  ];
  return { model: graph.toModel(), notes };
}
