// `shrink distill` end to end: the real process, a trained digits teacher, onnxruntime and tfjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';

let dir: string;
let teacher: string;
const shrink = (...args: string[]) => runShrink(dir, args);
const json = (...args: string[]) => runJson(dir, args);

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-d-'));
  const r = shrink('train', '--preset', 'digits-mlp', '--epochs', '8', '-o', path.join(dir, 'teacher'));
  assert.equal(r.code, 0, r.stderr);
  teacher = path.join(dir, 'teacher', 'model.onnx');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('distil into 64-16-10 with a scratch baseline: files, the teacher-vs-students table, and a cache hit on the rerun', () => {
  const cache = path.join(dir, 'cache');
  const common = [
    'distill',
    '--teacher',
    teacher,
    '--student',
    '64-16-10',
    '--data',
    'digits',
    '--epochs',
    '10',
    '--lr',
    '0.005',
    '--runs',
    '5',
    '--cache-dir',
    cache,
  ];
  const out = json(...common, '--baseline-scratch', '-o', 'out');
  const o = path.join(dir, 'out');
  for (const f of [
    'student.onnx',
    'scratch.onnx',
    'report.json',
    'distillation.json',
    'student-tfjs/model.json',
    'scratch-tfjs/model.json',
  ]) {
    assert.ok(existsSync(path.join(o, f)), f);
  }
  const [student, scratch] = out['report'].candidates;
  assert.equal(student.name, 'student.onnx');
  assert.equal(scratch.name, 'scratch.onnx');
  const m = student.metrics;
  // Teacher 64-256-128-10 (~50k parameters) vs 1,210: about 1/40.
  assert.ok(m['params'].ratio < 0.03, `params ratio ${m['params'].ratio}`);
  assert.ok(m['accuracy'].candidate > 0.85, `student accuracy ${m['accuracy'].candidate}`);
  assert.ok(m['fidelity.top1Agreement'].candidate > 0.85);
  assert.ok(m['fidelity.meanKL'].candidate >= 0 && m['fidelity.meanKL'].candidate < 1);
  for (const k of ['size.bytes', 'macs', 'latency.p50', 'energy.perInference', 'co2e.perMillion']) assert.ok(m[k].ratio > 0, k);
  assert.ok(scratch.metrics['accuracy'].candidate > 0.5);
  const d = out['distillation'];
  assert.equal(d.teacher.cache, 'miss');
  assert.equal(d.training.history.length, 10);
  assert.ok(d.scratch.test.accuracy > 0.5);
  const saved = JSON.parse(readFileSync(path.join(o, 'report.json'), 'utf8'));
  assert.equal(saved.schema, 'shrink.report/v1');
  assert.equal(readdirSync(path.join(cache, 'teacher')).filter((f) => f.endsWith('.json')).length, 2);

  assert.equal(student.guard.passed, true, 'a 10-epoch student agrees with its teacher');
  assert.equal(scratch.guard, undefined, 'the from-scratch reference is not judged');

  // One epoch teaches the student too little for the fidelity guard: allowed here, the cache is the point.
  const again = json(...common.map((a) => (a === '10' ? '1' : a)), '-o', 'out2', '--allow-degraded');
  assert.equal(again['distillation'].teacher.cache, 'hit');
  assert.equal(again['report'].candidates[0].guard.passed, false);
  // Outputs are never replaced silently.
  assertOneLineError(shrink(...common, '-o', 'out'), /student\.onnx exists; choose another -o or pass --force/);
});

test('bad input: temperature, alpha, a student that does not fit the teacher — one line, exit 2, nothing trained', () => {
  const base = ['distill', '--teacher', teacher, '--data', 'digits', '--no-cache', '-o', 'bad'];
  assertOneLineError(shrink(...base, '--student', '64-16-10', '--temperature', '0'), /--temperature: .*(> ?0|positive|too small)/i);
  assertOneLineError(shrink(...base, '--student', '64-16-10', '--alpha', '1.5'), /--alpha/);
  assertOneLineError(shrink(...base, '--student', '64-16-7'), /has 7 outputs but the data has 10 classes/);
  assert.ok(!existsSync(path.join(dir, 'bad', 'student.onnx')));
});
