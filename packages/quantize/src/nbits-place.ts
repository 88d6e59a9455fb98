/**
 * Writes weight-only plans into the graph, the one place the weight-only pass edits it: each weight key
 * is quantized (by the chosen algorithm) and stored once, however many nodes read it, and each planned
 * node becomes a com.microsoft MatMulNBits (or, for a lookup, GatherBlockQuantized) writing the replaced
 * node's output. A table read by a head and a lookup is one packed tensor (see ops/nbits-gather.ts).
 */
import { float32ToFloat16, makeNode, type Graph, type onnx } from '@shrink/core';
import { storedBits, zeroPointBytes, type BlockwiseWeights, type GridBits } from './ops/nbits-blocks.js';
import type { NBitsBias, NBitsPlan, NBitsWeight } from './ops/nbits-types.js';
import { MS_DOMAIN } from './lookup-nodes.js';
import { lookupPlacer } from './lookup-placer.js';
import { lookupAlgo, WEIGHT_QUANTIZERS, type WeightQuantizer } from './ops/weight-quantizers.js';
import type { ResolvedQuantizeOptions } from './options.js';
import type { NodeOutcome } from './types.js';

export { MS_DOMAIN } from './lookup-nodes.js';

type Weights = NonNullable<NodeOutcome['weights']>;

interface Stored {
  b: string;
  scales: string;
  zeroPoints?: string;
  weights: Weights;
  /** HQQ's: MatMulNBits takes them, GatherBlockQuantized does not. */
  floatZeroPoints: boolean;
}

/** What placing one plan did, for the report. */
export interface PlacedNBits {
  replacedBy: string[];
  /** The node's packed weight (listed for every node that reads it) and any bias written for it. */
  weights: Weights;
}

export interface NBitsPlacer {
  place(node: onnx.NodeProto, plan: NBitsPlan): PlacedNBits;
  /** Weights GPTQ had no Hessian for (rounded to nearest instead), for the report. */
  readonly withoutHessian: number;
  /** Lookup tables rounded to nearest although the algorithm is not rtn (no activations; no float zero points). */
  readonly lookupsRounded: number;
  /** Tables stored twice: a head's HQQ blocks (float zero points) and the lookup's own. */
  readonly lookupCopies: readonly string[];
}

export type NBitsPlaceOptions = Pick<ResolvedQuantizeOptions, 'blockSize' | 'symmetric' | 'accuracyLevel'> &
  Partial<Pick<ResolvedQuantizeOptions, 'algo'>> & {
    /** Grid bits: 3 is stored in 4-bit codes. */
    bits: GridBits;
    /** GPTQ: X^T X of each MatMul input, by the input's name (gptq-hessians.ts). */
    hessians?: ReadonlyMap<string, Float64Array>;
    /** GPTQ's blocks made as the Hessians were (gptqBlocks), by weight key: written as they are. */
    precomputed?: ReadonlyMap<string, BlockwiseWeights>;
    /** Mixed precision: grid bits by weight key (mixed/mixed-precision.ts); a key not listed takes `bits`. */
    bitsByWeight?: ReadonlyMap<string, GridBits>;
  };

