/**
 * `shrink search` on fashion-mlp under `accuracy.delta >= -0.01` (issue #6): the best trial's size and
 * latency ratios, every trial's verdict, and the wall time of the same search with 1 and 2 worker threads.
 * Not in the default set: the two searches train (fine-tune, distil) for several minutes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saveModel, type Report } from './core.js';
import { validateConfig } from '../packages/cli/src/pipeline/load-config.js';
import { runSearch } from '../packages/cli/src/pipeline/search.js';
import { fmtX, load1, mdTable, nowMs, type Bench, type BenchContext } from './lib.js';
import { fashionTestSet, points, trainedModel } from './quantize.bench.js';

export const GATE = 'accuracy.delta >= -0.01';
export const MODEL = { preset: 'fashion-mlp', epochs: 2, data: 'fashion-mnist:20000' } as const;
export const SPACE = {
  distill: [null, { student: '784-64-10', epochs: 5, lr: 0.002 }],
  prune: [null, { method: 'structured', sparsity: 0.5, finetune: true, epochs: 1 }],
  quantize: [null, { dtype: 'q8' }, { dtype: 'q8', perChannel: true }, { dtype: 'q4' }, { dtype: 'fp16' }],
};
export const EVALUATION = { runs: 200, warmup: 20 };

interface Run {
  workers: number;
  seconds: number;
  load: [number, number];
  report: Report;
}

async function search(ctx: BenchContext, dir: string, workers: number): Promise<Run> {
  const config = await validateConfig(
    {
      model: 'model.onnx',
      data: { eval: 'fashion-mnist', train: MODEL.data },
      evaluation: EVALUATION,
      gates: [GATE],
      search: { objective: 'size', workers, space: SPACE },
      output: `out-w${workers}`,
    },
    { file: 'search.bench', dir },
  );
  const before = load1();
  const t0 = nowMs();
  const { report } = await runSearch(config, {
    logger: { debug() {}, info: (m) => ctx.log(`search w${workers}: ${m}`), warn: (m) => ctx.log(`search w${workers}: ${m}`) },
  });
  return { workers, seconds: (nowMs() - t0) / 1000, load: [before, load1()], report };
}

function trialsTable(run: Run): string {
  const s = run.report.search!;
  const front = new Set(s.pareto['size.bytes/accuracy'] ?? []);
  return mdTable(
    ['trial', 'gate', 'size ratio', 'latency p50 ratio', 'accuracy', 'change (points)', 'trial s'],
    s.trials.map((t) => {
      const acc = t.metrics['accuracy'];
      return [
        `${t.name}${t.name === s.best ? ' (best)' : ''}${front.has(t.name) ? ' ◆' : ''}`,
        t.error !== undefined ? `error: ${t.error}` : t.passed ? 'pass' : 'fail',
        t.metrics['size.bytes']?.ratio !== undefined ? fmtX(t.metrics['size.bytes'].ratio) : '–',
        t.metrics['latency.p50']?.ratio !== undefined ? fmtX(t.metrics['latency.p50'].ratio) : '–',
        acc?.candidate !== undefined ? `${(acc.candidate * 100).toFixed(2)}%` : '–',
        acc?.delta !== undefined ? points(acc.delta) : '–',
        t.seconds.toFixed(1),
      ];
    }),
    [false, false, true, true, true, true, true],
  );
}

export const searchBench: Bench = {
  name: 'search',
  title: 'Accuracy-aware search: fashion-mlp under accuracy.delta >= -0.01, 1 vs 2 workers',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const { test, missing } = await fashionTestSet('search');
    if (!test) return missing;
    const { model, how } = await trainedModel(ctx, MODEL.preset, MODEL.epochs, MODEL.data);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-search-bench-'));
    try {
      await saveModel(model, path.join(dir, 'model.onnx'));
      const runs: Run[] = [];
      for (const workers of [1, 2]) runs.push(await search(ctx, dir, workers));
      const [one, two] = runs as [Run, Run];
      const best = (r: Run) => r.report.candidates.find((c) => c.name === r.report.search!.best);
      const summary = runs.map((r) => {
        const b = best(r);
        const m = b?.metrics;
        return [
          String(r.workers),
          `${r.seconds.toFixed(0)} s`,
          `${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}`,
          b?.name ?? 'none passed',
          m?.['size.bytes']?.ratio !== undefined ? fmtX(m['size.bytes'].ratio) : '–',
          m?.['latency.p50']?.ratio !== undefined ? fmtX(m['latency.p50'].ratio) : '–',
          m?.['accuracy']?.delta !== undefined ? points(m['accuracy'].delta) : '–',
          (r.report.search!.pareto['size.bytes/accuracy'] ?? []).join(', '),
        ];
      });
      return [
        `Model: preset \`${MODEL.preset}\` (784-512-256-10) trained ${MODEL.epochs} epochs on \`${MODEL.data}\` (seed 0): ${how}. ` +
          `Eval data: the ${test.n.toLocaleString('en-US')}-image Fashion-MNIST test set; training data of fine-tuning and distillation: \`${MODEL.data}\`.`,
        '',
        `Search space (${one.report.search!.trials.length} trials, every combination, distill → prune → quantize): \`${JSON.stringify(SPACE)}\`; gate \`${GATE}\`; objective: smallest file passing the gate. ` +
          `Latency re-measured in the main thread after the trials, each trial interleaved with the baseline (${EVALUATION.runs} pairs, batch 1, onnxruntime default threads).`,
        '',
        mdTable(
          [
            'workers',
            'search wall time',
            'load avg before → after',
            'best',
            'size ratio',
            'latency p50 ratio',
            'accuracy change (points)',
            'Pareto size/accuracy',
          ],
          summary,
          [true, true, false, false, true, true, true, false],
        ),
        '',
        `Speed-up of 2 workers over 1: ${(one.seconds / two.seconds).toFixed(2)}×. Each worker runs a trial's passes and a short check (5 latency pairs) with ` +
          'onnxruntime threads = cores / workers. Each step prefix (the fine-tuned pruning, the distilled student) is computed once and reused by the trials that share it, whichever worker runs them; a trial waits while its prefix is being computed elsewhere.',
        '',
        '### Trials (2 workers)',
        '',
        trialsTable(two),
      ].join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
