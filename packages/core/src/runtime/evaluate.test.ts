import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShrinkError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import type { Progress } from '../context.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { withSession, type FeedTensor } from './session.js';
import { feedsFor, planInput } from './feeds.js';
import { evaluate } from './evaluate.js';
import { fidelity } from './fidelity.js';
import { klDivergence, softmax } from '../measure/divergence.js';

/** logits = x·W over 3 features and 3 classes. */
function linear(w: number[], inputShape: (number | string)[] = ['N', 3]) {
  return makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['logits'])],
      inputs: [makeValueInfo('x', 'float32', inputShape)],
      outputs: [makeValueInfo('logits', 'float32', [inputShape[0]!, 3])],
      initializers: [makeTensor('W', 'float32', [3, 3], new Float32Array(w))],
    }),
  );
}
const I3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

// 10 samples; the label is the argmax of x for the first 7 and deliberately wrong for the last 3.
const X = [
  [3, 1, 0],
  [0, 2, 1],
  [0, 0, 5],
  [1, 4, 2],
  [9, 1, 1],
  [0.5, 0, 0.1],
  [1, 2, 3],
  [5, 0, 0],
  [0, 5, 0],
  [0, 0, 5],
];
const Y = [0, 1, 2, 1, 0, 0, 2, 1, 2, 0];
const cls: Dataset = {
  name: 'hand',
  task: 'classification',
  sampleShape: [3],
  x: new Float32Array(X.flat()),
  y: new Int32Array(Y),
  n: 10,
  numClasses: 3,
};

const isCode = (code: string, re?: RegExp) => (e: unknown) =>
  e instanceof ShrinkError && e.code === code && (re === undefined || re.test(e.message));

test('evaluate: top-1 accuracy on a hand-made dataset, across partial batches, with progress', async () => {
  const events: string[] = [];
  const progress: Progress = {
    start: (l, t) => events.push(`start ${t}`),
    tick: (n) => events.push(`tick ${n}`),
    stop: () => events.push('stop'),
  };
  await withSession(linear(I3), {}, async (s) => {
    const r = await evaluate(s, cls, { batch: 4 }, { progress });
    assert.deepEqual(r, { task: 'classification', accuracy: 0.7, correct: 7, n: 10 });
    assert.deepEqual(events, ['start 10', 'tick 4', 'tick 4', 'tick 2', 'stop']);
    assert.deepEqual(await evaluate(s, cls, { batch: 64 }), r);
  });
});

test('evaluate: a fixed batch of 1 in the model caps the batch; a wrong class count is INVALID_DATA', async () => {
  await withSession(linear(I3, [1, 3]), {}, async (s) => {
    assert.deepEqual(await evaluate(s, cls, { batch: 64 }), { task: 'classification', accuracy: 0.7, correct: 7, n: 10 });
    await assert.rejects(
      evaluate(s, { ...cls, numClasses: 4 }),
      isCode('INVALID_DATA', /3 value\(s\) per sample but dataset 'hand' has 4 classes/),
    );
    await assert.rejects(evaluate(s, cls, { output: 'nope' }), isCode('NOT_FOUND', /no model output 'nope'/));
  });
});

test('evaluate: regression MSE and MAE by hand', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'w'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 2])],
      outputs: [makeValueInfo('y', 'float32', ['N', 1])],
      initializers: [makeTensor('w', 'float32', [2, 1], new Float32Array([2, -1]))],
    }),
  );
  // predictions: 2*1-1*0 = 2, 2*0-1*1 = -1, 2*3-1*1 = 5; targets 2, 0, 3 -> errors 0, -1, 2
  const reg: Dataset = {
    name: 'reg',
    task: 'regression',
    sampleShape: [2],
    x: new Float32Array([1, 0, 0, 1, 3, 1]),
    y: new Float32Array([2, 0, 3]),
    n: 3,
    targetSize: 1,
  };
  await withSession(model, {}, async (s) => {
    const r = await evaluate(s, reg, { batch: 2 });
    assert.equal(r.task, 'regression');
    if (r.task !== 'regression') return;
    assert.ok(Math.abs(r.mse - 5 / 3) < 1e-6, `mse ${r.mse}`);
    assert.ok(Math.abs(r.mae - 1) < 1e-6, `mae ${r.mae}`);
    assert.equal(r.n, 3);
  });
});

