// `shrink search` in-process on a small digits model with 2 worker threads (which must load the
// TypeScript sources through tsx): every trial kept, the best passing trial chosen, Pareto fronts, files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateConfig } from './pipeline/load-config.js';
import { runSearch } from './pipeline/search.js';
import { digitsModel } from './pipeline/pipeline.fixture.js';

let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-search-'));
  await digitsModel(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('search with 2 workers: 4 trials, smallest passing trial is best, fronts and reports written', async () => {
  const config = await validateConfig(
    {
      model: 'model.onnx',
      data: { eval: 'digits' },
      evaluation: { runs: 5, warmup: 1 },
      gates: ['accuracy.delta >= -0.05'],
      search: {
        workers: 2,
        space: {
          prune: [null, { method: 'structured', sparsity: 0.5 }],
          quantize: [
            { dtype: 'q8', explain: false },
            { dtype: 'q4', explain: false },
          ],
        },
      },
      output: 'out',
    },
    { file: 'search.yaml', dir },
  );
  const { report, failed, files } = await runSearch(config);
  const s = report.search!;
  assert.equal(s.workers, 2);
  assert.deepEqual(
    s.trials.map((t) => t.name),
    ['t1-q8', 't2-q4', 't3-prune-structured0.5+q8', 't4-prune-structured0.5+q4'],
  );
  for (const t of s.trials) assert.equal(t.error, undefined, `${t.name}: ${t.error}`);
  const passing = s.trials.filter((t) => t.passed);
  assert.ok(passing.length > 0);
  const smallest = passing.reduce((a, b) => (a.metrics['size.bytes']!.candidate! <= b.metrics['size.bytes']!.candidate! ? a : b));
  assert.equal(s.best, smallest.name);
  assert.equal(report.candidates[0]!.name, s.best);
  assert.equal(failed.length, 0);
  assert.ok(report.gates!.every((g) => g.passed && g.candidate === s.best));
  assert.ok(s.pareto['size.bytes/accuracy']!.length >= 1);
  assert.ok(s.pareto['latency.p50/accuracy']!.length >= 1);
  assert.ok(report.notes.some((n) => /measured again .* main thread/.test(n)));
  // The pruning both pruned trials share is computed once, by whichever worker got there first.
  const pruned = report.candidates.filter((c) => c.name.includes('prune'));
  assert.equal(pruned.length, 2);
  assert.equal(
    pruned.filter((c) => /reused/.test(c.steps![0]!.notes.join(' '))).length,
    1,
    JSON.stringify(pruned.map((c) => c.steps![0]!.notes)),
  );
  for (const f of files) assert.ok(existsSync(f), f);
  assert.ok(existsSync(path.join(dir, 'out', 'trials', 't4-prune-structured0.5+q4-step2-quantize.onnx')));
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')).search.best, s.best);
});

test('a search where no trial passes its gates fails every gate of every trial', async () => {
  const config = await validateConfig(
    {
      model: 'model.onnx',
      data: { eval: 'digits:200' },
      evaluation: { runs: 3, warmup: 1 },
      gates: ['size.ratio <= 0.001'],
      search: { workers: 1, remeasure: false, space: { quantize: [{ dtype: 'fp16', explain: false }] } },
      output: 'out-none',
    },
    { file: 'search.yaml', dir },
  );
  const { report, failed } = await runSearch(config);
  assert.equal(report.search!.best, undefined);
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.candidate, /^t1-fp16$/);
  assert.ok(report.notes.some((n) => /disturbed/.test(n)));
});

test('a trial that breaks the model is never the best, however small: the fidelity guard fails it with the metric', async () => {
  const config = await validateConfig(
    {
      model: 'model.onnx',
      data: { eval: 'digits:200' },
      evaluation: { runs: 3, warmup: 1 },
      search: {
        workers: 1,
        remeasure: false,
        space: { prune: [null, { method: 'magnitude', sparsity: 0.97 }], quantize: [{ dtype: 'q8', explain: false }] },
      },
      output: 'out-guard',
    },
    { file: 'search.yaml', dir },
  );
  const { report } = await runSearch(config);
  const trials = report.search!.trials;
  const wrecked = trials.find((t) => JSON.stringify(t.config).includes('0.97'))!;
  const plain = trials.find((t) => t !== wrecked)!;
  assert.equal(wrecked.passed, false);
  assert.match(wrecked.failedGates[0]!, /^fidelity guard: .*(accuracy|agreement|cosine)/);
  assert.ok(wrecked.metrics['params.nonzero']!.ratio! < plain.metrics['params.nonzero']!.ratio!, 'the wrecked trial is the smaller one');
  assert.equal(report.search!.best, plain.name);
  assert.equal(report.candidates.find((c) => c.name === wrecked.name)!.guard!.passed, false);
});
