import type { Ctx } from '../context.js';
import type { Dataset } from '../data/dataset.js';
import { checkFloors, DEFAULT_FLOORS, type FidelityFloors, type GuardResult } from '../report/guard.js';
import { metric, type MetricValue } from '../report/report.js';
import { evaluate } from './evaluate.js';
import { fidelity } from './fidelity.js';
import { syntheticDataset, type ModelUnderTest } from './profile.js';
import { createSession } from './session.js';
import { fidelityOnFeeds } from './feed-fidelity.js';
import { feedSetFor, type FeedsSource } from './measure-feeds.js';

/**
 * The fidelity guard alone, without latency or energy: fidelity (and accuracy, on labelled data) of each
 * candidate against the baseline, judged against the floors. For finding which step of a pipeline broke a
 * model, where a full comparison per step would cost minutes of timing.
 */
export async function checkAgainstBaseline(
  baseline: ModelUnderTest,
  candidates: readonly ModelUnderTest[],
  opts: { data?: Dataset; feeds?: FeedsSource; floors?: FidelityFloors; evalBatch?: number; threads?: number; seed?: number } = {},
  ctx?: Ctx,
): Promise<GuardResult[]> {
  const threads = opts.threads ?? ctx?.threads;
  const sessionOpts = (m: ModelUnderTest) => ({ ...(threads !== undefined ? { threads } : {}), label: m.name });
  const base = await createSession(baseline.path ?? baseline.model, sessionOpts(baseline), ctx);
  try {
    // The inputs compareModels measured on: a dataset, else a feed set (feeds file or synthetic by meaning).
    const set = await feedSetFor(base, baseline.model, opts);
    const data = opts.data ?? (set ? undefined : syntheticDataset(base, 64, opts.seed));
    const labelled = opts.data !== undefined && !opts.data.unlabeled;
    const batch = { batch: opts.evalBatch ?? 64 };
    const baseQuality = labelled ? await evaluate(base, data!, batch, ctx) : undefined;
    const out: GuardResult[] = [];
    for (const c of candidates) {
      const s = await createSession(c.path ?? c.model, sessionOpts(c), ctx);
      try {
        const fid = set ? await fidelityOnFeeds(base, s, set, ctx) : await fidelity(base, s, data!, batch, ctx);
        const rows: Record<string, MetricValue> = {};
        // A baseline computing all zeros on these inputs tells nothing (see compareModels).
        if (!fid.baselineSilent) {
          rows['fidelity.cosineSimilarity'] = metric('fidelity.cosineSimilarity', undefined, fid.cosineSimilarity);
          if (fid.top1Agreement !== undefined)
            rows['fidelity.top1Agreement'] = metric('fidelity.top1Agreement', undefined, fid.top1Agreement);
        }
        if (baseQuality?.task === 'classification') {
          const q = await evaluate(s, data!, batch, ctx);
          if (q.task === 'classification') rows['accuracy'] = metric('accuracy', baseQuality.accuracy, q.accuracy);
        }
        out.push(
          checkFloors(rows, opts.floors ?? DEFAULT_FLOORS, { synthetic: opts.data === undefined && (set === undefined || set.synthetic) }),
        );
      } finally {
        await s.release();
      }
    }
    return out;
  } finally {
    await base.release();
  }
}
