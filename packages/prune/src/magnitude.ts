import { Graph, hasSubgraphs, ShrinkError, type onnx, countUnhandled, selectNodes } from '@shrink/core';
import type { ResolvedPruneOptions } from './options.js';
import type { LayerOutcome, PruneResult } from './types.js';
import { pruneWithSubgraphs } from './subgraphs.js';
import { collectTargets, countZeros, HANDLED_OPS, writeBack, type PrunableTensor, type WeightTarget } from './ops/weights.js';

export const UNSTRUCTURED_NOTE =
  'unstructured sparsity does not make dense onnxruntime kernels faster or the tensors smaller: the zeros pay off in the compressed (gzip) size of the model file, or with a sparse runtime';

/** Checks a sparsity given outside the option schema (the schema already enforces [0, 1)). */
export function checkSparsity(sparsity: number): void {
  if (!(sparsity >= 0 && sparsity < 1)) {
    throw new ShrinkError('INVALID_ARGUMENT', `prune: sparsity must be in [0, 1), got ${sparsity}`);
  }
}

/**
 * Zeroes exactly the `k` smallest |v| over the arrays taken together. Ties at the threshold are
 * broken by position (earlier array, then lower index first) so the count is exact; NaN is never
 * zeroed (it sorts last).
 */
export function zeroSmallest(arrays: readonly Float32Array[], k: number): void {
  if (k <= 0) return;
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const abs = new Float32Array(total);
  let at = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) abs[at++] = Math.abs(a[i]!);
  abs.sort();
  const t = abs[Math.min(k, total) - 1]!;
  let below = 0;
  for (let i = 0; i < total && abs[i]! < t; i++) below++;
  let ties = Math.min(k, total) - below;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const m = Math.abs(a[i]!);
      if (m < t) a[i] = 0;
      else if (m === t && ties > 0) {
        a[i] = 0;
        ties--;
      }
    }
  }
}

/** How many of `n` elements a sparsity removes: rounded to the nearest whole element. */
export const targetZeros = (n: number, sparsity: number): number => Math.round(n * sparsity);

/** The tensors of a target the pass rewrites: the weight, and the bias when pruneBias got one. */
export const tensorsOf = (t: WeightTarget): PrunableTensor[] => (t.bias ? [t.weight, t.bias] : [t.weight]);

/** Elements of `tensors` together, and the share of them that is zero (0 when there are none). */
function zeroShare(tensors: readonly PrunableTensor[]): { elements: number; sparsity: number } {
  const elements = tensors.reduce((s, x) => s + x.values.length, 0);
  const zeros = tensors.reduce((s, x) => s + countZeros(x.values), 0);
  return { elements, sparsity: elements === 0 ? 0 : zeros / elements };
}

/** The report row of a pruned target, counting everything written (weight, plus bias if pruned). */
export function prunedRow(t: WeightTarget): LayerOutcome {
  const { elements, sparsity } = zeroShare(tensorsOf(t));
  return {
    name: t.label,
    opType: t.node.opType,
    action: 'pruned',
    weight: t.weight.name,
    elementsBefore: elements,
    elementsAfter: elements,
    sparsity,
  };
}

/**
 * Applies an unstructured pass to the model and to the weights inside its If/Loop/Scan bodies: collects
 * the selected weight-bearing nodes of each graph, lets `prune` zero their tensors in place, writes them
 * back and builds one report.
 */
export function runUnstructured(
  model: onnx.IModelProto,
  options: ResolvedPruneOptions,
  withBias: boolean,
  prune: (targets: WeightTarget[]) => void,
  head: { method: string; targetSparsity: number; notes: string[] },
): PruneResult {
  const r = pruneWithSubgraphs(model, (m) => runGraph(m, options, withBias, prune, head));
  if (!r.report.layers.some((l) => l.action === 'pruned')) {
    r.report.notes.push(
      'no weights were pruned: no selected MatMul, Gemm, Conv or ConvTranspose has a float32 initializer weight or 8-bit codes (DequantizeLinear), and no MatMulInteger or ConvInteger has 8-bit initializer codes',
    );
  }
  return r;
}

