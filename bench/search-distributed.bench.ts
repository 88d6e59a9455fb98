/**
 * `shrink search --queue` (issue #17): the 19-trial fashion-mlp search of `pnpm bench search` run by 1, 2
 * and 3 `shrink worker` processes through a local redis-server, the queue's overhead per trial, and what
 * 8 machines would give, extrapolated from the measured per-trial times. Not in the default set (several
 * minutes of training per run); needs /usr/bin/redis-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saveModel, type Report } from './core.js';
import { validateConfig } from '../packages/cli/src/pipeline/load-config.js';
import { runSearch } from '../packages/cli/src/pipeline/search.js';
import type { QueueRun } from '../packages/cli/src/queue/queue-search.js';
import { kill, shrink, skipReason, startRedis, type Shrink } from '../packages/cli/src/queue/redis.fixture.js';
import { fmtX, load1, mdTable, nowMs, type Bench, type BenchContext } from './lib.js';
import { fashionTestSet, points, trainedModel } from './quantize.bench.js';
// The search of search.bench.ts, unchanged, so the numbers compare with its worker-thread runs.
import { EVALUATION, GATE, MODEL, SPACE } from './search.bench.js';

const MACHINES = 8;
/** `shrink worker`'s default --lock-duration, in seconds (commands/worker.ts). */
const LOCK_S = 120;