test('feedsFor: NHWC images to an NCHW input are transposed; to a flat input, flattened; C=1 to NCHW reshaped', async () => {
  // 1 sample, H=2, W=2, C=3: value = 100*h + 10*w + c
  const img: number[] = [];
  for (let h = 0; h < 2; h++) for (let w = 0; w < 2; w++) for (let c = 0; c < 3; c++) img.push(100 * h + 10 * w + c);
  const ds: Dataset = {
    name: 'img',
    task: 'classification',
    sampleShape: [2, 2, 3],
    x: new Float32Array([...img, ...img]),
    y: new Int32Array([0, 0]),
    n: 2,
    numClasses: 3,
  };
  const identity = (shape: (number | string)[]) =>
    makeModel(
      makeGraph({
        nodes: [makeNode('Identity', ['x'], ['y'])],
        inputs: [makeValueInfo('x', 'float32', shape)],
        outputs: [makeValueInfo('y', 'float32', shape)],
      }),
    );

  await withSession(identity(['N', 3, 2, 2]), {}, async (s) => {
    const plan = planInput(s, ds);
    assert.equal(plan.mode, 'nhwc-to-nchw');
    const { feeds } = feedsFor(plan, ds, 1, 1);
    const f = feeds['x'] as FeedTensor;
    assert.deepEqual(f.dims, [1, 3, 2, 2]);
    const want: number[] = [];
    for (let c = 0; c < 3; c++) for (let h = 0; h < 2; h++) for (let w = 0; w < 2; w++) want.push(100 * h + 10 * w + c);
    assert.deepEqual([...(f.data as Float32Array)], want);
    const out = await s.run(feeds);
    assert.deepEqual([...(out['y']!.data as Float32Array)], want);
  });
  await withSession(identity(['N', 12]), {}, async (s) => {
    const { feeds } = feedsFor(s, ds, 0, 2);
    assert.deepEqual((feeds['x'] as FeedTensor).dims, [2, 12]);
    assert.deepEqual([...((feeds['x'] as FeedTensor).data as Float32Array)].slice(0, 12), img);
  });
  const gray: Dataset = { ...ds, sampleShape: [2, 2, 1], x: new Float32Array([1, 2, 3, 4]), n: 1, y: new Int32Array([0]) };
  await withSession(identity(['N', 1, 2, 2]), {}, async (s) => {
    const plan = planInput(s, gray);
    assert.equal(plan.mode, 'reshape');
    assert.deepEqual((feedsFor(plan, gray, 0, 1).feeds['x'] as FeedTensor).dims, [1, 1, 2, 2]);
  });
  await withSession(identity(['N', 5]), { label: 'm' }, async (s) => {
    assert.throws(() => planInput(s, ds), isCode('INVALID_DATA', /^m: input 'x' wants \[N, 5\] but dataset 'img' samples are \[2, 2, 3\]/));
  });
  await withSession(identity([2, 12]), {}, async (s) => {
    const b = feedsFor(s, ds, 1, 1);
    assert.deepEqual([b.count, b.rows], [1, 2], 'a fixed batch of 2 pads one sample with a zero row');
    assert.deepEqual([...((b.feeds['x'] as FeedTensor).data as Float32Array)].slice(12), new Array(12).fill(0));
    assert.throws(() => feedsFor(s, ds, 1, 2), isCode('INVALID_ARGUMENT', /outside dataset 'img'/));
  });
});

