/**
 * The accuracy fallback for quantization: core's withAccuracyFallback with quantizeModel as the pass,
 * nodes kept float marked 'kept-float' in the report.
 */
import { parseOptions, type Ctx, type onnx } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { withAccuracyFallback, type FallbackSettings, type FallbackSummary } from '@shrink/core/runtime';
import { quantizeOptionsSchema, type QuantizeOptions } from '../options.js';
import type { NodeOutcome, PassResult } from '../types.js';
import { quantizeModel, type QuantizeEnv } from './quantize-model.js';

export type { FallbackStep, FallbackSummary } from '@shrink/core/runtime';
export type FallbackOptions = FallbackSettings;
export type FallbackResult = PassResult & { fallback: FallbackSummary };

/**
 * Quantizes `model` (as quantizeModel) and, while the task metric on `evalData` drops by more than
 * `maxDrop` from the float model's, keeps one more node float and quantizes again from the float model.
 * The node kept float each step is the quantized node whose replacement alone has the lowest SQNR.
 */
export async function quantizeWithFallback(
  model: onnx.IModelProto,
  options: QuantizeOptions,
  env: QuantizeEnv,
  evalData: Dataset,
  maxDrop: number,
  opts: FallbackOptions = {},
  ctx?: Ctx,
): Promise<FallbackResult> {
  // Invalid options fail here, before the float model is evaluated.
  const userExclude = parseOptions(quantizeOptionsSchema, options, 'quantize').exclude ?? [];
  const out = await withAccuracyFallback(
    model,
    async (from, keep) => {
      const exclude = [...userExclude, ...keep];
      const r = await quantizeModel(from, { ...options, ...(exclude.length > 0 ? { exclude } : {}) }, env, ctx);
      return { model: r.model, changed: r.report.nodes.filter((n) => n.action === 'quantized'), result: r };
    },
    evalData,
    maxDrop,
    { words: { original: 'float', candidate: 'quantized', kept: 'float' }, ...opts },
    ctx,
  );
  const r = out.attempt.result;
  const report = { ...r.report, nodes: r.report.nodes.map((n) => markKept(n, out.why)), notes: [...r.report.notes, out.note] };
  return { model: r.model, report, fallback: out.fallback };
}

function markKept(n: NodeOutcome, why: ReadonlyMap<string, string>): NodeOutcome {
  const reason = why.get(n.name);
  if (reason === undefined) return n;
  const { replacedBy: _r, weights: _w, ...rest } = n;
  return { ...rest, action: 'kept-float', reason };
}
