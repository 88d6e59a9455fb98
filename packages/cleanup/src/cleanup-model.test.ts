// The whole pass on a real PyTorch export (fixtures/torch-cleanup-cnn.onnx, made by the script beside it):
// what goes, what stays, every folded value against onnxruntime's, and the outputs before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cloneModel, decodeModel, encodeModel, readTensor, type onnx } from '@shrink/core';
import { cleanupModel } from './cleanup-model.js';
import { cleanupNotes } from './cleanup-notes.js';
import { cleanupOptionsSchema } from './options.js';
import { assertSameOutputs, runOrt, seededFloats } from './ort.fixture.js';

const file = new URL('./fixtures/torch-cleanup-cnn.onnx', import.meta.url);
const meta = JSON.parse(readFileSync(new URL('./fixtures/torch-cleanup-cnn.json', import.meta.url), 'utf8')) as {
  sha256: string;
  ops: string[];
};
const bytes = readFileSync(file);
const model = decodeModel(bytes);
const rand = seededFloats(1);
const inputs = Array.from({ length: 4 }, () => ({ input: { data: Float32Array.from(rand(64)), dims: [1, 1, 8, 8] } }));

test('the fixture is the file its script wrote', () => {
  assert.equal(createHash('sha256').update(bytes).digest('hex'), meta.sha256);
  assert.deepEqual(
    model.graph!.node!.map((n) => n.opType),
    meta.ops,
  );
});

test('PyTorch export: 30 -> 13 nodes; Dropout gone, constant and shape arithmetic folded, the graph-output Identity kept', () => {
  const before = encodeModel(model);
  const r = cleanupModel(model);
  assert.deepEqual(encodeModel(model), before, 'the input model is not mutated');
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Conv', 'Relu', 'Mul', 'Add', 'Reshape', 'Gemm', 'Relu', 'MatMul', 'Div', 'Sub', 'Relu', 'Gemm', 'Identity'],
  );
  assert.deepEqual(
    r.model.graph!.output!.map((o) => o.name),
    ['logits', 'logits_copy'],
  );
  const notes = cleanupNotes(r.report, cleanupOptionsSchema.parse({}));
  assert.equal(
    notes[0],
    'removed 2 Identity/Dropout, folded 11 constant nodes, removed 4 dead nodes, stored 0 Constant nodes as initializers',
  );
  assert.equal(notes[1], 'main graph: 30 -> 13 nodes');
  assert.deepEqual(r.report.foldedByOp, {
    Mul: 1,
    Add: 1,
    Sqrt: 1,
    Shape: 1,
    Expand: 1,
    Unsqueeze: 2,
    Concat: 1,
    Transpose: 1,
    Cast: 1,
    Neg: 1,
  });
  assert.deepEqual(r.report.notFolded, {});
  assert.ok(
    notes.some(
      (n) => n === "kept 1 Identity/Dropout: Identity 'Identity_29' (it copies graph output 'logits' into graph output 'logits_copy')",
    ),
  );
  // The Reshape's target is a stored shape now: [1, -1].
  const target = r.model.graph!.initializer!.find((t) => t.name === r.model.graph!.node![4]!.input![1]);
  assert.deepEqual(Array.from(readTensor(target!).data as BigInt64Array, Number), [1, -1]);
});

test('every folded value equals what onnxruntime computes for that name in the original graph, bit for bit', async () => {
  const r = cleanupModel(model, { removeDeadNodes: false });
  const names = r.report.nodes
    .filter((n) => n.action === 'folded')
    .map((n) => model.graph!.node!.find((m) => (m.name || m.output![0]) === n.name)!.output![0]!);
  assert.equal(names.length, 11);
  const probe: onnx.ModelProto = cloneModel(model);
  for (const name of names) probe.graph!.output!.push({ name });
  const theirs = await runOrt(probe, inputs[0]);
  for (const name of names) {
    const mine = readTensor(r.model.graph!.initializer!.find((t) => t.name === name)!);
    assert.deepEqual(mine.dims, theirs[name]!.dims, name);
    assert.deepEqual(Array.from(mine.data as ArrayLike<number | bigint>), Array.from(theirs[name]!.data), name);
  }
});

test('outputs before and after: identical in onnxruntime as run by default and without weight prepacking; within 1e-6 relative with prepacking and no graph optimization', async () => {
  const cleaned = cleanupModel(model).model;
  let worst = 0;
  for (const feeds of inputs) {
    assertSameOutputs(await runOrt(model, feeds, { level: 'all' }), await runOrt(cleaned, feeds, { level: 'all' }));
    assertSameOutputs(await runOrt(model, feeds, { prepack: false }), await runOrt(cleaned, feeds, { prepack: false }));
    // The folded Transpose makes MatMul's B an initializer, which onnxruntime repacks and sums in another
    // order (with graph optimization on, it folds the Transpose of the original itself, and both agree).
    worst = Math.max(worst, assertSameOutputs(await runOrt(model, feeds), await runOrt(cleaned, feeds), 1e-6));
  }
  assert.ok(worst < 1e-6, `largest relative difference ${worst}`);
});

test('each step can be turned off; with all off the graph is unchanged', () => {
  const none = cleanupModel(model, { removeIdentity: false, foldConstants: false, removeDeadNodes: false, constantsToInitializers: false });
  assert.equal(none.report.nodesAfter, 30);
  assert.deepEqual(encodeModel(none.model), encodeModel(model));
  assert.deepEqual(
    cleanupNotes(
      none.report,
      cleanupOptionsSchema.parse({ removeIdentity: false, foldConstants: false, removeDeadNodes: false, constantsToInitializers: false }),
    ).slice(0, 2),
    ['every step is off; the model is unchanged', 'main graph: 30 -> 30 nodes'],
  );
  const foldOnly = cleanupModel(model, { removeIdentity: false, removeDeadNodes: false, constantsToInitializers: false });
  assert.equal(foldOnly.report.identityRemoved, 0);
  assert.equal(foldOnly.report.folded, 11);
  assert.equal(foldOnly.report.nodesAfter, 19, 'folded nodes go; the Constant nodes they read stay');
});
