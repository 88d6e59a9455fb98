// A model Shrink can parse but onnxruntime rejects: quantize and prune fail when they measure it, after
// the output was staged; exit 2 must leave no new output, and an existing one (--force) untouched.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { encodeModel } from '@shrink/core';
import { tinyMlp } from '../fuzz/corpus.js';
import { mainInWorker } from '../fuzz/main-in-worker.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-failed-'));
const cli = mainInWorker();
after(async () => {
  await cli.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** The MLP with its Relu reading a value nothing produces: the passes keep it, onnxruntime refuses it. */
function unloadable(): Uint8Array {
  const m = tinyMlp();
  m.graph!.node!.find((n) => n.opType === 'Relu')!.input![0] = 'nowhere';
  return encodeModel(m);
}

for (const [cmd, flags] of [
  ['quantize', ['--dtype', 'q8']],
  ['quantize', ['--dtype', 'q8', '--external-data']],
  ['prune', ['--method', 'magnitude']],
] as const) {
  test(`${cmd} ${flags.join(' ')} of a model onnxruntime rejects: one line, exit 2, no new output left`, async () => {
    const dir = fs.mkdtempSync(path.join(root, `${cmd}-`));
    const input = path.join(dir, 'model.onnx');
    fs.writeFileSync(input, unloadable());
    const out = path.join(dir, 'out.onnx');
    const r = await cli.run([cmd, input, ...flags, '-o', out, '--runs', '1', '--warmup', '0', '--json']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^shrink: .*model\.onnx.*onnxruntime/);
    assert.deepEqual(fs.readdirSync(dir), ['model.onnx']);
    // With --force over an existing output (and its external data), the new model is measured where it
    // is staged: exit 2 leaves the old files byte for byte, and no staging folder.
    fs.writeFileSync(out, 'old model');
    fs.writeFileSync(`${out}_data`, 'old data');
    const again = await cli.run([cmd, input, ...flags, '-o', out, '--force', '--runs', '1', '--warmup', '0', '--json']);
    assert.equal(again.code, 2, again.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), 'old model', 'the old output was replaced by the failed model');
    assert.equal(fs.readFileSync(`${out}_data`, 'utf8'), 'old data', "the old output's external data was replaced");
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'out.onnx', 'out.onnx_data']);
  });
}
