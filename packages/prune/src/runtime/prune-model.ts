import { parseOptions, refuseNaN, ShrinkError, subgraphsOf, type Ctx, type onnx, type OutputKindDecision } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { pruneOptionsSchema, type PruneOptions } from '../options.js';
import type { PruneResult } from '../types.js';
import { pruneMagnitude } from '../magnitude.js';
import { pruneNM } from '../nm.js';
import { pruneStructured } from '../structured.js';
import { WEIGHT_OPS } from '../ops/weights.js';

/** Training for `shrink prune --schedule/--finetune`: the data and how long. */
export interface FineTuneSettings {
  train: Dataset;
  test: Dataset;
  epochs: number;
  /** Prune gradually while training (magnitude only); without it, prune once and fine-tune with fixed zeros. */
  schedule?: 'cubic' | 'constant';
  batchSize?: number;
  lr?: number;
}

/** Which cross-entropy fine-tuning used, and why: a wrong guess here is what ruins a model silently. */
function lossNote(outputs: OutputKindDecision | undefined): string[] {
  return outputs ? [`cross-entropy ${outputs.kind === 'logits' ? 'from logits' : 'on probabilities'}: ${outputs.reason}`] : [];
}

/**
 * The pruning pass behind `shrink prune`: one-shot magnitude / N:M / structured pruning of the ONNX
 * graph, or gradual magnitude pruning during fine-tuning in TensorFlow.js, or one-shot then fine-tune.
 * The input model is never modified.
 */
export async function pruneModel(
  model: onnx.IModelProto,
  options: PruneOptions,
  fineTune?: FineTuneSettings,
  ctx?: Ctx,
): Promise<PruneResult> {
  const o = parseOptions(pruneOptionsSchema, options, 'prune');
  refuseNaN(model, 'prune');
  if (fineTune?.schedule) {
    if (o.method !== 'magnitude') {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `gradual pruning is by magnitude; method ${o.method} has no schedule (fine-tune after one-shot pruning instead)`,
        { option: 'schedule' },
      );
    }
    const { overallSparsity, pruneOnnxGradually } = await import('./gradual.js');
    const batchSize = fineTune.batchSize ?? 32;
    const steps = Math.ceil(fineTune.train.n / batchSize);
    const r = await pruneOnnxGradually(
      model,
      { train: fineTune.train, test: fineTune.test },
      {
        schedule: fineTune.schedule,
        finalSparsity: o.sparsity,
        scope: o.scope,
        epochs: fineTune.epochs,
        batchSize,
        ...(fineTune.lr !== undefined ? { lr: fineTune.lr } : {}),
        // Four mask updates per epoch: smooth enough for the cubic ramp, cheap on small data.
        frequency: Math.max(1, Math.floor(steps / 4)),
      },
      ctx,
    );
    return {
      model: r.model,
      report: {
        method: `magnitude${o.scope === 'global' ? ' (global)' : ''}, ${fineTune.schedule} schedule during ${fineTune.epochs} epoch(s) of fine-tuning`,
        targetSparsity: o.sparsity,
        layers: r.masks.map((m) => ({
          name: m.layer,
          opType: 'tfjs kernel',
          action: 'pruned',
          weight: m.weight,
          elementsBefore: m.elements,
          elementsAfter: m.elements,
          sparsity: m.sparsity,
        })),
        unhandled: {},
        sparsity: overallSparsity(r.masks),
        notes: [
          `trained on ${fineTune.train.name} (${fineTune.train.n} samples) in TensorFlow.js; masks re-applied after every optimizer step`,
          ...lossNote(r.outputs),
          'the model went through tfjs: value names are tfjs layer names now',
        ],
      },
    };
  }
  const once =
    o.method === 'magnitude'
      ? pruneMagnitude(model, o)
      : o.method === 'nm'
        ? pruneNM(model, o)
        : bodiesNoted(pruneStructured(model, o), model);
  if (!fineTune) return once;
  // tfjs costs ~0.3 s to load: one-shot pruning does not pay for it.
  const [{ exportToOnnx, importFromOnnx, initTf }, { fineTunePruned }] = await Promise.all([
    import('@shrink/core/tfjs'),
    import('./gradual.js'),
  ]);
  const { tf } = await initTf(ctx);
  const imported = importFromOnnx(once.model, tf).model;
  try {
    const r = await fineTunePruned(
      imported,
      fineTune.train,
      fineTune.test,
      {
        epochs: fineTune.epochs,
        ...(fineTune.batchSize ? { batchSize: fineTune.batchSize } : {}),
        ...(fineTune.lr ? { lr: fineTune.lr } : {}),
      },
      ctx,
    );
    const model2 = exportToOnnx(imported).model;
    const last = r.history.at(-1);
    once.report.notes.push(
      `fine-tuned ${fineTune.epochs} epoch(s) on ${fineTune.train.name} with the zeros kept fixed${last?.valAccuracy !== undefined ? `; validation accuracy ${(last.valAccuracy * 100).toFixed(2)}%` : ''}`,
      ...lossNote(r.outputs),
      'the model went through tfjs: value names are tfjs layer names now',
    );
    return { model: model2, report: once.report };
  } finally {
    imported.dispose();
  }
}

/** Weight-bearing nodes inside If/Loop/Scan bodies (at any depth). */
function bodyWeightNodes(g: onnx.IGraphProto | null | undefined, inBody = false): number {
  let n = 0;
  for (const node of g?.node ?? []) {
    if (inBody && WEIGHT_OPS.has(node.opType ?? '')) n++;
    for (const s of subgraphsOf(node)) n += bodyWeightNodes(s, true);
  }
  return n;
}

/** Structured pruning changes tensor shapes along chains of one graph; bodies are left alone, and the report says so. */
function bodiesNoted(r: PruneResult, model: onnx.IModelProto): PruneResult {
  const n = bodyWeightNodes(model.graph);
  if (n > 0) {
    r.report.notes.push(
      `structured pruning leaves the ${n} weight node(s) inside If/Loop/Scan bodies alone (their shapes cross the body boundary); method magnitude or nm prunes them`,
    );
  }
  return r;
}
