// fp16's range check: the float32 model runs on the given inputs (synthetic ones without), and a node whose
// output passes 65504 / 16 there, or that reads a value past 65504, stays float32 with the value in its
// reason. openWakeWord's melspectrogram takes raw int16-scale audio: its STFT power reaches 4e10, and
// without the check its fp16 output is Infinity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions, type onnx } from '@shrink/core';
import { createDataset } from '@shrink/core/data';
import { createSession, readFeedSet, type FeedSet, type Feeds } from '@shrink/core/runtime';
import { convertToFloat16 } from './fp16.js';
import { quantizeOptionsSchema } from './options.js';
import { quantizeModel } from './runtime/quantize-model.js';
import { lcgValues, relMax, runOutput } from './test-data.fixture.js';

const K = 8;
const N = 4;

/**
 * x [N, 8] in [1, 2] -> MatMul (weights ~0.5) -> a (~6) -> MatMul (weights 1500..2500) -> h (~1e5, past
 * float16) -> Concat with a -> Unsqueeze -> MatMul (weights ~1e-5) -> y (~1) -> + bias. Inputs, weights and output fit
 * float16 with room; only `h` does not. onnxruntime's CPU runs the MatMuls in float32 behind its own Casts
 * (and a lone float16 node between two such); the Concat and Unsqueeze (any type) make it hold `h` as
 * float16, as the melspectrogram's Unsqueeze and Transpose do its STFT.
 */
function overflowingMiddle(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'W0'], ['a'], {}, { name: 'embed' }),
        makeNode('MatMul', ['a', 'W1'], ['h'], {}, { name: 'widen' }),
        makeNode('Concat', ['h', 'a'], ['ha'], { axis: 1 }, { name: 'join' }),
        makeNode('Unsqueeze', ['ha', 'axes'], ['hu'], {}, { name: 'lift' }),
        makeNode('MatMul', ['hu', 'W2'], ['z'], {}, { name: 'narrow' }),
        makeNode('Add', ['z', 'B'], ['y'], {}, { name: 'bias' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', K])],
      outputs: [makeValueInfo('y', 'float32', [1, 'N', K])],
      initializers: [
        makeTensor(
          'W0',
          'float32',
          [K, K],
          lcgValues(K * K, 5).map((v) => 0.5 + 0.1 * v),
        ),
        makeTensor(
          'W1',
          'float32',
          [K, K],
          lcgValues(K * K, 7).map((v) => 2000 + 500 * v),
        ),
        makeTensor('W2', 'float32', [2 * K, K], lcgValues(2 * K * K, 9, 1e-5)),
        makeTensor('B', 'float32', [K], lcgValues(K, 11)),
        makeTensor('axes', 'int64', [1], [0]),
      ],
    }),
    { opset: 17 },
  );
}

const x = lcgValues(N * K, 3).map((v) => 1.5 + 0.5 * v);
const feeds: Feeds = { x: { data: x, dims: [N, K] } };
const given: FeedSet = { name: 'the test feeds', samples: [feeds], synthetic: false };
const fp16 = parseOptions(quantizeOptionsSchema, { dtype: 'fp16' });

