import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloneModel, decodeModel, encodeModel, makeNode, onnxOutputKind, softmax, type onnx } from '@shrink/core';
import { resolveSplit, type Dataset } from '@shrink/core/data';
import { createSession, evaluate, fidelity } from '@shrink/core/runtime';
import { exportToOnnx, initTf, trainPreset } from '@shrink/core/tfjs';
import { distillModel } from './distill-model.js';
import { teacherOutputs } from './teacher.js';

// A digits-mlp teacher (64-256-128-10, ~50k parameters) trained briefly; students have ~1/50 of that.
let teacher: onnx.ModelProto;
let train: Dataset;
let testSet: Dataset;
let teacherAccuracy: number;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'shrink-distill-'));
  const split = await resolveSplit('digits');
  train = split.train;
  testSet = split.test;
  const r = await trainPreset('digits-mlp', { epochs: 8, seed: 1, validationFraction: 0 });
  teacher = exportToOnnx(r.model).model;
  r.model.dispose();
  const s = await createSession(teacher);
  const e = await evaluate(s, testSet);
  await s.release();
  assert.equal(e.task, 'classification');
  teacherAccuracy = e.task === 'classification' ? e.accuracy : 0;
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a 64-16-10 student learns from the teacher: far above chance, agrees with it on most samples; the cache is hit on the second run', async () => {
  const cacheDir = path.join(dir, 'cache');
  const opts = { student: '64-16-10', epochs: 12, batch: 32, lr: 0.005, seed: 3 };
  const r = await distillModel(teacher, opts, { train, test: testSet }, { cacheDir });
  try {
    assert.equal(r.report.teacher.cache, 'miss');
    assert.match(r.report.teacher.detectedBy, /Softmax node/);
    assert.equal(r.report.teacher.kind, 'logits');
    assert.equal(r.report.training.history.length, 12);
    const acc = r.report.training.test?.accuracy ?? 0;
    const agree = r.report.training.test?.agreement ?? 0;
    // Chance is 10 %; the teacher scores ~95 %.
    assert.ok(acc > 0.85, `student accuracy ${acc} (teacher ${teacherAccuracy})`);
    assert.ok(agree > 0.85, `agreement ${agree}`);
    assert.equal(r.report.student.params, 64 * 16 + 16 + 16 * 10 + 10);
    // The exported ONNX student computes the same thing as the tfjs one: same accuracy in onnxruntime,
    // and it agrees with the teacher there too.
    const ss = await createSession(r.model);
    const ts = await createSession(teacher);
    const e = await evaluate(ss, testSet);
    const f = await fidelity(ts, ss, testSet);
    await ss.release();
    await ts.release();
    assert.equal(e.task, 'classification');
    if (e.task === 'classification') assert.ok(Math.abs(e.accuracy - acc) < 1e-9, `${e.accuracy} vs ${acc}`);
    assert.ok(Math.abs((f.top1Agreement ?? 0) - agree) < 1e-9);
    assert.ok((f.meanKL ?? Infinity) < 0.5, `mean KL ${f.meanKL}`);
    const files = await readdir(path.join(cacheDir, 'teacher'));
    assert.equal(files.filter((f) => f.endsWith('.json')).length, 2, files.join(', ')); // train and test outputs
  } finally {
    r.student.dispose();
  }
  const again = await distillModel(teacher, { ...opts, epochs: 1 }, { train, test: testSet }, { cacheDir });
  again.student.dispose();
  assert.equal(again.report.teacher.cache, 'hit');
});

test('pure soft targets on unlabeled data: labels are never read', async () => {
  // Every label says class 0: a student that read them would learn nothing useful.
  const wrong: Dataset = { ...train, y: new Int32Array(train.n) };
  const r = await distillModel(
    teacher,
    { student: '64-16-10', epochs: 12, batch: 32, lr: 0.005, alpha: 0.5 },
    { train: wrong, test: testSet },
    { cacheDir: false, unlabeled: true },
  );
  r.student.dispose();
  assert.ok(r.report.notes.some((n) => /alpha 0.5 -> 1/.test(n)));
  assert.ok((r.report.training.test?.agreement ?? 0) > 0.85, `agreement ${r.report.training.test?.agreement}`);
  assert.equal(r.report.teacher.cache, 'off');
});