export function nbitsPlacer(graph: Graph, options: NBitsPlaceOptions): NBitsPlacer {
  const gridOf = (w: NBitsWeight): GridBits => options.bitsByWeight?.get(w.key) ?? options.bits;
  const storedOf = (w: NBitsWeight) => storedBits(gridOf(w));
  // Options resolved before `algo` existed (saved pipeline steps, hand-built objects) mean round to nearest.
  const algo = options.algo ?? 'rtn';
  const quantize: WeightQuantizer = WEIGHT_QUANTIZERS[algo];
  const stored = new Map<string, Stored>();
  let withoutHessian = 0;

  /**
   * Writes packed codes, scales (in the weight's float type) and zero points under `key`. `lookupOnly`:
   * only a GatherBlockQuantized reads them, so the codes are stored in its 2-D shape [N, K * bits / 8].
   */
  const write = (w: NBitsWeight, key: string, q: BlockwiseWeights, lookupOnly: boolean): Stored => {
    const bits = storedOf(w);
    const grid = gridOf(w);
    const base = w.source.replace(/[^A-Za-z0-9_.:/-]/g, '_');
    const b = graph.uniqueName(`${base}_Q${bits}`);
    const scales = graph.uniqueName(`${base}_scales`);
    if (lookupOnly) graph.setInitializer(b, 'uint8', [w.N, (w.K * bits) / 8], q.packed);
    else graph.setInitializer(b, 'uint8', [w.N, q.nBlocks, q.blobSize], q.packed);
    if (w.floatType === 'float16') graph.setInitializer(scales, 'float16', [w.N, q.nBlocks], float32ToFloat16(q.scales));
    else graph.setInitializer(scales, 'float32', [w.N, q.nBlocks], q.scales);
    const weights: Weights = [
      {
        name: b,
        dtype: `uint8 (${bits}-bit codes${grid !== bits ? ` of a ${grid}-bit grid` : ''})`,
        elements: w.K * w.N,
        bytes: q.packed.byteLength,
      },
      { name: scales, dtype: w.floatType, elements: q.scales.length, bytes: q.scales.length * (w.floatType === 'float16' ? 2 : 4) },
    ];
    let zeroPoints: string | undefined;
    if (q.zeroPoints instanceof Float32Array) {
      // HQQ's float zero points: MatMulNBits wants them in the scales' type.
      zeroPoints = graph.uniqueName(`${base}_zero_points`);
      const half = w.floatType === 'float16';
      if (half) graph.setInitializer(zeroPoints, 'float16', [w.N, q.nBlocks], float32ToFloat16(q.zeroPoints));
      else graph.setInitializer(zeroPoints, 'float32', [w.N, q.nBlocks], q.zeroPoints);
      weights.push({ name: zeroPoints, dtype: w.floatType, elements: q.zeroPoints.length, bytes: q.zeroPoints.length * (half ? 2 : 4) });
    } else if (q.zeroPoints) {
      zeroPoints = graph.uniqueName(`${base}_zero_points`);
      graph.setInitializer(zeroPoints, 'uint8', [w.N, zeroPointBytes(q.nBlocks, bits)], q.zeroPoints);
      weights.push({
        name: zeroPoints,
        dtype: `uint8 (${bits}-bit zero points)`,
        elements: w.N * q.nBlocks,
        bytes: q.zeroPoints.byteLength,
      });
    }
    const s: Stored = {
      b,
      scales,
      ...(zeroPoints ? { zeroPoints } : {}),
      weights,
      floatZeroPoints: q.zeroPoints instanceof Float32Array,
    };
    stored.set(key, s);
    return s;
  };

  /** Once per key, by the chosen algorithm. A weight read by several nodes takes the Hessian of the first one's input. */
  const store = (w: NBitsWeight, input: string): Stored => {
    const hit = stored.get(w.key);
    if (hit) return hit;
    const pre = options.precomputed?.get(w.key);
    if (pre) return write(w, w.key, pre, false);
    const h = options.hessians?.get(input);
    const hessian = h && h.length === w.K * w.K ? h : undefined;
    if (algo === 'gptq' && !hessian) withoutHessian++;
    const q = quantize(w.data, w.K, w.N, blockOptions(w), hessian ? { hessian } : {});
    return write(w, w.key, q, false);
  };

  const blockOptions = (w: NBitsWeight) => ({
    bits: gridOf(w),
    blockSize: options.blockSize,
    symmetric: options.symmetric,
    name: w.source,
  });

  /** Lookups' tables and nodes, decided as the streamed planner decides them (lookup-placer.ts). */
  const lookups = lookupPlacer(graph, {
    stored,
    table: (s: Stored) => s,
    // Rounded to nearest: GPTQ's activations and HQQ's float zero points are nothing a lookup has or reads.
    writeOwn: (w: NBitsWeight, key) => write(w, key, WEIGHT_QUANTIZERS[lookupAlgo(algo)](w.data, w.K, w.N, blockOptions(w)), true),
    rounds: lookupAlgo(algo) !== algo,
    blockSize: options.blockSize,
    bits: storedOf,
    floatType: (w) => w.floatType,
  });

  return {
    get withoutHessian() {
      return withoutHessian;
    },
    get lookupsRounded() {
      return lookups.lookupsRounded;
    },
    lookupCopies: lookups.lookupCopies,
    place(node, plan) {
      if (plan.lookup) return lookups.place(node, plan.weight, plan.input, plan.rows);
      const w = store(plan.weight, plan.input);
      const weights = [...w.weights];
      const bias = plan.bias ? placeBias(graph, plan.bias, plan.weight.N, plan.weight.floatType, weights) : undefined;
      const q = matMulNBitsNode(graph, node, {
        input: plan.input,
        output: plan.output,
        b: w.b,
        scales: w.scales,
        ...(w.zeroPoints ? { zeroPoints: w.zeroPoints } : {}),
        ...(bias ? { bias } : {}),
        K: plan.weight.K,
        N: plan.weight.N,
        bits: storedOf(plan.weight),
        options,
      });
      graph.replaceNode(node, q);
      return { replacedBy: [q.name], weights };
    },
  };
}