test('fp16 range check: the MatMul past float16 and what reads it stay float32, named with the peak; without the check the output is Infinity', async () => {
  const model = overflowingMiddle();
  const want = await runOutput(model, feeds);
  // The premise: the static rules alone convert everything, and float16 turns the square into Infinity.
  const plain = convertToFloat16(model, fp16);
  assert.ok(
    plain.report.nodes.every((n) => n.action === 'quantized'),
    'no static rule keeps a node of this model',
  );
  const inf = await runOutput(plain.model, feeds);
  assert.ok(
    inf.every((v) => !Number.isFinite(v)),
    `without the range check every output is Infinity (got ${inf.slice(0, 3).join(', ')})`,
  );

  const r = await quantizeModel(model, { dtype: 'fp16' }, { ranges: given });
  const row = (name: string) => r.report.nodes.find((n) => n.name === name);
  assert.equal(row('widen')?.action, 'kept-float');
  assert.match(row('widen')?.reason ?? '', /its output 'h' reached [0-9.]+e5 on the data, past 4094/);
  // The next MatMul's output fits, but as float16 it would read Infinity through the Cast in front of it.
  assert.equal(row('join')?.action, 'kept-float');
  assert.match(row('join')?.reason ?? '', /its output 'ha' reached [0-9.]+e5/);
  assert.equal(row('lift')?.action, 'kept-float');
  assert.equal(row('narrow')?.action, 'kept-float');
  assert.match(row('narrow')?.reason ?? '', /it reads 'hu', which reached .* past float16's ±65504/);
  assert.equal(row('embed')?.action, 'quantized', 'a peaks near 10, far under 65504 / 16: it converts');
  assert.equal(row('bias')?.action, 'quantized');
  assert.ok(r.report.notes.some((n) => /^range check on the test feeds: 4 node\(s\) stay float32/.test(n)));
  // The kept MatMuls store their weights float16 too (read through Casts), so the file still halves.
  const T = 10; // TensorProto FLOAT16
  assert.deepEqual(
    (r.model.graph?.initializer ?? []).filter((t) => t.dataType !== T && t.dataType !== 7).map((t) => t.name),
    [],
    'every weight is stored float16',
  );

  const got = await runOutput(r.model, feeds);
  // float16 carries 11 significant bits: x, a and the weights are rounded to ~2^-11 relative each, and
  // the last MatMul sums terms of both signs, so the error is judged against the output's scale.
  assert.ok(got.every(Number.isFinite), 'every output is finite');
  const worst = relMax(got, want);
  console.log(`# overflowing middle: largest error ${worst.toExponential(2)} of the output's scale`);
  assert.ok(worst <= 5e-3, `largest error ${worst.toExponential(2)} of the output's scale (<= 5e-3)`);
});

test('fp16 range check: without given inputs it runs on synthetic ones and says so, a dataset feeds it too; a run that fails leaves the static rules with a note', async () => {
  const model = overflowingMiddle();
  // Synthetic inputs are uniform [0, 1): h ~ 3e4, past 65504 / 16 though not past 65504.
  const synthetic = await quantizeModel(model, { dtype: 'fp16' });
  assert.equal(synthetic.report.nodes.find((n) => n.name === 'widen')?.action, 'kept-float');
  assert.ok(synthetic.report.notes.some((n) => /^range check on .*synthetic.*: 3 node\(s\) stay float32/.test(n)));
  const got = await runOutput(synthetic.model, feeds);
  assert.ok(got.every(Number.isFinite), 'the output is finite on the real feeds too');

  // A dataset (what a pipeline's evaluation data is) feeds the model's input from its first samples, in one run.
  const ds = createDataset({ name: 'loud rows', task: 'classification', sampleShape: [K], x, y: new Int32Array(N), numClasses: 1 });
  const fromDataset = await quantizeModel(model, { dtype: 'fp16' }, { ranges: ds });
  assert.match(fromDataset.report.nodes.find((n) => n.name === 'narrow')?.reason ?? '', /it reads 'hu', which reached .*e5 on the data/);
  assert.ok(fromDataset.report.notes.some((n) => /^range check on 4 sample\(s\) of loud rows: 4 node\(s\)/.test(n)));

  // Feeds of the wrong width: onnxruntime refuses the run, the pass still converts (as before) and says why.
  const wrong: FeedSet = { name: 'bad feeds', samples: [{ x: { data: new Float32Array(3), dims: [1, 3] } }], synthetic: false };
  const r = await quantizeModel(model, { dtype: 'fp16' }, { ranges: wrong });
  assert.ok(r.report.notes.some((n) => /^range check not run \(the float32 model did not run on bad feeds: /.test(n)));
  assert.ok(r.report.nodes.every((n) => n.action === 'quantized'));
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MEL = path.join(ROOT, '.cache/corpus/oww-melspectrogram.onnx');
const MEL_FEEDS = path.join(ROOT, '.cache/corpus/oww-melspectrogram.feeds.npz');
const melSkip =
  existsSync(MEL) && existsSync(MEL_FEEDS) ? false : `${path.relative(ROOT, MEL)} or its feeds are absent (pnpm corpus fetches them)`;

function cosine(a: Float32Array, b: Float32Array): number {
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) [ab, aa, bb] = [ab + a[i]! * b[i]!, aa + a[i]! ** 2, bb + b[i]! ** 2];
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

test(
  'fp16 of openWakeWord melspectrogram with its feeds: every output cosine >= 0.999 against float32, about half the file',
  { skip: melSkip },
  async () => {
    const model = decodeModel(readFileSync(MEL));
    const probe = await createSession(encodeModel(model));
    const set = await readFeedSet(MEL_FEEDS, probe, model).finally(() => probe.release());
    const r = await quantizeModel(model, { dtype: 'fp16' }, { ranges: set });
    const kept = r.report.nodes.filter((n) => n.action === 'kept-float' && /reached/.test(n.reason ?? ''));
    assert.ok(kept.length > 0 && kept.some((n) => n.opType === 'Pow'), 'the STFT power stays float32');
    const base = encodeModel(model);
    const half = encodeModel(r.model);
    const ratio = half.length / base.length;
    const a = await createSession(base);
    const b = await createSession(half);
    try {
      for (const name of a.outputNames) {
        const want: number[] = [];
        const got: number[] = [];
        for (const f of set.samples) {
          want.push(...((await a.run(f, [name]))[name]!.data as Float32Array));
          got.push(...((await b.run(f, [name]))[name]!.data as Float32Array));
        }
        const c = cosine(Float32Array.from(got), Float32Array.from(want));
        console.log(
          `# melspectrogram fp16: output '${name}' cosine ${c.toFixed(7)}, file ${ratio.toFixed(3)}x of float32, ${kept.length} node(s) kept float32 by the range check`,
        );
        assert.ok(got.every(Number.isFinite), `output '${name}' is finite`);
        assert.ok(c >= 0.999, `output '${name}' cosine ${c} >= 0.999`);
      }
    } finally {
      await a.release();
      await b.release();
    }
    // The kept nodes store their weights float16 (read through Casts), so the file still halves.
    assert.ok(ratio < 0.55, `file ${ratio.toFixed(3)}x of float32 (< 0.55x)`);
  },
);

test('q4f16 range check: the float16 half keeps the same nodes float32, and the output stays finite', async () => {
  const model = overflowingMiddle();
  const want = await runOutput(model, feeds);
  const r = await quantizeModel(model, { dtype: 'q4f16', blockSize: 16 }, { ranges: given });
  // q4f16's rows are the MatMuls it quantized; the float16 half says what it kept in its notes.
  assert.ok(
    r.report.notes.some((n) => /^range check on the test feeds: 4 node\(s\) stay float32/.test(n)),
    r.report.notes.join('\n'),
  );
  const got = await runOutput(r.model, feeds);
  assert.ok(got.every(Number.isFinite), `every output is finite (got ${got.slice(0, 3).join(', ')})`);
  // 4-bit weights where the MatMuls take them: judged loosely, against the output's scale.
  assert.ok(relMax(got, want) <= 0.1, `largest error ${relMax(got, want).toExponential(2)} of the output's scale`);
});
