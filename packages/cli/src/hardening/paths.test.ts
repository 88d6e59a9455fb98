// Paths end to end through the CLI (core's io tests cover the functions): files reached through a
// symlink out of the model's folder are refused, and an output aimed at an input through a link is
// refused even with --force.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encodeModel } from '@shrink/core';
import { buildCorpus, tinyMlp, type Corpus } from '../fuzz/corpus.js';
import { mainInWorker } from '../fuzz/main-in-worker.js';
import { assertValidModel } from './check-onnx.fixture.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-paths-'));
const cli = mainInWorker();
let corpus: Corpus;
before(async () => {
  corpus = await buildCorpus(path.join(root, 'corpus'));
});
after(async () => {
  await cli.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function assertOneLine(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^shrink: /);
  assert.match(lines[0]!, pattern);
}

test('a tfjs weight shard that is a symlink out of the folder is refused, naming the file', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'tfjs-'));
  const outside = fs.mkdtempSync(path.join(root, 'outside-'));
  fs.writeFileSync(path.join(outside, corpus.tfjs.weightsName), corpus.tfjs.weights);
  fs.writeFileSync(path.join(dir, 'model.json'), corpus.tfjs.modelJson);
  fs.symlinkSync(path.join(outside, corpus.tfjs.weightsName), path.join(dir, corpus.tfjs.weightsName));
  for (const argv of [
    ['info', dir, '--json'],
    ['quantize', dir, '--dtype', 'q8', '-o', path.join(root, 'q'), '--json'],
    ['convert', dir, '-o', path.join(root, 'c.onnx')],
  ]) {
    assertOneLine(await cli.run(argv), new RegExp(corpus.tfjs.weightsName.replace(/\./g, '\\.')));
  }
  assert.ok(!fs.existsSync(path.join(root, 'q')) && !fs.existsSync(path.join(root, 'c.onnx')));
});

test('external data reached through a symlink out of the folder is refused by every command that reads models', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'ext-'));
  const outside = fs.mkdtempSync(path.join(root, 'outside-'));
  const m = tinyMlp();
  const w1 = (m.graph!.initializer ?? []).find((t) => t.name === 'w1')!;
  fs.writeFileSync(path.join(outside, 'w1.bin'), w1.rawData!);
  fs.symlinkSync(path.join(outside, 'w1.bin'), path.join(dir, 'w1.bin'));
  w1.rawData = new Uint8Array(0);
  w1.dataLocation = 1;
  w1.externalData = [{ key: 'location', value: 'w1.bin' }];
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, encodeModel(m));
  for (const cmd of [
    ['info'],
    ['quantize', '--dtype', 'q8', '-o', path.join(dir, 'q.onnx')],
    ['prune', '-o', path.join(dir, 'p.onnx')],
    ['convert', '-o', path.join(dir, 'c.onnx')],
  ]) {
    const [name, ...flags] = cmd;
    assertOneLine(await cli.run([name!, file, ...flags, '--json']), /w1\.bin/);
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'w1.bin']);
});

test('an output that is the input through a symlink or a hard link: refused without --force; with it, the link is replaced and the input stays intact', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'links-'));
  const input = path.join(dir, 'model.onnx');
  fs.writeFileSync(input, encodeModel(tinyMlp()));
  const bytes = fs.readFileSync(input);
  for (const out of ['soft.onnx', 'hard.onnx']) {
    for (const cmd of [['quantize', '--dtype', 'q8'], ['prune'], ['convert']]) {
      const link = path.join(dir, out);
      fs.rmSync(link, { force: true });
      if (out === 'soft.onnx') fs.symlinkSync(input, link);
      else fs.linkSync(input, link);
      const [name, ...flags] = cmd;
      const argv = [name!, input, ...flags, '-o', link, '--runs', '1', '--warmup', '0', '--json'];
      if (name === 'convert') argv.splice(argv.indexOf('--runs'), 4);
      assertOneLine(await cli.run(argv), /refusing to overwrite input|exists/);
      assert.ok(fs.readFileSync(input).equals(bytes), `${name} -o ${out} changed the input`);
      // --force allows replacing an input; the rename replaces the link, never the bytes it pointed to.
      const forced = await cli.run([...argv, '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.ok(fs.readFileSync(input).equals(bytes), `${name} -o ${out} --force changed the input's bytes`);
      assert.ok(!fs.lstatSync(link).isSymbolicLink() && fs.statSync(link).ino !== fs.statSync(input).ino);
      await assertValidModel(link);
    }
  }
});
