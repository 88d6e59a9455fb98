/**
 * Weight-only blockwise quantization (q4 / q4f16 / 8-bit): MatMul and Gemm with constant weights become
 * com.microsoft MatMulNBits, which onnxruntime's CPU provider runs from the packed weights directly.
 * Activations stay float; only weights shrink (4-bit: ~1/7 of float32 with block 32 scales).
 */
import { countUnhandled, Graph, isDefaultDomain, selectNodes, type onnx } from '@shrink/core';
import { convertToFloat16, type MeasuredRanges } from './fp16.js';
import { MS_DOMAIN, nbitsPlacer } from './nbits-place.js';
import { nodeOutcome } from './node-outcome.js';
import { withSubgraphs } from './subgraphs.js';
import { storedBits, type BlockwiseWeights, type GridBits } from './ops/nbits-blocks.js';
import { planGatherNBits } from './ops/nbits-gather.js';
import { planSliceNBits } from './ops/nbits-slice.js';
import { isLookup } from './lookup-nodes.js';
import { planGemmNBits, planMatMulNBits } from './ops/nbits-matmul.js';
import type { NBitsOp, NBitsView } from './ops/nbits-types.js';
import type { ResolvedQuantizeOptions } from './options.js';
import type { NodeOutcome, PassResult } from './types.js';

export type WeightOnlyOptions = Omit<ResolvedQuantizeOptions, 'bits'> & {
  /** Grid bits (3: an 8-level grid in 4-bit codes, no 3-bit kernel exists). */
  bits: GridBits;
  /** algo gptq: X^T X of each MatMul input by its name (gatherHessians); a node without one is rounded to nearest. */
  hessians?: ReadonlyMap<string, Float64Array>;
  /** GPTQ's blocks, made as each Hessian was (gptqBlocks), by weight key. */
  precomputed?: ReadonlyMap<string, BlockwiseWeights>;
  /** Mixed precision: grid bits by weight key (chooseMixedBits); a weight not listed takes `bits`. */
  bitsByWeight?: ReadonlyMap<string, GridBits>;
  /** q4f16: the rest of the model goes to float16 too (convertToFloat16), and so do scales and bias. */
  float16?: boolean;
  /** q4f16: what fp16's range check measured on the float32 model (values kept float32 past float16's range). */
  ranges?: MeasuredRanges;
};

/**
 * Op type -> handler. Only default-domain ops: a com.microsoft MatMul would be something else. Gather over a
 * constant table becomes GatherBlockQuantized (an embedding lookup), sharing a tied head's blocks.
 */
export const NBITS_OPS: ReadonlyMap<string, NBitsOp> = new Map([
  ['MatMul', planMatMulNBits],
  ['Gemm', planGemmNBits],
  ['Gather', planGatherNBits],
  ['Slice', planSliceNBits],
]);