test('fidelity: a model against itself agrees fully; against a perturbed copy, by the hand-computed amounts', async () => {
  await withSession(linear(I3), {}, async (a) => {
    const same = await fidelity(a, a, cls, { batch: 3 });
    assert.deepEqual(same, {
      n: 10,
      top1Agreement: 1,
      maxAbsError: 0,
      meanAbsError: 0,
      cosineSimilarity: 1,
      meanKL: 0,
      relativeL2: 0,
      outputs: [{ name: 'logits', cosineSimilarity: 1, maxAbsError: 0, relativeL2: 0 }],
      baselineSilent: false,
      baselinePeak: Math.max(...X.flat().map(Math.abs)),
    });

    // candidate logits: x·W' with W' = I + 1 in row 0, column 1 -> logit1 += x0 (flips samples 0, 4 and 6: ties keep the first class)
    const w2 = [...I3];
    w2[1] = 1;
    await withSession(linear(w2), {}, async (b) => {
      const r = await fidelity(a, b, cls, { batch: 4 });
      let agree = 0;
      let maxAbs = 0;
      let sumAbs = 0;
      let cos = 0;
      let kl = 0;
      for (const x of X) {
        const la = x;
        const lb = [x[0]!, x[1]! + x[0]!, x[2]!];
        const am = (v: number[]) => v.indexOf(Math.max(...v));
        if (am(la) === am(lb)) agree++;
        const d = la.map((v, i) => Math.abs(v - lb[i]!));
        maxAbs = Math.max(maxAbs, ...d);
        sumAbs += d.reduce((p, q) => p + q, 0);
        // Logits are compared as the probabilities they stand for.
        const [pa, pb] = [Array.from(softmax(la)), Array.from(softmax(lb))];
        const dot = pa.reduce((p, v, i) => p + v * pb[i]!, 0);
        cos += dot / Math.sqrt(pa.reduce((p, v) => p + v * v, 0) * pb.reduce((p, v) => p + v * v, 0));
        kl += klDivergence(softmax(la), softmax(lb)); // rows are logits (not distributions): softmax first
      }
      assert.equal(agree, 7, 'the perturbation flips three decisions');
      assert.equal(r.n, 10);
      assert.equal(r.top1Agreement, agree / 10);
      assert.ok(Math.abs(r.maxAbsError - maxAbs) < 1e-6 && maxAbs === 9);
      assert.ok(Math.abs(r.meanAbsError - sumAbs / 30) < 1e-6);
      assert.ok(Math.abs(r.cosineSimilarity - cos / 10) < 1e-6, `${r.cosineSimilarity} vs ${cos / 10}`);
      assert.ok(r.cosineSimilarity < 1);
      assert.ok(r.meanKL !== undefined && Math.abs(r.meanKL - kl / 10) < 1e-6 && kl > 0, `mean KL ${r.meanKL} vs ${kl / 10}`);
    });
  });
});

test('fidelity: outputs of different sizes are INVALID_DATA; regression datasets have no top-1 agreement', async () => {
  const two = makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 3])],
      outputs: [makeValueInfo('y', 'float32', ['N', 2])],
      initializers: [makeTensor('W', 'float32', [3, 2], new Float32Array(6).fill(1))],
    }),
  );
  await withSession(linear(I3), { label: 'A' }, async (a) => {
    await withSession(two, { label: 'B' }, async (b) => {
      await assert.rejects(fidelity(a, b, cls), isCode('INVALID_DATA', /A 'logits' has 3 values per sample, B 'y' has 2/));
    });
    const r = await fidelity(a, a, { ...cls, task: 'regression', y: new Float32Array(30), targetSize: 3 });
    assert.equal(r.top1Agreement, undefined);
    assert.equal(r.maxAbsError, 0);
  });
});

/** logits = x·W and a second output aux = x·V: a guard reading only the first output would miss a broken aux. */
function twoOutputs(w: number[], v: number[]) {
  return makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['logits']), makeNode('MatMul', ['x', 'V'], ['aux'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 3])],
      outputs: [makeValueInfo('logits', 'float32', ['N', 3]), makeValueInfo('aux', 'float32', ['N', 3])],
      initializers: [makeTensor('W', 'float32', [3, 3], new Float32Array(w)), makeTensor('V', 'float32', [3, 3], new Float32Array(v))],
    }),
  );
}

