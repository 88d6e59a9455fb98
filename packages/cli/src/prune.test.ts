// `shrink prune` end to end: the real process, a trained digits model, onnxruntime and tfjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';

let dir: string;
let model: string;
const shrink = (...args: string[]) => runShrink(dir, args);
const json = (...args: string[]) => runJson(dir, args);
const metric = (out: Record<string, any>, key: string) => out['report'].candidates[0].metrics[key];

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-p-'));
  const r = shrink('train', '--preset', 'digits-mlp', '--epochs', '5', '-o', path.join(dir, 'digits'));
  assert.equal(r.code, 0, r.stderr);
  model = path.join(dir, 'digits', 'model.onnx');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('magnitude 80 % without fine-tuning breaks the 5-epoch model: exit 2 naming the accuracy lost, nothing written; --allow-degraded writes it marked FAILED', () => {
  const target = path.join(dir, 'digits', 'model_pruned.onnx');
  assertOneLineError(
    shrink('prune', model, '--sparsity', '0.8', '--runs', '3', '--data', 'digits'),
    /model_pruned\.onnx fails the fidelity floor against the baseline: .*accuracy [\d.]+ % -> [\d.]+ % \(-[\d.]+ points, more than 10 lost\); nothing written \(--allow-degraded accepts it\)/,
  );
  assert.equal(existsSync(target), false, 'a degraded model is not written');
  const out = json('prune', model, '--sparsity', '0.8', '--runs', '3', '--data', 'digits', '--allow-degraded');
  assert.equal(out['output'], target);
  const guard = out['report'].candidates[0].guard;
  assert.equal(guard.passed, false);
  assert.ok(
    guard.failures.some((f: { metric: string }) => f.metric === 'accuracy'),
    JSON.stringify(guard),
  );
  assert.equal(metric(out, 'macs').ratio, 1);
  const nz = metric(out, 'params.nonzero').ratio;
  assert.ok(nz > 0.19 && nz < 0.22, `non-zero ratio ${nz}`);
  assert.ok(metric(out, 'size.gzipBytes').ratio < 0.4, `gzip ratio ${metric(out, 'size.gzipBytes').ratio}`);
  for (const l of out['pruning'].layers) assert.ok(Math.abs(l.sparsity - 0.8) < 1e-3, `${l.name}: ${l.sparsity}`);
});

test('structured 50 %: fewer parameters and MACs for real, runs in onnxruntime; fine-tuning recovers accuracy', () => {
  // Without fine-tuning, half the units of a 5-epoch model is too much for the fidelity guard.
  const once = json(
    'prune',
    model,
    '--method',
    'structured',
    '--sparsity',
    '0.5',
    '-o',
    path.join(dir, 's.onnx'),
    '--runs',
    '3',
    '--data',
    'digits',
    '--allow-degraded',
  );
  assert.ok(metric(once, 'macs').ratio < 0.4, `MACs ratio ${metric(once, 'macs').ratio}`);
  assert.ok(metric(once, 'size.bytes').ratio < 0.4);
  const tuned = json(
    'prune',
    model,
    '--method',
    'structured',
    '--sparsity',
    '0.5',
    '--finetune',
    '--epochs',
    '3',
    '-o',
    path.join(dir, 'st.onnx'),
    '--runs',
    '3',
    '--data',
    'digits',
  );
  assert.ok(
    metric(tuned, 'accuracy').candidate > metric(once, 'accuracy').candidate,
    `${metric(once, 'accuracy').candidate} -> ${metric(tuned, 'accuracy').candidate}`,
  );
  assert.ok(metric(tuned, 'accuracy').delta > -0.03, JSON.stringify(metric(tuned, 'accuracy')));
  assert.equal(metric(tuned, 'macs').candidate, metric(once, 'macs').candidate);
  assert.equal(tuned['report'].candidates[0].guard.passed, true, 'fine-tuned, it passes the fidelity guard');
});

test('--max-accuracy-drop missed even with every layer kept (fine-tuning at a rate that wrecks the model): exit 2 naming the limit, not "changed nothing"; nothing written', () => {
  const target = path.join(dir, 'unmet.onnx');
  assertOneLineError(
    shrink(
      'prune',
      model,
      '--sparsity',
      '0.5',
      '--finetune',
      '--epochs',
      '1',
      '--lr',
      '0.05',
      '--max-accuracy-drop',
      '0.01',
      '--data',
      'digits',
      '-o',
      target,
      '--json',
    ),
    /^shrink: unmet\.onnx fails the fidelity floor against the baseline: accuracy fallback limit not met on digits:test: drop [\d.]+ points > drop 1\.00 points \(no changed node is left to keep as it was\); nothing written \(--allow-degraded accepts it\)$/,
  );
  assert.equal(existsSync(target), false);
});

test('N:M 2:4 halves the non-zeros of every pruned layer', () => {
  // One-shot 2:4 on a 5-epoch model moves the top-1 class of many synthetic inputs: allowed here, the layout is the point.
  const out = json(
    'prune',
    model,
    '--method',
    'nm',
    '--n',
    '2',
    '--m',
    '4',
    '-o',
    path.join(dir, 'nm.onnx'),
    '--runs',
    '3',
    '--allow-degraded',
  );
  for (const l of out['pruning'].layers.filter((x: { action: string }) => x.action === 'pruned'))
    assert.ok(Math.abs(l.sparsity - 0.5) < 1e-9, `${l.name}: ${l.sparsity}`);
});

test('bad prune input: one line, exit 2, nothing written', () => {
  const out = path.join(dir, 'bad.onnx');
  assertOneLineError(shrink('prune', model, '--sparsity', '1', '-o', out), /--sparsity: must be < 1, got 1/);
  assertOneLineError(
    shrink('prune', model, '--method', 'nm', '--n', '5', '--m', '4', '-o', out),
    /need whole numbers 1 <= n <= m, got n=5, m=4/,
  );
  assertOneLineError(shrink('prune', model, '--include', 'nope', '-o', out), /nope/);
  assertOneLineError(
    shrink('prune', model, '--schedule', 'cubic', '-o', out),
    /--schedule: fine-tuning needs training data, and none is given \(give --data\)/,
  );
  assertOneLineError(
    shrink('prune', model, '--method', 'nm', '--schedule', 'cubic', '--data', 'digits', '-o', out),
    /--schedule: gradual pruning is by magnitude; method nm has no schedule/,
  );
  assert.equal(existsSync(out), false);
});