/** One graph's part of runUnstructured (its subgraphs are pruneWithSubgraphs' part). */
function runGraph(
  model: onnx.IModelProto,
  options: ResolvedPruneOptions,
  withBias: boolean,
  prune: (targets: WeightTarget[]) => void,
  head: { method: string; targetSparsity: number; notes: string[] },
): PruneResult {
  const graph = Graph.from(model);
  const select = selectNodes(graph, options);
  const entries = collectTargets(graph, select, withBias);
  const targets = entries.flatMap((e) => ('target' in e ? [e.target] : []));
  prune(targets);
  for (const t of targets) for (const x of tensorsOf(t)) writeBack(graph, x);
  const layers = entries.map((e) => ('target' in e ? prunedRow(e.target) : e.skipped));
  const notes = [...head.notes];
  if (targets.some((t) => t.weight.quant)) {
    notes.push(
      '8-bit quantized weights: ranked by |q - zero point| * scale; pruned codes are set to the zero point, so they dequantize to exactly 0',
    );
  }
  const unscaled = targets.filter((t) => t.weight.quant && !t.weight.quant.scaled).map((t) => `'${t.weight.name}'`);
  if (unscaled.length > 0) {
    notes.push(
      `no weight scale found for ${unscaled.join(', ')} (expected int result -> Cast -> Mul by Mul(A_scale, constant W_scale)): ranked by |q - zero point| within the tensor, so a per-column scale is ignored there`,
    );
  }
  return {
    model: graph.toModel(),
    report: {
      method: head.method,
      targetSparsity: head.targetSparsity,
      layers,
      unhandled: countUnhandled(graph, HANDLED_OPS),
      sparsity: zeroShare(targets.flatMap(tensorsOf)).sparsity,
      notes,
    },
  };
}

/**
 * Unstructured magnitude pruning of the constant weights of MatMul (B), Gemm (B), Conv and
 * ConvTranspose (W): the weights with the smallest |w| become 0. Single weights are ranked by |w|,
 * which is what both the L1 and the L2 norm of one number reduce to, so `norm` changes nothing here.
 *
 * - scope 'layer': every layer gets the target sparsity, round(sparsity * elements) zeros exactly.
 * - scope 'global': one threshold over all selected layers' weights together (exactly
 *   round(sparsity * total) zeros), so layers of small weights lose more than layers of large ones.
 *
 * Biases are left alone unless `pruneBias`: then the bias (Gemm/Conv input C/B, or the constant of the
 * Add right after a MatMul) is pruned with its layer (per layer: to the same sparsity, on its own;
 * global: into the same pool) and the layer's report row counts weight and bias together.
 * Tensor sizes do not change; the input model is not mutated.
 *
 * Quantized models are pruned too (after quantization): the 8-bit codes of MatMulInteger /
 * ConvInteger (dynamic) and of a DequantizeLinear feeding a weight (static QDQ) are ranked by the
 * real magnitude |q - zp| * scale and pruned codes set to the zero point (ops/weights.ts). Where the
 * scale is not found the ranking uses |q - zp| and global scope prunes that layer on its own.
 * MatMulNBits (packed 4-bit) is skipped.
 */
export function pruneMagnitude(model: onnx.IModelProto, options: ResolvedPruneOptions): PruneResult {
  checkSparsity(options.sparsity);
  const notes = [UNSTRUCTURED_NOTE];
  if (options.scope === 'global') notes.push('global scope: one |w| threshold over all pruned layers, so per-layer sparsities differ');
  // Each body is pruned as a graph of its own: its threshold is its own.
  if (options.scope === 'global' && hasSubgraphs(model))
    notes.push('global scope: the main graph and each If/Loop/Scan body have a threshold of their own');
  return runUnstructured(
    model,
    options,
    options.pruneBias,
    (targets) => {
      const perLayer = (list: WeightTarget[]): void => {
        for (const t of list) for (const x of tensorsOf(t)) zeroSmallest([x.values], targetZeros(x.values.length, options.sparsity));
      };
      if (options.scope !== 'global') {
        perLayer(targets);
        return;
      }
      // Codes whose scale is unknown have no real magnitude to compare across layers.
      const unscaled = targets.filter((t) => t.weight.quant && !t.weight.quant.scaled);
      const pooled = targets.filter((t) => !unscaled.includes(t));
      const all = pooled.flatMap((t) => tensorsOf(t).map((x) => x.values));
      zeroSmallest(
        all,
        targetZeros(
          all.reduce((s, a) => s + a.length, 0),
          options.sparsity,
        ),
      );
      if (unscaled.length > 0) {
        notes.push(`global scope: ${unscaled.map((t) => `'${t.label}'`).join(', ')} pruned per layer instead (weight scale not found)`);
        perLayer(unscaled);
      }
    },
    { method: 'magnitude', targetSparsity: options.sparsity, notes },
  );
}