test('a teacher giving probabilities without a final Softmax node is detected from its rows, or declared', async () => {
  const m = cloneModel(teacher);
  const out = m.graph!.output![0]!;
  m.graph!.node!.push(makeNode('Identity', [out.name!], ['probs_copy']));
  out.name = 'probs_copy';
  const auto = await teacherOutputs(m, testSet, { output: 'auto', hidden: [], cacheDir: false });
  assert.equal(auto.kind, 'log-probabilities');
  assert.match(auto.detectedBy, /sums to 1/);
  const declared = await teacherOutputs(m, testSet, { output: 'logits', hidden: [], cacheDir: false });
  assert.equal(declared.kind, 'logits');
  // Logs of the probabilities give the same tempered distribution as the true logits — also for the
  // classes the teacher all but rules out (a too-high log floor would hand them soft mass at T = 4).
  const viaSoftmax = await teacherOutputs(teacher, testSet, { output: 'auto', hidden: [], cacheDir: false });
  let worst = 0;
  for (let i = 0; i < testSet.n; i++) {
    const a = softmax(auto.values.subarray(i * 10, i * 10 + 10), 4);
    const b = softmax(viaSoftmax.values.subarray(i * 10, i * 10 + 10), 4);
    for (let j = 0; j < 10; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
  }
  assert.ok(worst < 1e-3, `largest difference of tempered probabilities ${worst}`);
  // Declaring probabilities for a teacher whose rows are logits is refused, not silently floored.
  const logitsTeacher = cloneModel(teacher);
  const g = logitsTeacher.graph!;
  const softmaxNode = g.node!.findIndex((n) => n.opType === 'Softmax');
  g.output![0]!.name = g.node![softmaxNode]!.input![0]!;
  g.node!.splice(softmaxNode, 1);
  await assert.rejects(
    teacherOutputs(logitsTeacher, testSet, { output: 'probs', hidden: [], cacheDir: false }),
    /teacherOutput: probs: .* not probability distributions/,
  );
});

// A real PyTorch export that outputs logits (no Softmax); the fixture lives with pruning's tests.
const TORCH_MLP = fileURLToPath(new URL('../../../prune/src/fixtures/torch-digits-mlp.onnx', import.meta.url));

test("a PyTorch teacher ending in Gemm is read as logits (core's decision); the student and the scratch baseline learn; a logits student model stays logits", async () => {
  const torchTeacher = decodeModel(await readFile(TORCH_MLP), TORCH_MLP);
  const r = await distillModel(
    torchTeacher,
    { student: '64-16-10', epochs: 12, batch: 32, lr: 0.005, seed: 3 },
    { train, test: testSet },
    { cacheDir: false, baselineScratch: true },
  );
  try {
    assert.equal(r.report.teacher.kind, 'logits');
    assert.match(r.report.teacher.detectedBy, /Gemm node .*which is linear: logits/);
    assert.ok((r.report.training.test?.accuracy ?? 0) > 0.85, `student accuracy ${r.report.training.test?.accuracy}`);
    assert.ok((r.report.training.test?.agreement ?? 0) > 0.85, `agreement ${r.report.training.test?.agreement}`);
    assert.ok((r.report.scratch?.test?.accuracy ?? 0) > 0.85, `scratch accuracy ${r.report.scratch?.test?.accuracy}`);
  } finally {
    r.student.dispose();
    r.scratch?.student.dispose();
  }
  // The PyTorch model as a student: its output is its logits, and the exported student still outputs logits.
  const asStudent = await distillModel(
    teacher,
    { student: TORCH_MLP, epochs: 1, lr: 1e-4, seed: 3 },
    { train, test: testSet },
    { cacheDir: false },
  );
  asStudent.student.dispose();
  assert.ok(!(asStudent.model.graph?.node ?? []).some((n) => n.opType === 'Softmax'));
  assert.equal(onnxOutputKind(asStudent.model).kind, 'logits');
  assert.ok((asStudent.report.training.test?.accuracy ?? 0) > 0.9, `student accuracy ${asStudent.report.training.test?.accuracy}`);
});

test('hidden-layer matching trains through a learned projection and keeps the student exportable', async () => {
  const hiddenName = teacher.graph?.node?.find((n) => n.opType === 'Relu')?.output?.[0];
  assert.ok(hiddenName, 'the teacher has a Relu output to match');
  const r = await distillModel(
    teacher,
    { student: '64-32-10', epochs: 6, lr: 0.005, hiddenMatch: [`${hiddenName}:fc1`], hiddenWeight: 0.1 },
    { train, test: testSet },
    { cacheDir: false },
  );
  try {
    assert.match(r.report.loss, /hidden pair/);
    assert.ok(r.report.training.history.every((h) => Number.isFinite(h.loss)));
    // The projection is training-only: the exported student has no extra layer.
    assert.ok(!r.student.layers.some((l) => l.name.startsWith('distill_')));
    assert.ok((r.report.training.test?.accuracy ?? 0) > 0.8, `accuracy ${r.report.training.test?.accuracy}`);
  } finally {
    r.student.dispose();
  }
});

test('regression: a student of a regression teacher matches its outputs (MSE to the teacher falls well below the output variance)', async () => {
  const { tf } = await initTf();
  const t = tf.sequential();
  t.add(
    tf.layers.dense({ inputShape: [20], units: 64, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
  );
  t.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  const regTeacher = exportToOnnx(t).model;
  t.dispose();
  const base = await resolveSplit('seed:600');
  // The seed data has 1000 features; take the first 20 of each sample.
  const cut = (d: Dataset): Dataset => {
    const x = new Float32Array(d.n * 20);
    for (let i = 0; i < d.n; i++) x.set(d.x.subarray(i * 1000, i * 1000 + 20), i * 20);
    return { ...d, x, sampleShape: [20] };
  };
  const tr = cut(base.train);
  const te = cut(base.test);
  const r = await distillModel(
    regTeacher,
    { student: '20-16-1', epochs: 30, batch: 32, lr: 0.01, alpha: 1 },
    { train: tr, test: te },
    { cacheDir: false },
  );
  r.student.dispose();
  assert.equal(r.report.teacher.kind, 'regression');
  const out = await teacherOutputs(regTeacher, te, { output: 'auto', hidden: [], cacheDir: false });
  const mean = out.values.reduce((a, b) => a + b, 0) / out.values.length;
  const variance = out.values.reduce((a, b) => a + (b - mean) ** 2, 0) / out.values.length;
  const mse = r.report.training.test?.mseToTeacher ?? Infinity;
  assert.ok(mse < 0.2 * variance, `MSE to teacher ${mse} vs teacher output variance ${variance}`);
});

test('bad input: temperature, alpha, student outputs, teacher input shape, hidden pairs — one clear error each', async () => {
  const run = (o: Record<string, unknown>, data: Dataset = train) =>
    distillModel(teacher, { student: '64-16-10', epochs: 1, ...o }, { train: data }, { cacheDir: false });
  await assert.rejects(run({ temperature: 0 }), /distill\.temperature: .*> ?0|too small/i);
  await assert.rejects(run({ alpha: 1.5 }), /distill\.alpha/);
  await assert.rejects(run({ student: '64-16-5' }), /has 5 outputs but the data has 10 classes/);
  await assert.rejects(
    run({ student: '64-1000000-10' }),
    /student: 64-1000000-10: 75,000,010 parameters; a student has at most 50,000,000/,
  );
  await assert.rejects(run({ hiddenMatch: ['nosuch:fc1'] }), /hiddenMatch: the teacher has no value 'nosuch'; node outputs include .*Relu/);
  await assert.rejects(
    distillModel(teacher, { student: '64-16-10' }, { train }, { cacheDir: false, unlabeled: true, baselineScratch: true }),
    /baselineScratch: the from-scratch baseline trains on the labels; it cannot run on unlabeled data/,
  );
  const file = path.join(dir, 'teacher.onnx');
  await writeFile(file, encodeModel(teacher));
  await assert.rejects(
    distillModel(teacher, { student: file }, { train }, { cacheDir: false, baselineScratch: true }),
    /baselineScratch: the student .* is a trained model/,
  );
  await assert.rejects(run({ student: '63-16-10' }), /takes 63 inputs but the data's samples have 64 values.*write 64-16-10/);
  await assert.rejects(run({ student: 'no-such-preset' }), /not a layer spec .* a preset/);
  await assert.rejects(run({ hiddenMatch: ['nonsense'] }), /hiddenMatch: "nonsense": expected "teacherValue:studentLayer"/);
  const narrow: Dataset = { ...train, sampleShape: [32], x: train.x.subarray(0, train.n * 32) };
  await assert.rejects(run({ student: '32-16-10' }, narrow), (e: Error) =>
    /teacher: input '.*' wants \[.*64\] but dataset/.test(e.message),
  );
});

test("students from a conv spec (8x8 digit images) and from a preset initialised with the teacher's layers", async () => {
  const asImages = (d: Dataset): Dataset => ({ ...d, sampleShape: [8, 8, 1] });
  const conv = await distillModel(
    teacher,
    { student: 'c8-16-10', epochs: 4, lr: 0.005 },
    { train: asImages(train), test: asImages(testSet) },
    { cacheDir: false },
  );
  try {
    assert.match(conv.report.student.description, /CNN c8-16-10/);
    assert.ok((conv.report.training.test?.accuracy ?? 0) > 0.7, `conv accuracy ${conv.report.training.test?.accuracy}`);
    assert.ok(conv.model.graph?.node?.some((n) => n.opType === 'Conv'));
  } finally {
    conv.student.dispose();
  }
  // Same architecture as the teacher: every layer is copied, so one epoch at a tiny learning rate keeps its accuracy.
  const same = await distillModel(
    teacher,
    { student: 'digits-mlp', epochs: 1, lr: 1e-6, initFromTeacher: true },
    { train, test: testSet },
    { cacheDir: false },
  );
  same.student.dispose();
  assert.equal(same.report.student.initialised.length, 3, same.report.notes.join('; '));
  assert.ok(
    Math.abs((same.report.training.test?.accuracy ?? 0) - teacherAccuracy) < 0.01,
    `${same.report.training.test?.accuracy} vs ${teacherAccuracy}`,
  );
  assert.ok((same.report.training.test?.agreement ?? 0) > 0.98);
});

test('seeded and repeatable: the same seed gives the same student byte for byte, another seed a different one', async () => {
  const run = async (seed: number) => {
    const r = await distillModel(teacher, { student: '64-8-10', epochs: 2, seed }, { train }, { cacheDir: false });
    r.student.dispose();
    return Buffer.from(encodeModel(r.model)).toString('base64');
  };
  const a = await run(5);
  assert.equal(await run(5), a);
  assert.notEqual(await run(6), a);
});

test('the teacher cache: a damaged entry is recomputed, never trusted', async () => {
  const cacheDir = path.join(dir, 'cache-damaged');
  const first = await teacherOutputs(teacher, testSet, { output: 'auto', hidden: [], cacheDir });
  assert.equal(first.cache, 'miss');
  const bin = (await readdir(path.join(cacheDir, 'teacher'))).find((f) => f.endsWith('.bin'))!;
  await writeFile(path.join(cacheDir, 'teacher', bin), new Uint8Array(12));
  const second = await teacherOutputs(teacher, testSet, { output: 'auto', hidden: [], cacheDir });
  assert.equal(second.cache, 'miss');
  assert.deepEqual(second.values, first.values);
  const third = await teacherOutputs(teacher, testSet, { output: 'auto', hidden: [], cacheDir });
  assert.equal(third.cache, 'hit');
  assert.deepEqual(third.values, first.values);
});

test('truly unlabeled data (a JSON file with only "x"): distillation learns from the teacher alone; scoring on labels is refused', async () => {
  const file = path.join(dir, 'unlabeled.json');
  const rows = Array.from({ length: train.n }, (_, i) => Array.from(train.x.subarray(i * 64, (i + 1) * 64)));
  await writeFile(file, JSON.stringify({ x: rows }));
  const split = await resolveSplit(file);
  assert.equal(split.train.unlabeled, true);
  const r = await distillModel(teacher, { student: '64-16-10', epochs: 12, batch: 32, lr: 0.005 }, split, { cacheDir: false });
  r.student.dispose();
  assert.equal(r.report.training.test?.accuracy, undefined);
  assert.ok((r.report.training.test?.agreement ?? 0) > 0.85, `agreement ${r.report.training.test?.agreement}`);
  assert.equal(r.report.options.alpha, 1);
  // The distilled student is scored against real labels it never saw.
  const s = await createSession(r.model);
  const e = await evaluate(s, testSet);
  await assert.rejects(evaluate(s, split.test), /has no labels \("y"\)/);
  await s.release();
  assert.ok(e.task === 'classification' && e.accuracy > 0.8, JSON.stringify(e));
});