interface Run {
  workers: number;
  seconds: number;
  /** Seconds until the last trial's result arrived (before the search's own re-measurement). */
  trialsSeconds: number;
  load: [number, number];
  /** Longest stretch a worker's event loop was held during one trial (s): BullMQ renews locks from it. */
  held: number;
  report: Report;
  queue: QueueRun;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function search(ctx: BenchContext, dir: string, url: string, n: number): Promise<Run> {
  // A fresh store and a config file name of its own: nothing computed by an earlier run is reused.
  const store = path.join(dir, `store-w${n}`);
  const workers: Shrink[] = [];
  try {
    for (let i = 1; i <= n; i++)
      workers.push(shrink(dir, ['worker', '--queue', url, '--store', store, '--cache', path.join(dir, `cache-w${n}-${i}`)]));
    await Promise.all(workers.map((w) => w.waitFor(/waiting for trials/, 120_000)));
    const config = await validateConfig(
      {
        model: 'model.onnx',
        data: { eval: 'fashion-mnist', train: MODEL.data },
        evaluation: EVALUATION,
        gates: [GATE],
        search: { objective: 'size', space: SPACE },
        output: `out-w${n}`,
      },
      { file: `search-w${n}.bench`, dir },
    );
    const before = load1();
    const t0 = nowMs();
    let trialsSeconds = NaN;
    let queue: QueueRun | undefined;
    const { report } = await runSearch(
      config,
      { logger: { debug() {}, info: (m) => ctx.log(`queue w${n}: ${m}`), warn: (m) => ctx.log(`queue w${n}: ${m}`) } },
      {
        queue: { url, store },
        onQueueRun: (r) => {
          trialsSeconds = (nowMs() - t0) / 1000;
          queue = r;
        },
      },
    );
    const held = Math.max(
      0,
      ...workers.flatMap((w) => [...w.out().matchAll(/event loop held up to ([\d.]+) s/g)].map((m) => Number(m[1]))),
    );
    return { workers: n, seconds: (nowMs() - t0) / 1000, trialsSeconds, load: [before, load1()], held, report, queue: queue! };
  } finally {
    // What went wrong on a worker reaches the bench's log (stderr), not the Markdown.
    for (const w of workers) for (const line of w.out().split('\n')) if (/warning:|failed|lock/i.test(line)) ctx.log(`worker: ${line}`);
    await Promise.all(workers.map((w) => kill(w.proc, 'SIGTERM')));
  }
}

/** Queue latency per trial: result seen by the search after the worker finished, and a worker's idle gap between trials it could take at once. */
function overhead(run: Run): { result: number[]; pickup: number[] } {
  const t = run.queue.timings.filter((x) => x.finishedAt !== undefined && x.startedAt !== undefined);
  const result = t.filter((x) => x.receivedAt !== undefined).map((x) => x.receivedAt! - x.finishedAt!);
  const pickup: number[] = [];
  const byWorker = new Map<string, typeof t>();
  for (const x of t) byWorker.set(x.worker!, [...(byWorker.get(x.worker!) ?? []), x]);
  for (const list of byWorker.values()) {
    list.sort((a, b) => a.startedAt! - b.startedAt!);
    // The gap counts only where the next trial was already on the queue when the previous one ended.
    for (let i = 1; i < list.length; i++)
      if (list[i]!.enqueuedAt! <= list[i - 1]!.finishedAt!) pickup.push(list[i]!.startedAt! - list[i - 1]!.finishedAt!);
  }
  return { result, pickup };
}

/**
 * 8 machines, one worker each, this CPU: the trials' own times (from the 1-worker run, where nothing ran
 * beside them), scheduled greedily in the search's order, a trial waiting for the trial that computes the
 * step prefix it reuses; plus the measured per-trial queue latency and the search's re-measurement.
 */
function extrapolate(one: Run, machines: number, perTrialMs: number): { wall: number; critical: number; work: number } {
  const trials = one.report.search!.trials;
  const key = (cfg: unknown[]) => JSON.stringify(cfg);
  const byConfig = new Map(trials.map((t, i) => [key(t.config), i]));
  const dep = trials.map((t) => (t.config.length > 1 ? byConfig.get(key(t.config.slice(0, -1))) : undefined));
  const dur = trials.map((t) => t.seconds + perTrialMs / 1000);
  const end: number[] = new Array<number>(trials.length).fill(NaN);
  const free = new Array<number>(machines).fill(0);
  const pending = trials.map((_, i) => i);
  while (pending.length > 0) {
    // The next trial whose prefix trial (if any) is scheduled, on the machine free first.
    const at = pending.findIndex((i) => dep[i] === undefined || !Number.isNaN(end[dep[i]!]!));
    const i = pending.splice(at, 1)[0]!;
    const m = free.indexOf(Math.min(...free));
    const start = Math.max(free[m]!, dep[i] === undefined ? 0 : end[dep[i]!]!);
    end[i] = start + dur[i]!;
    free[m] = end[i];
  }
  const chain = (i: number): number => dur[i]! + (dep[i] === undefined ? 0 : chain(dep[i]!));
  return {
    wall: Math.max(...end),
    critical: Math.max(...trials.map((_, i) => chain(i))),
    work: dur.reduce((a, b) => a + b, 0),
  };
}

export const searchDistributedBench: Bench = {
  name: 'search-distributed',
  title: 'Distributed search (issue #17): fashion-mlp on 1, 2, 3 BullMQ worker processes',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    if (skipReason) return `Skipped: ${skipReason}.`;
    const { test, missing } = await fashionTestSet('search-distributed');
    if (!test) return missing;
    const { model, how } = await trainedModel(ctx, MODEL.preset, MODEL.epochs, MODEL.data);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-search-distributed-'));
    const redis = await startRedis(dir);
    try {
      await saveModel(model, path.join(dir, 'model.onnx'));
      const runs: Run[] = [];
      for (const n of [1, 2, 3]) runs.push(await search(ctx, dir, redis.url, n));
      const one = runs[0]!;
      const over = runs.map(overhead);
      const allResult = over.flatMap((o) => o.result);
      const allPickup = over.flatMap((o) => o.pickup);
      const perTrial = median(allResult) + median(allPickup);
      const x8 = extrapolate(one, MACHINES, perTrial);
      const remeasure = median(runs.map((r) => r.seconds - r.trialsSeconds));
      const best = (r: Run) => r.report.candidates.find((c) => c.name === r.report.search!.best);
      const rows = runs.map((r) => {
        const b = best(r);
        const m = b?.metrics;
        return [
          String(r.workers),
          `${r.seconds.toFixed(0)} s`,
          `${r.trialsSeconds.toFixed(0)} s`,
          `${(one.trialsSeconds / r.trialsSeconds).toFixed(2)}×`,
          `${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}`,
          String(r.queue.workers),
          b?.name ?? 'none passed',
          m?.['size.bytes']?.ratio !== undefined ? fmtX(m['size.bytes'].ratio) : '–',
          m?.['accuracy']?.delta !== undefined ? points(m['accuracy'].delta) : '–',
          String(r.report.search!.trials.filter((t) => t.error !== undefined).length),
        ];
      });
      return [
        `Model: preset \`${MODEL.preset}\` trained ${MODEL.epochs} epochs on \`${MODEL.data}\` (seed 0): ${how}. Eval data: the ${test.n.toLocaleString('en-US')}-image Fashion-MNIST test set.`,
        '',
        `The search of \`pnpm bench search\` (${one.report.search!.trials.length} trials: \`${JSON.stringify(SPACE)}\`, gate \`${GATE}\`, ${EVALUATION.runs} latency pairs in the re-measurement), ` +
          'run with `--queue` on a redis-server on 127.0.0.1 and N `shrink worker` processes (concurrency 1, onnxruntime threads = all cores) on this same 2-core machine; ' +
          "a fresh artifact store (shared folder) per run, so each run trains its prefixes itself. Wall time excludes the workers' start-up (they wait first).",
        '',
        mdTable(
          [
            'worker processes',
            'search wall time',
            'until last result',
            'speed-up (trials)',
            'load avg before → after',
            'workers seen',
            'best',
            'size ratio',
            'accuracy change (points)',
            'failed trials',
          ],
          rows,
          [true, true, true, true, false, true, false, true, true, true],
        ),
        '',
        `Queue overhead per trial: worker finished → result seen by the search, median ${ms(median(allResult))} (max ${ms(Math.max(...allResult))}, ${allResult.length} trials); ` +
          `a worker's idle gap between one trial and the next already queued (BullMQ hand-over, the job's schema check and reading its prefixes from the store), median ${ms(median(allPickup))} ` +
          `(max ${ms(Math.max(...allPickup))}, ${allPickup.length} gaps). Sum of the medians: ${ms(perTrial)} per trial (target ≤ 50 ms).`,
        '',
        `${MACHINES} machines (extrapolated, one worker each, this CPU): the trials' own times from the 1-worker run, scheduled in the search's order with each trial after the trial whose prefix it reuses, plus ${ms(perTrial)} of queue per trial: ` +
          `${x8.wall.toFixed(0)} s until the last result (critical path ${x8.critical.toFixed(0)} s: the distillation, then its fine-tuned pruning, then a quantization; total work ${x8.work.toFixed(0)} s), ` +
          `plus the search machine's re-measurement (${remeasure.toFixed(0)} s here, median of the runs) ≈ ${(x8.wall + remeasure).toFixed(0)} s, against ${one.seconds.toFixed(0)} s on 1 worker. ` +
          'Beyond a few machines this search is bound by its chain of dependent training steps, not by the number of workers.',
        '',
        `Longest stretch a worker's event loop was held during one trial (BullMQ renews the trial's lock from a timer on it; default lock ${LOCK_S} s): ` +
          runs.map((r) => `${r.held.toFixed(1)} s with ${r.workers} worker(s)`).join(', ') +
          '.',
        ...runs.flatMap((r) =>
          r.report
            .search!.trials.filter((t) => t.error !== undefined)
            .map((t) => `Failed with ${r.workers} worker process(es): ${t.name}: ${t.error}`),
        ),
        '',
        '### Trials (1 worker: the undisturbed times the extrapolation uses)',
        '',
        mdTable(
          ['trial', 'worker s', 'gate'],
          one.report.search!.trials.map((t) => [
            t.name,
            t.seconds.toFixed(1),
            t.error !== undefined ? `error: ${t.error}` : t.passed ? 'pass' : 'fail',
          ]),
          [false, true, false],
        ),
      ].join('\n');
    } finally {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