/** MatMul/Gemm with constant 2-D weights -> MatMulNBits (bits 2, 3, 4 or 8, options.blockSize, options.symmetric, options.algo). */
export function quantizeWeightOnly(model: onnx.IModelProto, options: WeightOnlyOptions): PassResult {
  const r = withSubgraphs(model, (m) => weightOnlyGraph(m, options));
  const done = r.report.nodes.filter((n) => n.action === 'quantized');
  const lookups = done.filter((n) => isLookup(n.opType)).length;
  const quantized = done.length - lookups;
  const notes: string[] = [];
  if (lookups > 0) {
    notes.push(
      `${lookups} Gather(s) or row Slice(s) over a constant table -> com.microsoft GatherBlockQuantized (${storedBits(options.bits)}-bit, block ${options.blockSize}); ` +
        'a table also read by a MatMul head (through Transpose, or Gemm transB) is stored once and read by both',
    );
  }
  if (quantized > 0) {
    const algo = options.algo ?? 'rtn';
    const hqq = algo === 'hqq';
    notes.push(
      `${quantized} node(s) -> com.microsoft MatMulNBits (${options.bits}-bit, block ${options.blockSize}, ` +
        `${hqq ? `float zero points (hqq)` : options.symmetric ? 'symmetric' : 'with zero points'}, algo ${algo}, accuracy_level ${options.accuracyLevel})`,
    );
    if (options.bits === 3) {
      notes.push(
        '3-bit: onnxruntime 1.30 has no 3-bit MatMulNBits kernel; the 8-level grid is stored in 4-bit codes (3-bit accuracy, 4-bit size)',
      );
    }
    if (hqq && options.symmetric)
      notes.push('hqq fits a zero point per block (it is asymmetric by construction); symmetric does not apply');
    if (hqq && storedBits(options.bits) !== 8) {
      notes.push('hqq float zero points: onnxruntime CPU computes these MatMulNBits in float, not on the int8 (accuracy_level 4) path');
    }
    if (options.accuracyLevel === 4) {
      notes.push(
        'accuracy_level 4 lets onnxruntime quantize activations to int8 inside MatMulNBits (fast on CPU; adds ~0.5% relative error)',
      );
    }
  } else if (lookups === 0) {
    notes.push('no MatMul/Gemm with a constant 2-D float weight was quantized; the model is unchanged');
  }
  const dtype = `q${options.bits}${options.float16 ? 'f16' : ''}`;
  let result: PassResult = { model: r.model, report: { ...r.report, dtype, notes: [...notes, ...r.report.notes] } };
  if (options.float16) {
    // --include/--exclude chose the MatMuls above (whose nodes are renamed now); the float16 step covers the whole model.
    const half = convertToFloat16(result.model, {
      keepFloat32: options.keepFloat32,
      ...(options.ranges ? { ranges: options.ranges } : {}),
    });
    result = {
      model: half.model,
      report: {
        ...result.report,
        ...(half.report.clamped !== undefined ? { clamped: half.report.clamped } : {}),
        notes: [
          ...result.report.notes,
          'float16: the rest of the model, MatMulNBits activations, scales and bias are float16 (onnxruntime CPU runs MatMulNBits<float16>, converting to float32 inside on x86)',
          ...half.report.notes,
        ],
      },
    };
  }
  return result;
}

/** One graph's MatMul/Gemm nodes (its subgraphs are withSubgraphs' part). */
function weightOnlyGraph(model: onnx.IModelProto, options: WeightOnlyOptions): PassResult {
  const graph = Graph.from(model);
  const selector = selectNodes(graph, options);
  const unhandled = countUnhandled(graph, new Set(NBITS_OPS.keys()));
  const view: NBitsView = { graph, blockSize: options.blockSize };
  const placer = nbitsPlacer(graph, options);
  const nodes: NodeOutcome[] = [];
  // Lookups last: a table a head also reads is then stored in the head's form (with its Hessian, for GPTQ)
  // and the lookup shares it.
  const order = [...graph.nodes].sort((x, y) => Number(isLookup(x.opType)) - Number(isLookup(y.opType)));
  for (const node of order) {
    const handler = isDefaultDomain(node) ? NBITS_OPS.get(node.opType) : undefined;
    if (!handler) continue;
    const sel = selector.isSelected(node);
    if (!sel.ok) {
      nodes.push(nodeOutcome(node, 'skipped', { reason: sel.reason }));
      continue;
    }
    const d = handler(node, view);
    if (d.kind === 'skip') {
      nodes.push(nodeOutcome(node, 'skipped', { reason: d.reason }));
      continue;
    }
    const placed = placer.place(node, d.plan);
    nodes.push(nodeOutcome(node, 'quantized', { replacedBy: placed.replacedBy, weights: placed.weights }));
  }
  if (nodes.some((n) => n.action === 'quantized')) {
    if (graph.opsetVersion(MS_DOMAIN) === undefined) graph.setOpset(MS_DOMAIN, 1);
    graph.removeDeadNodes();
  }
  const notes =
    placer.withoutHessian > 0
      ? [
          `gptq: ${placer.withoutHessian} weight(s) had no calibration activations (an If/Loop body's, or none gathered) and were rounded to nearest`,
        ]
      : [];
  if (placer.lookupsRounded > 0) {
    notes.push(
      `${placer.lookupsRounded} embedding table(s) rounded to nearest for GatherBlockQuantized: ` +
        (options.algo === 'gptq'
          ? 'gptq weighs errors by the activations a MatMul reads, and a lookup reads token ids'
          : 'GatherBlockQuantized takes no float (hqq) zero points'),
    );
  }
  if (placer.lookupCopies.length > 0) {
    notes.push(
      `stored twice (the head's hqq blocks have float zero points, which GatherBlockQuantized does not read): ${placer.lookupCopies.join(', ')}`,
    );
  }
  return { model: graph.toModel(), report: { dtype: `q${options.bits}`, mode: 'weight-only', nodes, unhandled, notes } };
}
