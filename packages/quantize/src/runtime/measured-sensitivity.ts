/**
 * Mixed precision's measured sensitivity: each candidate weight alone at the asked bits (the rest float),
 * run in onnxruntime on a few calibration samples, its error taken at the model's outputs (the sum over
 * float outputs of ||dy||^2 / ||y||^2). Layers of one kind differ here by 20x where their own weight
 * errors are alike (tiny LM: the first block's qkv projection against the second's), which is what the
 * choice needs. Wider levels keep the ratio their weight errors have to the lowest one.
 */
import { progressOf, type Ctx, type onnx } from '@shrink/core';
import { createSession, feedsFor, planInput, tensorToFloat32, type Feeds } from '@shrink/core/runtime';
import type { BitsCandidate } from '../mixed/allocate-bits.js';
import { quantizeWeightOnly, type WeightOnlyOptions } from '../nbits.js';
import { isFeedSet, type CalibrationSet } from './calibrate.js';
import { perModel } from './per-model-memo.js';

/** Samples run per candidate: the output error of a weight settles within a few. */
const SAMPLES = 4;

async function feedsOf(model: onnx.IModelProto, calibration: CalibrationSet, ctx?: Ctx): Promise<Feeds[]> {
  if (isFeedSet(calibration)) return calibration.samples.slice(0, SAMPLES);
  const s = await createSession(model, { label: 'mixed-precision sensitivity' }, ctx);
  try {
    const plan = planInput(s, calibration);
    const count = Math.min(SAMPLES * 4, calibration.n, plan.fixedBatch ?? SAMPLES * 4);
    return [feedsFor(plan, calibration, 0, count).feeds];
  } finally {
    await s.release();
  }
}

async function outputsOf(model: onnx.IModelProto, feeds: readonly Feeds[], ctx?: Ctx): Promise<Float32Array[][]> {
  const s = await createSession(model, { label: 'mixed-precision sensitivity' }, ctx);
  try {
    const out: Float32Array[][] = [];
    for (const f of feeds) {
      ctx?.signal?.throwIfAborted();
      const r = await s.run(f);
      out.push(
        Object.entries(r)
          .filter(([, t]) => t.type === 'float32' || t.type === 'float16')
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, t]) => tensorToFloat32(t, `output '${name}'`)),
      );
    }
    return out;
  } finally {
    await s.release();
  }
}

function outputError(got: Float32Array[][], want: Float32Array[][]): number {
  let total = 0;
  want.forEach((outs, i) =>
    outs.forEach((y, j) => {
      const g = got[i]![j]!;
      let e = 0;
      let s = 0;
      for (let k = 0; k < y.length; k++) {
        e += (g[k]! - y[k]!) ** 2;
        s += y[k]! ** 2;
      }
      total += s > 0 ? e / s : 0;
    }),
  );
  return total / Math.max(want.length, 1);
}

/** The candidates with each level's error measured at the outputs (the lowest) and scaled (the rest). */
export async function measureSensitivity(
  model: onnx.IModelProto,
  candidates: readonly BitsCandidate[],
  o: WeightOnlyOptions,
  calibration: CalibrationSet,
  ctx?: Ctx,
): Promise<BitsCandidate[]> {
  // The float model's outputs, as the rerun memo keeps the candidates' errors.
  const { feeds, want } = await perModel(model, JSON.stringify(['sensitivity reference', calibration.name]), async () => {
    const f = await feedsOf(model, calibration, ctx);
    return { feeds: f, want: await outputsOf(model, f, ctx) };
  });
  const progress = progressOf(ctx);
  progress.start(`mixed precision: output error of ${candidates.length} weight(s) alone at ${o.bits} bits`, candidates.length);
  try {
    const out: BitsCandidate[] = [];
    for (const c of candidates) {
      // A rerun of the pass on the same model (speed guard, fidelity floor) measures nothing twice.
      const key = JSON.stringify(['sensitivity', c.key, o.bits, o.blockSize, o.symmetric, o.algo, o.accuracyLevel, calibration.name]);
      const measured = await perModel(model, key, async () => {
        const alone = quantizeWeightOnly(model, { ...o, include: [...(c.nodes ?? [])], exclude: [], bitsByWeight: undefined });
        return outputError(await outputsOf(alone.model, feeds, ctx), want);
      });
      const low = c.levels[0]!.error;
      out.push({ ...c, levels: c.levels.map((l, i) => ({ ...l, error: i === 0 ? measured : low > 0 ? (measured * l.error) / low : 0 })) });
      progress.tick(1);
    }
    return out;
  } finally {
    progress.stop();
  }
}
