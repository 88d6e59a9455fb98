// Cleanup through the registry, as a user meets it: the real `shrink` process (tsx on the sources) runs
// `shrink cleanup`, a `shrink run` pipeline with a cleanup step, `--print-schema` and a search whose
// space names cleanup. Nothing in the CLI names cleanup: all of it comes from the registry's one entry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel } from '@shrink/core';
import { assertSameOutputs, runOrt, seededFloats } from './ort.fixture.js';

const bin = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/torch-cleanup-cnn.onnx', import.meta.url));
const TSX = import.meta.resolve('tsx');

function shrink(cwd: string, args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, '--conditions=@shrink/source', bin, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const rand = seededFloats(9);
const feeds = Array.from({ length: 3 }, () => ({ input: { data: Float32Array.from(rand(64)), dims: [1, 1, 8, 8] } }));
const load = (file: string) => decodeModel(readFileSync(file));

/** The model computes what the fixture computes, in onnxruntime as users run it. */
async function sameAsFixture(file: string): Promise<void> {
  for (const f of feeds) assertSameOutputs(await runOrt(load(fixture), f, { level: 'all' }), await runOrt(load(file), f, { level: 'all' }));
}

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-cleanup-'));
  copyFileSync(fixture, path.join(dir, 'model.onnx'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('shrink cleanup --help lists the flags made from the options schema', () => {
  const r = shrink(dir, ['cleanup', '--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const flag of [
    '--remove-identity',
    '--fold-constants',
    '--fold-batch-norm',
    '--remove-dead-nodes',
    '--constants-to-initializers',
    '--dedupe-initializers',
    '--output',
  ])
    assert.match(r.stdout, new RegExp(`${flag}\\b`));
  assert.match(shrink(dir, ['--help']).stdout, /shrink cleanup <model>/);
});

test('shrink cleanup MODEL -o OUT: 30 -> 13 nodes, measured against the input, same outputs', async () => {
  const r = shrink(dir, ['cleanup', 'model.onnx', '-o', 'clean.onnx', '--runs', '5', '--warmup', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.output, path.join(dir, 'clean.onnx'));
  assert.equal(out.cleanup.nodesBefore, 30);
  assert.equal(out.cleanup.nodesAfter, 13);
  const cand = out.report.candidates[0];
  assert.equal(
    cand.notes[0],
    'removed 2 Identity/Dropout, folded 11 constant nodes, removed 4 dead nodes, stored 0 Constant nodes as initializers',
  );
  assert.equal(cand.guard.passed, true);
  assert.equal(load(path.join(dir, 'clean.onnx')).graph!.node!.length, 13);
  await sameAsFixture(path.join(dir, 'clean.onnx'));
  // A flag turns a step off.
  const r2 = shrink(dir, [
    'cleanup',
    'model.onnx',
    '-o',
    'fold-only.onnx',
    '--no-remove-identity',
    '--no-remove-dead-nodes',
    '--no-constants-to-initializers',
    '--runs',
    '3',
    '--warmup',
    '1',
    '--json',
  ]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(JSON.parse(r2.stdout).cleanup.nodesAfter, 19);
});

test('shrink run: steps [cleanup, quantize q8]; the cleanup step model computes what the input does', async () => {
  writeFileSync(
    path.join(dir, 'run.yaml'),
    ['model: model.onnx', 'steps: [{cleanup: {}}, {quantize: {dtype: q8}}]', 'evaluation: { runs: 5, warmup: 1 }', 'output: out-run'].join(
      '\n',
    ),
  );
  const r = shrink(dir, ['run', 'run.yaml']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(path.join(dir, 'out-run', 'report.json'), 'utf8'));
  const cand = report.candidates[0];
  assert.deepEqual(
    cand.steps.map((s: { kind: string }) => s.kind),
    ['cleanup', 'quantize'],
  );
  assert.ok(
    cand.notes.includes(
      'cleanup: removed 2 Identity/Dropout, folded 11 constant nodes, removed 4 dead nodes, stored 0 Constant nodes as initializers',
    ),
    cand.notes.join('\n'),
  );
  // With the Transpose folded, MatMul's weight is a constant the quantizer takes: all 4 weighted nodes.
  assert.ok(cand.notes.includes('quantize: q8 dynamic: 4 of 4 candidate nodes quantized'), cand.notes.join('\n'));
  await sameAsFixture(path.join(dir, 'out-run', 'step1-cleanup.onnx'));
  assert.ok(existsSync(path.join(dir, 'out-run', 'step2-quantize.onnx')));
});

test('shrink run --print-schema has a cleanup step and cleanup search variants, first in registry order', () => {
  const r = shrink(dir, ['run', '--print-schema']);
  assert.equal(r.code, 0, r.stderr);
  const schema = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(schema.properties.steps.items.properties), ['cleanup', 'distill', 'prune', 'quantize']);
  assert.deepEqual(Object.keys(schema.properties.steps.items.properties.cleanup.properties), [
    'removeIdentity',
    'foldConstants',
    'foldBatchNorm',
    'removeDeadNodes',
    'constantsToInitializers',
    'dedupeInitializers',
  ]);
  assert.ok(schema.properties.search.properties.space.properties.cleanup);
});

test('shrink search over { cleanup: [null, {}], quantize: [q8] }: two trials, cleanup applied before quantize', () => {
  writeFileSync(
    path.join(dir, 'search.yaml'),
    [
      'model: model.onnx',
      'data: { eval: digits }',
      'evaluation: { runs: 5, warmup: 1 }',
      'search: { workers: 2, space: { cleanup: [null, {}], quantize: [{dtype: q8}] } }',
      'output: out-search',
    ].join('\n'),
  );
  const r = shrink(dir, ['search', 'search.yaml']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(readFileSync(path.join(dir, 'out-search', 'report.json'), 'utf8')).search;
  assert.deepEqual(
    s.trials.map((t: { name: string }) => t.name),
    ['t1-q8', 't2-cleanup+q8'],
  );
  for (const t of s.trials) assert.equal(t.error, undefined, `${t.name}: ${t.error}`);
  assert.ok(existsSync(path.join(dir, 'out-search', 'trials', 't2-cleanup+q8-step1-cleanup.onnx')));
});
