/**
 * Writes weight-only plans into the graph, the one place the weight-only pass edits it: each weight key
 * is quantized (by the chosen algorithm) and stored once, however many nodes read it, and each planned
 * node becomes a com.microsoft MatMulNBits writing the replaced node's output.
 */
import { float32ToFloat16, makeNode, type Graph, type onnx } from '@shrink/core';
import { zeroPointBytes, type NBits } from './ops/nbits-blocks.js';
import type { NBitsPlan, NBitsWeight } from './ops/nbits-types.js';
import { WEIGHT_QUANTIZERS } from './ops/weight-quantizers.js';
import type { ResolvedQuantizeOptions } from './options.js';
import type { NodeOutcome } from './types.js';

export const MS_DOMAIN = 'com.microsoft';

type Weights = NonNullable<NodeOutcome['weights']>;

interface Stored {
  b: string;
  scales: string;
  zeroPoints?: string;
  weights: Weights;
}

/** What placing one plan did, for the report. */
export interface PlacedNBits {
  replacedBy: string[];
  /** The node's packed weight (listed for every node that reads it) and any bias written for it. */
  weights: Weights;
}

export interface NBitsPlacer {
  place(node: onnx.NodeProto, plan: NBitsPlan): PlacedNBits;
}

export type NBitsPlaceOptions = Pick<ResolvedQuantizeOptions, 'blockSize' | 'symmetric' | 'accuracyLevel'> &
  Partial<Pick<ResolvedQuantizeOptions, 'algo'>> & { bits: NBits };

export function nbitsPlacer(graph: Graph, options: NBitsPlaceOptions): NBitsPlacer {
  const { bits } = options;
  // Options resolved before `algo` existed (saved pipeline steps, hand-built objects) mean round to nearest.
  const quantize = WEIGHT_QUANTIZERS[options.algo ?? 'rtn'];
  const stored = new Map<string, Stored>();

  /** Packed codes, scales (in the weight's float type) and zero points, once per key. */
  const store = (w: NBitsWeight): Stored => {
    const hit = stored.get(w.key);
    if (hit) return hit;
    const q = quantize(w.data, w.K, w.N, { bits, blockSize: options.blockSize, symmetric: options.symmetric, name: w.source });
    const base = w.source.replace(/[^A-Za-z0-9_.:/-]/g, '_');
    const b = graph.uniqueName(`${base}_Q${bits}`);
    const scales = graph.uniqueName(`${base}_scales`);
    graph.setInitializer(b, 'uint8', [w.N, q.nBlocks, q.blobSize], q.packed);
    if (w.floatType === 'float16') graph.setInitializer(scales, 'float16', [w.N, q.nBlocks], float32ToFloat16(q.scales));
    else graph.setInitializer(scales, 'float32', [w.N, q.nBlocks], q.scales);
    const weights: Weights = [
      { name: b, dtype: `uint8 (${bits}-bit codes)`, elements: w.K * w.N, bytes: q.packed.byteLength },
      { name: scales, dtype: w.floatType, elements: q.scales.length, bytes: q.scales.length * (w.floatType === 'float16' ? 2 : 4) },
    ];
    let zeroPoints: string | undefined;
    if (q.zeroPoints) {
      zeroPoints = graph.uniqueName(`${base}_zero_points`);
      graph.setInitializer(zeroPoints, 'uint8', [w.N, zeroPointBytes(q.nBlocks, bits)], q.zeroPoints);
      weights.push({
        name: zeroPoints,
        dtype: `uint8 (${bits}-bit zero points)`,
        elements: w.N * q.nBlocks,
        bytes: q.zeroPoints.byteLength,
      });
    }
    const s: Stored = { b, scales, ...(zeroPoints ? { zeroPoints } : {}), weights };
    stored.set(w.key, s);
    return s;
  };

  return {
    place(node, plan) {
      const w = store(plan.weight);
      const weights = [...w.weights];
      let bias: string | undefined;
      if (plan.bias && 'value' in plan.bias) bias = plan.bias.value;
      else if (plan.bias) {
        const { N, floatType } = plan.weight;
        bias = graph.uniqueName(plan.bias.base);
        if (floatType === 'float16') graph.setInitializer(bias, 'float16', [N], float32ToFloat16(plan.bias.data));
        else graph.setInitializer(bias, 'float32', [N], plan.bias.data);
        weights.push({ name: bias, dtype: floatType, elements: N, bytes: N * (floatType === 'float16' ? 2 : 4) });
      }
      // Inputs: A, B, scales, zero_points?, g_idx?, bias?; empty names stand for absent optional inputs.
      const inputs = [plan.input, w.b, w.scales];
      if (w.zeroPoints || bias) inputs.push(w.zeroPoints ?? '');
      if (bias) inputs.push('', bias);
      const q = makeNode(
        'MatMulNBits',
        inputs,
        [plan.output],
        {
          K: plan.weight.K,
          N: plan.weight.N,
          bits,
          block_size: options.blockSize,
          // 0 is the schema default; leaving it out keeps the node loadable by providers that ignore it.
          accuracy_level: options.accuracyLevel === 0 ? undefined : options.accuracyLevel,
        },
        // Named after the node's name, else its op type (not its label): the names of existing files stay.
        { name: graph.uniqueNodeName(`${node.name || node.opType}_Q${bits}`), domain: MS_DOMAIN },
      );
      graph.replaceNode(node, q);
      return { replacedBy: [q.name], weights };
    },
  };
}
