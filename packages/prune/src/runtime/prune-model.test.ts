import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeModel, onnxOutputKind, rowsAreDistributions, type onnx } from '@shrink/core';
import { resolveSplit, type Dataset } from '@shrink/core/data';
import { createSession, evaluate, feedsFor, outputRows, planInput } from '@shrink/core/runtime';
import { pruneModel } from './prune-model.js';

// A real PyTorch export (fixtures/make-torch-digits-mlp.py): 64-256-128-10 Gemm/Relu, outputs logits, no
// Softmax — what broke fine-tuning in issue #11, where training took its outputs for probabilities.
const FIXTURE = fileURLToPath(new URL('../fixtures/torch-digits-mlp.onnx', import.meta.url));
const bytes = await readFile(FIXTURE);
const meta = JSON.parse(await readFile(FIXTURE.replace(/\.onnx$/, '.json'), 'utf8')) as {
  sha256: string;
  test: { n: number; correct: number };
};
const torchModel = decodeModel(bytes, FIXTURE);
const split = await resolveSplit('digits');

async function accuracy(model: onnx.IModelProto, ds: Dataset): Promise<number> {
  const s = await createSession(model);
  try {
    const e = await evaluate(s, ds);
    assert.equal(e.task, 'classification');
    return e.task === 'classification' ? e.accuracy : Number.NaN;
  } finally {
    await s.release();
  }
}

/** The first output on the first `n` samples, run in onnxruntime. */
async function outputs(model: onnx.IModelProto, ds: Dataset, n: number): Promise<Float32Array> {
  const s = await createSession(model);
  try {
    const plan = planInput(s, ds);
    const { feeds, rows } = feedsFor(plan, ds, 0, n);
    const name = model.graph!.output![0]!.name!;
    return outputRows((await s.run(feeds, [name]))[name]!, rows, name).data.slice();
  } finally {
    await s.release();
  }
}

/** Still a logits model: ends in a linear op, no Softmax anywhere, rows that are not distributions. */
async function assertLogitsOut(model: onnx.IModelProto): Promise<void> {
  assert.ok(!(model.graph?.node ?? []).some((n) => n.opType === 'Softmax'), 'no Softmax was added');
  assert.equal(onnxOutputKind(model).kind, 'logits');
  assert.equal(rowsAreDistributions(await outputs(model, split.test, 16), 10), false);
}

const fp32 = await accuracy(torchModel, split.test);

test("the fixture is the generator's file, and onnxruntime scores it on the same held-out digits as torch did", async () => {
  assert.equal(createHash('sha256').update(bytes).digest('hex'), meta.sha256);
  assert.equal(split.test.n, meta.test.n);
  // The generator re-implements core's seeded split; equal counts of correct answers say it matches.
  assert.equal(Math.round(fp32 * split.test.n), meta.test.correct);
  await assertLogitsOut(torchModel);
});

test('PyTorch logits classifier: 90% global magnitude, constant schedule, 10 epochs stays within 1 point of fp32 and keeps outputting logits', async () => {
  const r = await pruneModel(
    torchModel,
    { method: 'magnitude', sparsity: 0.9, scope: 'global' },
    { ...split, epochs: 10, schedule: 'constant' },
  );
  const acc = await accuracy(r.model, split.test);
  // Before logits were told apart, this run ended at 0.0 % (fp32 97.5 %).
  assert.ok(acc >= fp32 - 0.01, `pruned ${acc} vs fp32 ${fp32}`);
  assert.ok(Math.abs(r.report.sparsity - 0.9) < 1e-3, `sparsity ${r.report.sparsity}`);
  assert.match(r.report.method, /magnitude \(global\), constant schedule/);
  // Global: one threshold, so the layers end at different sparsities.
  assert.ok(new Set(r.report.layers.map((l) => l.sparsity!.toFixed(3))).size > 1, JSON.stringify(r.report.layers));
  assert.ok(
    r.report.notes.some((n) => /^cross-entropy from logits: .*Gemm.* linear: logits/.test(n)),
    r.report.notes.join('\n'),
  );
  await assertLogitsOut(r.model);
});

test('PyTorch logits classifier: one-shot 90% global magnitude then 10 epochs of fine-tuning (--finetune) stays within 1 point of fp32', async () => {
  const r = await pruneModel(torchModel, { method: 'magnitude', sparsity: 0.9, scope: 'global' }, { ...split, epochs: 10 });
  const acc = await accuracy(r.model, split.test);
  // Before: 20.1 %.
  assert.ok(acc >= fp32 - 0.01, `pruned ${acc} vs fp32 ${fp32}`);
  assert.ok(
    r.report.notes.some((n) => n.startsWith('cross-entropy from logits')),
    r.report.notes.join('\n'),
  );
  await assertLogitsOut(r.model);
});

test('PyTorch logits classifier: 90% per layer (the logits layer keeps 128 of 1,280 weights) still trains, to within 3 points', async () => {
  const r = await pruneModel(torchModel, { method: 'magnitude', sparsity: 0.9 }, { ...split, epochs: 10, schedule: 'constant' });
  const acc = await accuracy(r.model, split.test);
  assert.ok(acc >= fp32 - 0.03, `pruned ${acc} vs fp32 ${fp32}`);
  assert.ok(
    r.report.layers.every((l) => Math.abs(l.sparsity! - 0.9) < 1e-3),
    JSON.stringify(r.report.layers),
  );
});