/** What a MatMulNBits node reads and how it is shaped. */
export interface MatMulNBitsParts {
  input: string;
  output: string;
  b: string;
  scales: string;
  zeroPoints?: string;
  bias?: string;
  K: number;
  N: number;
  bits: number;
  options: Pick<ResolvedQuantizeOptions, 'blockSize' | 'accuracyLevel'>;
}

/**
 * MatMulNBits' bias input: a tensor already in the graph by name, or the folded Add's values stored under a
 * new name in the scales' type (listed in `rows` for the report). Both q4 paths place it so.
 */
export function placeBias(
  graph: Graph,
  bias: NBitsBias,
  N: number,
  floatType: 'float32' | 'float16',
  rows: NonNullable<NodeOutcome['weights']>,
): string {
  if ('value' in bias) return bias.value;
  const name = graph.uniqueName(bias.base);
  if (floatType === 'float16') graph.setInitializer(name, 'float16', [N], float32ToFloat16(bias.data));
  else graph.setInitializer(name, 'float32', [N], bias.data);
  rows.push({ name, dtype: floatType, elements: N, bytes: N * (floatType === 'float16' ? 2 : 4) });
  return name;
}

/** The com.microsoft MatMulNBits node replacing `node` (the in-memory and the streamed q4 write the same). */
export function matMulNBitsNode(graph: Graph, node: onnx.NodeProto, p: MatMulNBitsParts): onnx.NodeProto {
  // Inputs: A, B, scales, zero_points?, g_idx?, bias?; empty names stand for absent optional inputs.
  const inputs = [p.input, p.b, p.scales];
  if (p.zeroPoints || p.bias) inputs.push(p.zeroPoints ?? '');
  if (p.bias) inputs.push('', p.bias);
  return makeNode(
    'MatMulNBits',
    inputs,
    [p.output],
    {
      K: p.K,
      N: p.N,
      bits: p.bits,
      block_size: p.options.blockSize,
      // 0 is the schema default; leaving it out keeps the node loadable by providers that ignore it.
      accuracy_level: p.options.accuracyLevel === 0 ? undefined : p.options.accuracyLevel,
    },
    // Named after the node's name, else its op type (not its label): the names of existing files stay.
    { name: graph.uniqueNodeName(`${node.name || node.opType}_Q${p.bits}`), domain: MS_DOMAIN },
  );
}