test('fidelity compares every output: a broken second output sets the cosine and max error, named in outputs', async () => {
  const neg = I3.map((x) => -x);
  await withSession(twoOutputs(I3, I3), {}, async (a) => {
    await withSession(twoOutputs(I3, neg), {}, async (b) => {
      const r = await fidelity(a, b, cls, { batch: 4 });
      assert.equal(r.top1Agreement, 1, 'the main output is untouched');
      assert.deepEqual(
        r.outputs.map((o) => o.name),
        ['logits', 'aux'],
      );
      assert.equal(r.outputs[0]!.cosineSimilarity, 1);
      assert.ok(Math.abs(r.outputs[1]!.cosineSimilarity + 1) < 1e-9, 'aux is negated: cosine -1');
      assert.ok(Math.abs(r.cosineSimilarity + 1) < 1e-9, 'the worst output is what the result says');
      assert.equal(r.maxAbsError, 18, 'aux differs by 2 x 9 at most');
      // Naming an output compares that one alone, as before.
      const only = await fidelity(a, b, cls, { output: 'logits' });
      assert.equal(only.cosineSimilarity, 1);
      assert.equal(only.outputs.length, 1);
    });
  });
});

test('fidelity: an output of one value per sample is compared as one vector over the samples, not by per-sample signs', async () => {
  // y = x·w over 3 features -> 1 value; the candidate adds 0.5, which flips the sign of sample 1's output only.
  const one = (bias: number) =>
    makeModel(
      makeGraph({
        nodes: [makeNode('MatMul', ['x', 'w'], ['m']), makeNode('Add', ['m', 'b'], ['y'])],
        inputs: [makeValueInfo('x', 'float32', ['N', 3])],
        outputs: [makeValueInfo('y', 'float32', ['N', 1])],
        initializers: [
          makeTensor('w', 'float32', [3, 1], new Float32Array([1, -1, 0])),
          makeTensor('b', 'float32', [1], new Float32Array([bias])),
        ],
      }),
    );
  const reg: Dataset = {
    name: 'reg',
    task: 'regression',
    sampleShape: [3],
    x: new Float32Array(X.flat()),
    y: new Float32Array(10),
    n: 10,
    targetSize: 1,
  };
  await withSession(one(0), {}, async (a) => {
    await withSession(one(0.5), {}, async (b) => {
      const r = await fidelity(a, b, reg);
      const ya = X.map((x) => x[0]! - x[1]!);
      const yb = ya.map((v) => v + 0.5);
      const dot = ya.reduce((s, v, i) => s + v * yb[i]!, 0);
      const want = dot / Math.sqrt(ya.reduce((s, v) => s + v * v, 0) * yb.reduce((s, v) => s + v * v, 0));
      assert.ok(Math.abs(r.cosineSimilarity - want) < 1e-6, `${r.cosineSimilarity} vs ${want}`);
      assert.ok(r.cosineSimilarity > 0.95, 'a small shift is not a broken model');
    });
  });
});

test('fidelity: logits shifted and scaled (as fine-tuning leaves them) are the same classifier: cosine of the probabilities', async () => {
  // Candidate logits 3x + 1 (every class alike): argmax and ranking unchanged, raw cosine below 0.9 on some rows.
  const w3 = I3.map((v) => v * 3);
  const shifted = makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['m']), makeNode('Add', ['m', 'one'], ['logits'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 3])],
      outputs: [makeValueInfo('logits', 'float32', ['N', 3])],
      initializers: [
        makeTensor('W', 'float32', [3, 3], new Float32Array(w3)),
        makeTensor('one', 'float32', [3], new Float32Array([-4, -4, -4])),
      ],
    }),
  );
  await withSession(linear(I3), {}, async (a) => {
    await withSession(shifted, {}, async (b) => {
      const r = await fidelity(a, b, cls);
      assert.equal(r.top1Agreement, 1);
      const rawCos = X.map((x) => {
        const y = x.map((v) => 3 * v - 4);
        const dot = x.reduce((s, v, i) => s + v * y[i]!, 0);
        return dot / Math.sqrt(x.reduce((s, v) => s + v * v, 0) * y.reduce((s, v) => s + v * v, 0));
      });
      assert.ok(Math.min(...rawCos) < 0.5, 'raw logits point elsewhere for some rows');
      assert.ok(r.cosineSimilarity > 0.9, `probabilities stay close: ${r.cosineSimilarity}`);
    });
  });
});

