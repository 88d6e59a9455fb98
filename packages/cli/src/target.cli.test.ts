// --target (issue #14, first slice): the output is checked against the target runtime's op table and
// measured in that runtime where this machine has it: onnxruntime-web's WASM backend for `wasm`. The
// transformer fixture is Shrink's own BERT export (3 int64 inputs, 2 outputs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { attr, isShrinkError, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { loadModel } from '@shrink/core/io';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';
import { targetFromArgv, targetNotes } from './target-flag.js';

const BERT = fileURLToPath(new URL('../../../fixtures/transformers/bert-tiny.onnx', import.meta.url));
let dir: string;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-target-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

type Report = { candidates: Array<{ notes?: string[]; metrics: Record<string, { candidate?: number; method?: string }> }> };

test('--target wasm: q8 measured in onnxruntime-web (latency method names it), every output at cosine >= 0.999 there', () => {
  const out = path.join(dir, 'bert-wasm.onnx');
  const r = runJson(dir, ['quantize', BERT, '--dtype', 'q8', '--target', 'wasm', '-o', out, '--runs', '5']);
  const cand = (r['report'] as Report).candidates[0]!;
  assert.match(cand.metrics['latency.p50']?.method ?? '', /^interleaved .*onnxruntime-web 1\.30\.\d+ WASM/);
  assert.ok(
    (cand.metrics['fidelity.cosineSimilarity']?.candidate ?? 0) >= 0.999,
    JSON.stringify(cand.metrics['fidelity.cosineSimilarity']),
  );
  assert.ok(
    cand.notes?.some((n) => /^target wasm \(onnxruntime-web-wasm\): measured in onnxruntime-web/.test(n)),
    cand.notes?.join('\n'),
  );
});

test('--target webgpu: said not measured under Node; q8 picks int8 storage with float compute for MatMul (no integer kernel there); the op table flags the rest', async () => {
  const out = path.join(dir, 'bert-webgpu.onnx');
  const r = runJson(dir, ['quantize', BERT, '--dtype', 'q8', '--target', 'webgpu', '-o', out, '--runs', '3']);
  const notes = (r['report'] as Report).candidates[0]!.notes ?? [];
  assert.ok(
    notes.some((n) => /NOT measured on WebGPU/.test(n)),
    notes.join('\n'),
  );
  assert.ok(
    notes.some((n) => /^target webgpu: MatMul\/Gemm weights stored int8 and computed in float/.test(n)),
    notes.join('\n'),
  );
  // No MatMulInteger is left for WebGPU to hand to the CPU: every quantized MatMul reads a Cast + Mul weight.
  const nodes = (await loadModel(out)).graph?.node ?? [];
  assert.equal(nodes.filter((n) => n.opType === 'MatMulInteger').length, 0);
  assert.ok(nodes.some((n) => n.opType === 'Cast' && /_weight_cast$/.test(n.name ?? '')));
  // The op table still names what falls back (the Gather of the embeddings stays integer).
  assert.ok(
    notes.every((n) => !/MatMulInteger nodes/.test(n)),
    notes.join('\n'),
  );
});

test('a name that is not a target: one line listing the targets, exit 2, nothing written', () => {
  assertOneLineError(
    runShrink(dir, ['quantize', BERT, '--dtype', 'q8', '--target', 'tpu', '-o', path.join(dir, 'never.onnx')]),
    /--target: 'tpu' is not a target; valid: cpu, .*wasm, webgpu$/,
  );
});

test('a form the target rejects ends the command naming the node and the source (MatMulNBits with 3 bits)', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode(
          'MatMulNBits',
          ['a', 'b', 's'],
          ['y'],
          { K: attr.int(32), N: attr.int(4), bits: attr.int(3), block_size: attr.int(32) },
          { name: 'mm3', domain: 'com.microsoft' },
        ),
      ],
      inputs: [makeValueInfo('a', 'float32', [1, 32])],
      outputs: [makeValueInfo('y', 'float32', [1, 4])],
      initializers: [makeTensor('b', 'uint8', [4, 1, 12], new Uint8Array(48)), makeTensor('s', 'float32', [4], [1, 1, 1, 1])],
    }),
    { opset: { '': 17, 'com.microsoft': 1 } },
  );
  for (const target of ['cpu', 'wasm']) {
    assert.throws(
      () => targetNotes(model, targetFromArgv({ target })!, 'm.onnx'),
      (e: unknown) =>
        isShrinkError(e) && new RegExp(`^m\\.onnx: target ${target} cannot run node 'mm3' \\(MatMulNBits\\): .*\\[.+\\]$`).test(e.message),
    );
  }
});

test('compare --target wasm: both models measured in onnxruntime-web, the candidate checked against the table', () => {
  const q8 = path.join(dir, 'bert-q8.onnx');
  runJson(dir, ['quantize', BERT, '--dtype', 'q8', '-o', q8, '--runs', '3']);
  const r = runJson(dir, ['compare', BERT, q8, '--target', 'wasm', '--runs', '5']);
  const cand = (r['report'] as Report).candidates[0]!;
  assert.match(cand.metrics['latency.p50']?.method ?? '', /onnxruntime-web 1\.30\.\d+ WASM/);
  assert.ok((cand.metrics['fidelity.cosineSimilarity']?.candidate ?? 0) >= 0.999);
  assert.ok(
    cand.notes?.some((n) => n.startsWith('target wasm (onnxruntime-web-wasm)')),
    cand.notes?.join('\n'),
  );
});
