// Cleanup folds BatchNormalization into the Conv before it by default (foldBatchNorm: false keeps it):
// the model runs before and after in onnxruntime and every output agrees within 1e-5 of its scale; a BN
// after a non-Conv stays and the notes say why; PaddleOCR's direction classifier, where present, folds all 35.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { attr, decodeModel, makeGraph, makeModel, makeNode, makeValueInfo, type onnx } from '@shrink/core';
import { parseNpz } from '@shrink/core/data';
import { cleanupModel } from './cleanup-model.js';
import { cleanupNotes } from './cleanup-notes.js';
import { cleanupOptionsSchema, type CleanupOptions } from './options.js';
import { assertSameOutputs, runOrt, seededFloats, tensor, type OrtFeeds } from './ort.fixture.js';

/** Every output of `b` within `tol` x the largest magnitude of the same output of `a`. */
async function assertClose(a: onnx.IModelProto, b: onnx.IModelProto, feeds: OrtFeeds, tol: number): Promise<void> {
  const [want, got] = [await runOrt(a, feeds), await runOrt(b, feeds)];
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const g = got[name]!;
    assert.deepEqual(g.dims, w.dims, `${name}: dims`);
    let [err, scale] = [0, 1e-30];
    for (let i = 0; i < w.data.length; i++) {
      scale = Math.max(scale, Math.abs(Number(w.data[i])));
      err = Math.max(err, Math.abs(Number(g.data[i]) - Number(w.data[i])));
    }
    assert.ok(err <= tol * scale, `${name}: max abs error ${err.toExponential(2)} > ${tol} x scale ${scale.toExponential(2)}`);
  }
}

const rand = seededFloats(5);
const pos = (n: number) => rand(n).map((v) => 1.1 + v);

/** x -> Conv -> BN 'bn1' -> Relu -> Add(r, r) -> BN 'bn2' -> y: the first BN folds, the second (after an Add) cannot. */
function model(): onnx.ModelProto {
  const bn = (name: string) => [
    tensor(`${name}_g`, 'float32', [4], pos(4)),
    tensor(`${name}_b`, 'float32', [4], rand(4)),
    tensor(`${name}_m`, 'float32', [4], rand(4)),
    tensor(`${name}_v`, 'float32', [4], pos(4)),
  ];
  const bnNode = (name: string, x: string, y: string) =>
    makeNode('BatchNormalization', [x, `${name}_g`, `${name}_b`, `${name}_m`, `${name}_v`], [y], { epsilon: attr.float(1e-5) }, { name });
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'W', 'B'], ['c'], { pads: [1, 1, 1, 1] }, { name: 'conv' }),
        bnNode('bn1', 'c', 'n'),
        makeNode('Relu', ['n'], ['r']),
        makeNode('Add', ['r', 'r'], ['a'], {}, { name: 'add' }),
        bnNode('bn2', 'a', 'y'),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 3, 6, 6])],
      outputs: [makeValueInfo('y', 'float32', [1, 4, 6, 6])],
      initializers: [tensor('W', 'float32', [4, 3, 3, 3], rand(108)), tensor('B', 'float32', [4], rand(4)), ...bn('bn1'), ...bn('bn2')],
    }),
    { opset: 13 },
  );
}

const feeds: OrtFeeds = { x: { data: Float32Array.from(rand(108)), dims: [1, 3, 6, 6] } };
const notesOf = (r: ReturnType<typeof cleanupModel>, o: CleanupOptions = {}) => cleanupNotes(r.report, cleanupOptionsSchema.parse(o));

test('by default a BN after a Conv folds into it, one after an Add stays with its reason; outputs within 1e-5', async () => {
  const m = model();
  const r = cleanupModel(m);
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Conv', 'Relu', 'Add', 'BatchNormalization'],
  );
  assert.equal(r.report.batchNormsFolded, 1);
  assert.equal(r.report.batchNormsKept, 1);
  // The old weight, bias and BN vectors went with the fold; the folded Conv reads new tensors.
  assert.deepEqual(r.model.graph!.node![0]!.input, ['x', 'W_bnfold', 'B_bnfold_bias']);
  assert.ok(!r.model.graph!.initializer!.some((t) => ['W', 'B', 'bn1_g', 'bn1_v'].includes(t.name ?? '')));
  const notes = notesOf(r);
  assert.equal(
    notes[0],
    'removed 0 Identity/Dropout, folded 0 constant nodes, folded 1 BatchNormalization into the Conv before it, removed 0 dead nodes, stored 0 Constant nodes as initializers',
  );
  assert.ok(notes.includes("kept 1 BatchNormalization: 'bn2' (its input is written by add (Add), not a Conv)"), notes.join('\n'));
  assert.deepEqual(
    r.report.nodes.filter((n) => n.opType === 'BatchNormalization'),
    [
      { name: 'bn1', opType: 'BatchNormalization', action: 'folded-batch-norm', reason: 'folded into conv' },
      { name: 'bn2', opType: 'BatchNormalization', action: 'kept', reason: 'its input is written by add (Add), not a Conv' },
    ],
  );
  await assertClose(m, r.model, feeds, 1e-5);
});

test('foldBatchNorm: false leaves both BNs and says nothing of them; outputs bit for bit', async () => {
  const m = model();
  const r = cleanupModel(m, { foldBatchNorm: false });
  assert.equal(r.model.graph!.node!.filter((n) => n.opType === 'BatchNormalization').length, 2);
  assert.equal(r.report.batchNormsFolded, 0);
  assert.ok(!notesOf(r, { foldBatchNorm: false }).some((n) => n.includes('BatchNormalization')));
  assertSameOutputs(await runOrt(m, feeds), await runOrt(r.model, feeds));
});

const CORPUS = fileURLToPath(new URL('../../../.cache/corpus/ppocr-mobile-v2-cls.onnx', import.meta.url));
const FEEDS = CORPUS.replace(/\.onnx$/, '.feeds.npz');
const skip =
  existsSync(CORPUS) && existsSync(FEEDS)
    ? false
    : `${CORPUS} or its feeds are missing (node scripts/corpus/inputs.mjs ppocr-mobile-v2-cls)`;

test(
  'PaddleOCR direction classifier (opset 9, weights in Constant nodes): 35 BNs fold, 471 -> 185 nodes, outputs within 1e-4',
  { skip },
  async () => {
    const m = decodeModel(readFileSync(CORPUS));
    const r = cleanupModel(m);
    assert.equal(r.report.batchNormsFolded, 35);
    assert.equal(r.report.batchNormsKept, 0);
    assert.equal(r.report.nodesBefore, 471);
    assert.equal(r.report.nodesAfter, 185);
    const real: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [k, v] of parseNpz(readFileSync(FEEDS), FEEDS))
      real[k.replace(/\.npy$/, '')] = { data: v.data as Float32Array, dims: v.dims };
    await assertClose(m, r.model, real, 1e-4);
  },
);
