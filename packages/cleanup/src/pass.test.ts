// The registry's view of cleanup: kind, options, labels, what it needs, what a run hands back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeModel, parseOptions } from '@shrink/core';
import { cleanupPass, describeCleanup } from './pass.js';

const model = decodeModel(readFileSync(new URL('./fixtures/torch-cleanup-cnn.onnx', import.meta.url)));
const noData = { data: { train: () => Promise.reject(new Error('no train data')), eval: () => Promise.resolve(undefined) }, ctx: {} };

test('options: defaults, strict keys, labels, no data needed, no default search variants', () => {
  const o = parseOptions(cleanupPass.schema, {}, 'cleanup');
  assert.deepEqual(o, {
    removeIdentity: true,
    foldConstants: true,
    foldBatchNorm: true,
    removeDeadNodes: true,
    constantsToInitializers: true,
    dedupeInitializers: false,
  });
  assert.throws(
    () => parseOptions(cleanupPass.schema, { fold: true }, 'cleanup'),
    /unknown key fold; valid keys: removeIdentity, foldConstants, foldBatchNorm, removeDeadNodes, constantsToInitializers, dedupeInitializers/,
  );
  assert.equal(cleanupPass.kind, 'cleanup');
  assert.equal(describeCleanup(o), 'cleanup');
  assert.equal(describeCleanup({ ...o, dedupeInitializers: true }), 'cleanup-identity-fold-bn-dead-const-dedupe');
  assert.equal(describeCleanup({ ...o, removeIdentity: false }), 'cleanup-fold-bn-dead-const');
  assert.equal(describeCleanup({ ...o, foldBatchNorm: false }), 'cleanup-identity-fold-dead-const');
  assert.equal(
    describeCleanup({
      removeIdentity: false,
      foldConstants: false,
      foldBatchNorm: false,
      removeDeadNodes: false,
      constantsToInitializers: false,
      dedupeInitializers: false,
    }),
    'cleanup-none',
  );
  assert.deepEqual(cleanupPass.needs(o), {});
  assert.equal(cleanupPass.searchSpace, undefined);
});

test('run: the new model, notes led by what it did, one layer row per node it touched or kept, its report', async () => {
  const out = await cleanupPass.run(model, parseOptions(cleanupPass.schema, {}, 'cleanup'), noData);
  assert.equal(out.trained, false);
  assert.equal(
    out.notes[0],
    'removed 2 Identity/Dropout, folded 11 constant nodes, removed 4 dead nodes, stored 0 Constant nodes as initializers',
  );
  assert.equal(out.model.graph!.node!.length, 13);
  assert.equal(out.layers.length, 2 + 1 + 11 + 4);
  assert.deepEqual(out.layers[0], {
    name: '/drop/Dropout',
    opType: 'Dropout',
    action: "removed-identity: readers of '/drop/Dropout_output_0' read '/Relu_output_0'",
  });
  assert.ok(out.layers.some((l) => l.action === "folded: folded into '/Transpose_output_0'"));
  assert.equal((out.report as { cleanup: { nodesAfter: number } }).cleanup.nodesAfter, 13);
});
