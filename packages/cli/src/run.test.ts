// `shrink run` end to end: the real process on a trained digits model; exit 0 (gates hold, all four
// reports written), 1 (a gate fails: listed on stderr, table still on stdout), 2 (bad config, nothing run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertOneLineError, runShrink } from './cli.fixture.js';
import { digitsModel } from './pipeline/pipeline.fixture.js';

let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-run-'));
  await digitsModel(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, ['model: model.onnx', 'evaluation: { runs: 5, warmup: 1 }', ...lines].join('\n'));
  return file;
}

/**
 * `shrink run file` refuses a degraded model (exit 2, `lastLine` on stderr, the output folder gone), and
 * with --allow-degraded writes it marked FAILED: returns that run's stdout and report.json.
 */
function refusedThenKept(file: string, output: string, lastLine: RegExp): { stdout: string; report: any } {
  const r = runShrink(dir, ['run', file]);
  // Progress lines come first on stderr; the error is the one line after them.
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.match(r.stderr.trim().split('\n').at(-1)!, lastLine);
  assert.ok(!existsSync(path.join(dir, output)), 'the folder the run made holds nothing and is gone');
  const kept = runShrink(dir, ['run', file, '--allow-degraded']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, /FAILED the fidelity guard/);
  return { stdout: kept.stdout, report: JSON.parse(readFileSync(path.join(dir, output, 'report.json'), 'utf8')) };
}

test('prune -> quantize with gates that hold: exit 0, step models and report.json/md/html/txt in the output folder', () => {
  const file = config('ok.yaml', [
    'data: { eval: digits, train: digits }',
    'steps:',
    '  - prune: { method: magnitude, sparsity: 0.5, finetune: true, epochs: 1 }',
    '  - quantize: { dtype: q8 }',
    'gates:',
    '  - accuracy.delta >= -0.05',
    '  - size.ratio <= 0.3',
    'output: out-ok',
  ]);
  const r = runShrink(path.join(dir, '..'), ['run', file]);
  assert.equal(r.code, 0, r.stderr);
  const out = path.join(dir, 'out-ok');
  for (const f of ['report.json', 'report.md', 'report.html', 'report.txt', 'step1-prune.onnx', 'step2-quantize.onnx'])
    assert.ok(existsSync(path.join(out, f)), f);
  assert.match(r.stdout, /Accuracy \(top-1\)/);
  assert.match(r.stdout, /PASS {2}size\.ratio <= 0\.3/);
  const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.deepEqual(
    report.gates.map((g: { passed: boolean }) => g.passed),
    [true, true],
  );
  const cand = report.candidates[0];
  assert.deepEqual(
    cand.steps.map((s: { kind: string }) => s.kind),
    ['prune', 'quantize'],
  );
  assert.ok(cand.steps[0].energy.joules > 0, 'the fine-tuning step has an energy figure');
  assert.equal(cand.steps[1].energy, undefined);
  assert.ok(cand.layers.some((l: { sparsity?: number }) => l.sparsity === 0.5));
  assert.ok(cand.layers.some((l: { sqnrDb?: number }) => typeof l.sqnrDb === 'number' && l.sqnrDb > 20));
  assert.ok(cand.metrics['size.bytes'].ratio < 0.3);
  // A pruned weight is zero in any dtype: after q8 its code is the zero point, not a non-zero parameter.
  const nz = cand.metrics['params.nonzero'];
  assert.ok(nz.ratio > 0.45 && nz.ratio < 0.6, `non-zero parameters ${nz.candidate} of ${nz.baseline}`);
  assert.equal(cand.guard.passed, true);
  assert.ok(readFileSync(path.join(out, 'report.md'), 'utf8').length > 0);
});

