/**
 * The fidelity fallback: the accuracy fallback's loop with the worst output's cosine to the original model
 * as its metric, so it needs no labels. A browser shows no error when a quantized model's outputs are
 * wrong, so a web target's floor (TargetInfo.minCosine) makes passes keep float what would break it.
 */
import type { Ctx } from '../context.js';
import type { Dataset } from '../data/dataset.js';
import { ShrinkError } from '../errors.js';
import type { onnx } from '../onnx/proto.js';
import { measurableRuntime, type TargetContext } from '../target/targets.js';
import { withFallback, type FallbackAttempt, type FallbackOutcome, type FallbackSettings } from './accuracy-fallback.js';
import { fidelity } from './fidelity.js';
import { syntheticDataset } from './profile.js';
import { createSession } from './session.js';

/** Synthetic samples the fallback compares on when no evaluation data is given. */
export const FIDELITY_SAMPLES = 16;

/** Where a target's fidelity is measured here: its own runtime when this machine has it, else onnxruntime-node. */
export function fidelityRuntime(target: TargetContext | undefined): 'onnxruntime-node' | 'onnxruntime-web-wasm' {
  return (target && measurableRuntime(target)) ?? 'onnxruntime-node';
}

/**
 * Runs `attempt` as withFallback does, keeping float the node with the worst error of its own while the
 * worst output's cosine to `model` on `data` (default: FIDELITY_SAMPLES synthetic samples, one float input
 * only) is below `minCosine`, measured in the target's runtime.
 */
export async function withFidelityFallback<A extends FallbackAttempt, M extends onnx.IModelProto>(
  model: M,
  attempt: (from: M | onnx.ModelProto, keep: readonly string[]) => Promise<A>,
  minCosine: number,
  data: Dataset | undefined,
  settings: FallbackSettings = {},
  ctx: Ctx,
): Promise<FallbackOutcome<A>> {
  if (!(minCosine > 0 && minCosine <= 1)) {
    throw new ShrinkError('INVALID_ARGUMENT', `must be a number in (0, 1], got ${minCosine}`, { option: 'minCosine' });
  }
  const runtime = fidelityRuntime(ctx.target);
  const rctx: Ctx = { ...ctx, runtime };
  // onnxruntime-web fixes its WASM threads once per process, from the first session's explicit count.
  const threads = ctx.threads !== undefined ? { threads: ctx.threads } : {};
  const base = await createSession(model, { label: 'original model', ...threads, ...settings.session }, rctx);
  try {
    const samples = data ?? syntheticDataset(base, FIDELITY_SAMPLES, ctx.seed ?? 0);
    const batch = { batch: settings.batch ?? 1 };
    return await withFallback(
      model,
      attempt,
      {
        what: 'fidelity fallback',
        key: 'fallback.cosine',
        baseline: 1,
        measure: async (m) => {
          const s = await createSession(m, { label: 'candidate model', ...threads, ...settings.session }, rctx);
          try {
            return (await fidelity(base, s, samples, batch, rctx)).cosineSimilarity;
          } finally {
            await s.release();
          }
        },
        distance: (cos) => 1 - cos,
        limit: 1 - minCosine,
        formatMetric: (cos) => `worst-output cosine ${cos.toFixed(5)}`,
        formatDistance: (d) => `1 - cosine ${d.toPrecision(3)}`,
        where: `on ${data ? data.name : `${FIDELITY_SAMPLES} synthetic samples`} in ${runtime}`,
      },
      samples,
      settings,
      ctx,
    );
  } finally {
    await base.release();
  }
}