test('fidelity: a map output ([N, 1, H, W]) on classification-task data has no top-1 class and no softmax: raw cosine', async () => {
  // y = x reshaped to [N, 1, 1, 3] then tiled to a 2x3 map; the candidate scales it by 0.5 (same direction: cosine 1).
  const map = (scale: number) =>
    makeModel(
      makeGraph({
        nodes: [makeNode('Mul', ['x', 's'], ['m']), makeNode('Reshape', ['m', 'shape'], ['r']), makeNode('Tile', ['r', 'reps'], ['y'])],
        inputs: [makeValueInfo('x', 'float32', ['N', 3])],
        outputs: [makeValueInfo('y', 'float32', ['N', 1, 2, 3])],
        initializers: [
          makeTensor('s', 'float32', [1], new Float32Array([scale])),
          makeTensor('shape', 'int64', [4], [-1, 1, 1, 3]),
          makeTensor('reps', 'int64', [4], [1, 1, 2, 1]),
        ],
      }),
    );
  await withSession(map(1), {}, async (a) => {
    await withSession(map(0.5), {}, async (b) => {
      const r = await fidelity(a, b, cls);
      assert.equal(r.top1Agreement, undefined, 'no top-1 over the pixels of a map');
      assert.equal(r.meanKL, undefined);
      assert.ok(Math.abs(r.cosineSimilarity - 1) < 1e-6, `a scaled map points the same way: ${r.cosineSimilarity}`);
    });
  });
});

test('fidelity: a baseline that outputs all zeros (or next to nothing) on the inputs is flagged (such inputs cannot tell two models apart)', async () => {
  // x -> Relu(-x) on non-negative x: all zeros, as a text detector gives on random pixels.
  const dead = makeModel(
    makeGraph({
      nodes: [makeNode('Neg', ['x'], ['n']), makeNode('Relu', ['n'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 3])],
      outputs: [makeValueInfo('y', 'float32', ['N', 3])],
    }),
  );
  await withSession(dead, {}, async (a) => {
    await withSession(linear(I3), {}, async (b) => {
      const pos: Dataset = { ...cls, x: cls.x.map(Math.abs) };
      assert.equal((await fidelity(a, b, pos)).baselineSilent, true);
      assert.equal((await fidelity(b, a, pos)).baselineSilent, false);
      // A sigmoid map of "nothing here" is not all zeros, only tiny: peak 1e-5 is silent, 1e-3 is a signal.
      const tiny = (k: number): Dataset => ({ ...cls, x: cls.x.map((v) => (v * k) / Math.max(...X.flat().map(Math.abs))) });
      const quiet = await fidelity(b, a, tiny(1e-5));
      assert.equal(quiet.baselineSilent, true);
      assert.ok(Math.abs(quiet.baselinePeak - 1e-5) < 1e-9, String(quiet.baselinePeak));
      // Signed values peaking at 1e-3 are a signal (not probabilities); the same all positive are not.
      const signed: Dataset = { ...cls, x: tiny(1e-3).x.map((v, i) => (i % 2 === 0 ? v : -v)) };
      assert.equal((await fidelity(b, a, signed)).baselineSilent, false);
      assert.equal((await fidelity(b, a, tiny(1e-3))).baselineSilent, true);
      // Probabilities (all in [0, 1]) that never reach 0.01 are a map of nothing; one that reaches 0.5 is not.
      const probs = (k: number): Dataset => ({ ...cls, x: cls.x.map((v) => (Math.abs(v) * k) / Math.max(...X.flat().map(Math.abs))) });
      const empty = await fidelity(b, a, probs(5e-3));
      assert.equal(empty.baselineSilent, true);
      assert.match(empty.baselineSilence ?? '', /values in \[0, 0\.01\)/);
      assert.equal((await fidelity(b, a, probs(0.5))).baselineSilent, false);
    });
  });
});