test('a gate that fails: exit 1, each failed gate with the values it saw on stderr, the table on stdout', () => {
  const file = config('fail.yaml', [
    'data: { eval: digits }',
    'steps: [{ quantize: { dtype: q8, explain: false } }]',
    'gates: ["size.ratio <= 0.01", "accuracy.delta >= -0.5"]',
    'output: out-fail',
  ]);
  const r = runShrink(dir, ['run', file]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines.at(-2)!, /^gate failed: size\.ratio <= 0\.01 \[step1-quantize\.onnx\] \(size\.bytes\.ratio = 0\.2\d+\)$/);
  assert.match(lines.at(-1)!, /^shrink: 1 of 2 gate\(s\) failed; report in .*out-fail$/);
  assert.match(r.stdout, /FAIL {2}size\.ratio <= 0\.01/);
  assert.ok(existsSync(path.join(dir, 'out-fail', 'report.html')));
});

test('a bad config: exit 2, one line naming the gate, nothing run or written', () => {
  const file = config('bad.yaml', [
    'data: { eval: digits }',
    'steps: [{ quantize: { dtype: q8 } }]',
    'gates: ["size.ratio <= 0.3", "cos.constructor(1) > 0"]',
    'output: out-bad',
  ]);
  assertOneLineError(
    runShrink(dir, ['run', file]),
    /bad\.yaml: gates\[1\] "cos\.constructor\(1\) > 0": calling an expression is not allowed/,
  );
  assert.equal(existsSync(path.join(dir, 'out-bad')), false);
});

test("a step that misses its own maxAccuracyDrop, though within the guard's 10-point floor: exit 2 naming the step and the limit; allowDegraded keeps it, FAILED", () => {
  // Fine-tuning at this rate costs the 2-epoch model about 4 points even with every layer kept unpruned,
  // so the fallback cannot reach a zero drop. The guard's own floor (10 points) would let it through.
  const lines = [
    'data: { eval: digits, train: digits }',
    'steps:',
    '  - prune: { method: magnitude, sparsity: 0.5, finetune: true, epochs: 1, lr: 0.03, maxAccuracyDrop: 0 }',
  ];
  const file = config('unmet.yaml', [...lines, 'output: out-unmet']);
  const kept = refusedThenKept(
    file,
    'out-unmet',
    /^shrink: steps\[0\]\.prune: the prune step's model fails the fidelity floor against the baseline: accuracy fallback limit not met on digits:test: drop [\d.]+ points > drop 0\.00 points \(no changed node is left to keep as it was\); it was not saved \(--allow-degraded accepts it\)$/,
  );
  assert.match(kept.stdout, /FAILED the fidelity guard .*steps\[0\]\.prune: accuracy fallback limit not met/);
  const guard = kept.report.candidates[0].guard;
  assert.equal(guard.passed, false);
  const failure = guard.failures.find((f: { metric: string }) => f.metric === 'fallback.accuracy');
  assert.ok(failure && failure.value > 0 && failure.floor === 0, JSON.stringify(guard));
});

test('a step that breaks the model: exit 2 naming the step and the metric, its model and later ones removed; --allow-degraded keeps them, marked FAILED', () => {
  // 95 % magnitude without fine-tuning wrecks a 2-epoch digits model; the q8 after it cannot help.
  const lines = [
    'data: { eval: digits }',
    'steps:',
    '  - prune: { method: magnitude, sparsity: 0.95 }',
    '  - quantize: { dtype: q8, explain: false }',
  ];
  const file = config('degraded.yaml', [...lines, 'output: out-degraded']);
  const { report } = refusedThenKept(
    file,
    'out-degraded',
    /^shrink: steps\[0\]\.prune: step1-prune\.onnx fails the fidelity floor against the baseline: .*(accuracy|top-1 agreement|cosine).*; its model and those after it were removed \(--allow-degraded accepts it\)$/,
  );
  assert.equal(report.candidates[0].guard.passed, false);
  assert.match(readFileSync(path.join(dir, 'out-degraded', 'report.md'), 'utf8').split('\n')[0]!, /❌/);
  for (const f of ['step1-prune.onnx', 'step2-quantize.onnx']) assert.ok(existsSync(path.join(dir, 'out-degraded', f)), f);
});
