// End-to-end: `shrink demo` on the digits preset, twice with one cache: the first run trains and caches the
// weights under their content hash, the second takes them from the cache; both write the reports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runShrink } from '../cli.fixture.js';

let dir: string;
const saved = process.env['SHRINK_CACHE_DIR'];

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-demo-'));
  // runShrink passes process.env to the shrink process: its cache is this test's own.
  process.env['SHRINK_CACHE_DIR'] = path.join(dir, 'cache');
});
after(() => {
  if (saved === undefined) delete process.env['SHRINK_CACHE_DIR'];
  else process.env['SHRINK_CACHE_DIR'] = saved;
  rmSync(dir, { recursive: true, force: true });
});

function demo(out: string) {
  const r = runShrink(dir, ['demo', '--presets', 'digits-mlp', '--runs', '5', '-o', out], 900_000);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

function fp32Accuracy(out: string): number {
  const summary = JSON.parse(readFileSync(path.join(dir, out, 'report.json'), 'utf8')) as {
    html: string;
    presets: Array<{ preset: string; weights: string; train: { test: { accuracy: number } } }>;
  };
  assert.equal(summary.html, path.join(dir, out, 'report.html'));
  assert.equal(summary.presets[0]?.preset, 'digits-mlp');
  return summary.presets[0]!.train.test.accuracy;
}

test('demo writes report.html/.md/.json for the run and each preset, prints the HTML to open, and reuses cached weights', () => {
  const first = demo('one');
  assert.match(first.stderr, /digits-mlp: trained now \(20 epochs, .*cached in .*digits-mlp-[0-9a-f]{16}, hash [0-9a-f]{12}\)/);
  const html = path.join(dir, 'one', 'report.html');
  assert.equal(first.stdout.trim().split('\n').at(-1), `open ${html}`);
  for (const f of ['report.json', 'report.md', 'report.html']) assert.ok(existsSync(path.join(dir, 'one', f)), f);
  for (const f of ['report.json', 'report.md', 'report.html', 'report.txt'])
    assert.ok(existsSync(path.join(dir, 'one', 'digits-mlp', f)), f);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<a href="digits-mlp\/report.html">digits-mlp<\/a>: trained now/);
  assert.match(page, /<td>q8 dynamic<\/td>/);
  assert.match(readFileSync(path.join(dir, 'one', 'report.md'), 'utf8'), /\| digits-mlp \| fp32 \| \d+\.\d\d% acc \|/);
  assert.match(readFileSync(path.join(dir, 'one', 'digits-mlp', 'report.html'), 'utf8'), /^<!doctype html>/);

  const second = demo('two');
  assert.match(
    second.stderr,
    /digits-mlp: trained weights from .*model\.json \(cache; hash [0-9a-f]{12}, \d+\.\d\d % test accuracy; 20 epochs of digits\)/,
  );
  assert.doesNotMatch(second.stderr, /trained now/);
  // The same weights: the fp32 model measures the same in onnxruntime.
  assert.equal(fp32Accuracy('two'), fp32Accuracy('one'));
});
