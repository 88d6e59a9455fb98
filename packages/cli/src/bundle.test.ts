// The `shrink` that ships is a bundle (bundle.mjs): the other tests run the sources, so this one builds
// the bundle and runs what a bundle can get wrong: files found beside a module (the digits asset, tfjs's
// .wasm, the search worker's entry), packages left outside it (onnxruntime-node, tfjs, mathjs), and
// commands loaded on demand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNode, runShrink, type Run } from './cli.fixture.js';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let outdir: string;
let dir: string;
let built: (args: readonly string[]) => Run;

before(() => {
  // Inside the package, so the packages left outside the bundle resolve as they do from dist/shrink/.
  outdir = mkdtempSync(path.join(cliDir, '.bundle-test-'));
  const b = runNode([path.join(cliDir, 'bundle.mjs'), '--outdir', outdir], cliDir, 120_000);
  assert.equal(b.code, 0, b.stderr);
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-bundle-'));
  built = (args) => runNode([path.join(outdir, 'bin.js'), ...args], dir, 300_000);
});
after(() => {
  rmSync(outdir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

test('bundled: --help lists every command, the registry passes among them; a typo gets a suggestion', () => {
  const r = built(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const c of [
    'demo',
    'train',
    'info',
    'bench',
    'eval',
    'compare',
    'convert',
    'cleanup',
    'distill',
    'prune',
    'quantize',
    'run',
    'search',
  ]) {
    assert.match(r.stdout, new RegExp(`shrink ${c}\\b`), c);
  }
  const typo = built(['quantise']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /Did you mean quantize/);
});

test('bundled: train (tfjs wasm, the vendored digits), then info and quantize q8 give what the sources give, byte for byte', () => {
  const t = built(['train', '--preset', 'digits-mlp', '--epochs', '1', '-o', 'trained', '--json']);
  assert.equal(t.code, 0, t.stderr);
  const model = path.join('trained', 'model.onnx');
  const info = built(['info', model, '--json']);
  assert.equal(info.code, 0, info.stderr);
  const fromSources = runShrink(dir, ['info', model, '--json']);
  assert.equal(fromSources.code, 0, fromSources.stderr);
  assert.deepEqual(JSON.parse(info.stdout), JSON.parse(fromSources.stdout));
  const q = built([
    'quantize',
    model,
    '--dtype',
    'q8',
    '--allow-slower',
    '--data',
    'digits',
    '--runs',
    '5',
    '-o',
    'built-q8.onnx',
    '--json',
  ]);
  assert.equal(q.code, 0, q.stderr);
  const s = runShrink(dir, [
    'quantize',
    model,
    '--dtype',
    'q8',
    '--allow-slower',
    '--data',
    'digits',
    '--runs',
    '5',
    '-o',
    'source-q8.onnx',
    '--json',
  ]);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(readFileSync(path.join(dir, 'built-q8.onnx')).equals(readFileSync(path.join(dir, 'source-q8.onnx'))));
  const acc = (out: string) =>
    (JSON.parse(out) as { report: { candidates: Array<{ metrics: Record<string, { candidate?: number }> }> } }).report.candidates[0]!
      .metrics['accuracy']!.candidate;
  assert.equal(acc(q.stdout), acc(s.stdout));
});

test('bundled: search on 2 worker threads with a gate (mathjs): every trial runs', () => {
  const t = built(['train', '--preset', 'digits-mlp', '--epochs', '1', '-o', 'for-search']);
  assert.equal(t.code, 0, t.stderr);
  const config = {
    model: 'for-search/model.onnx',
    data: { eval: 'digits' },
    evaluation: { runs: 3, warmup: 1 },
    gates: ['accuracy.delta >= -0.5'],
    search: {
      workers: 2,
      space: {
        quantize: [
          { dtype: 'q8', explain: false },
          { dtype: 'q4', explain: false },
        ],
      },
    },
    output: 'search-out',
  };
  writeFileSync(path.join(dir, 'search.yaml'), JSON.stringify(config));
  const r = built(['search', 'search.yaml', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(path.join(dir, 'search-out', 'report.json'), 'utf8')) as {
    search: { workers: number; trials: Array<{ name: string; error?: string; passed: boolean }> };
  };
  assert.equal(report.search.workers, 2);
  assert.deepEqual(
    report.search.trials.map((x) => x.name),
    ['t1-q8', 't2-q4'],
  );
  for (const x of report.search.trials) assert.equal(x.error, undefined, `${x.name}: ${x.error}`);
  assert.ok(report.search.trials.some((x) => x.passed));
});

test("bundled: zod's messages (English only in the bundle) read as from the sources", () => {
  writeFileSync(path.join(dir, 'bad.yaml'), JSON.stringify({ model: 'x.onnx', steps: [{ quantize: { dtype: 'q9', blockSize: 'big' } }] }));
  const b = built(['run', 'bad.yaml']);
  const s = runShrink(dir, ['run', 'bad.yaml']);
  assert.equal(b.code, 2);
  assert.equal(b.stderr, s.stderr);
  assert.match(b.stderr, /steps\[0\]\.quantize/);
});
