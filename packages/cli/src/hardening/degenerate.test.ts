// Numbers that break math, through every pass: each gets a defined result (a clear error naming the
// tensor, or an output with notes), and no output ever holds a NaN. Every output is loaded in
// onnxruntime and checked with onnx.checker (where python3-onnx is installed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isShrinkError, type onnx } from '@shrink/core';
import { createDataset, type Dataset } from '@shrink/core/data';
import { quantizeModel, resolveCalibration } from '@shrink/quantize/runtime';
import { pruneModel } from '@shrink/prune/runtime';
import { tinyConv, tinyMlp } from '../fuzz/corpus.js';
import { assertValidModel } from './check-onnx.fixture.js';
import { DEGENERATE, nanIn, nonFiniteIn, nonFiniteOutputs, noFloatWeights } from './degenerate.fixture.js';

interface Outcome {
  model: onnx.IModelProto;
  notes: string[];
}

const calibration = (n: number, value: (i: number) => number, name = `cal${n}`): Dataset =>
  createDataset({
    name,
    task: 'classification',
    sampleShape: [64],
    x: Float32Array.from({ length: n * 64 }, (_, i) => value(i)),
    y: new Int32Array(n),
    numClasses: 3,
  });

// `matmulOnly`: the pass quantizes MatMul weights only (MatMulNBits), so a Conv weight is not its to check.
const PASSES: ReadonlyArray<readonly [string, (m: onnx.ModelProto) => Promise<Outcome>, { integer: boolean; matmulOnly?: boolean }]> = [
  ['quantize q8 dynamic', async (m) => norm(await quantizeModel(m, { dtype: 'q8' })), { integer: true }],
  [
    'quantize int8 static',
    async (m) => norm(await quantizeModel(m, { dtype: 'int8', mode: 'static' }, { calibration: calibration(8, (i) => (i % 13) / 13) })),
    { integer: true },
  ],
  [
    'quantize q8 weight-only',
    async (m) => norm(await quantizeModel(m, { dtype: 'q8', mode: 'weight-only' })),
    { integer: true, matmulOnly: true },
  ],
  ['quantize uint8 dynamic', async (m) => norm(await quantizeModel(m, { dtype: 'uint8' })), { integer: true }],
  ['quantize q4', async (m) => norm(await quantizeModel(m, { dtype: 'q4', blockSize: 16 })), { integer: true, matmulOnly: true }],
  [
    'quantize q4 asymmetric',
    async (m) => norm(await quantizeModel(m, { dtype: 'q4', blockSize: 16, symmetric: false })),
    { integer: true, matmulOnly: true },
  ],
  ['quantize fp16', async (m) => norm(await quantizeModel(m, { dtype: 'fp16' })), { integer: false }],
  ['prune magnitude', async (m) => norm(await pruneModel(m, { method: 'magnitude', sparsity: 0.5 })), { integer: false }],
  ['prune nm', async (m) => norm(await pruneModel(m, { method: 'nm' })), { integer: false }],
  ['prune structured', async (m) => norm(await pruneModel(m, { method: 'structured', sparsity: 0.5 })), { integer: false }],
];

function norm(r: { model: onnx.IModelProto; report: { notes: string[] } }): Outcome {
  return { model: r.model, notes: r.report.notes };
}

/**
 * Runs one pass; an output must be NaN-free and valid, an error must be a one-line ShrinkError. When the
 * input's weights are all finite, the output's must be too (an infinite scale is as bad as a NaN), and
 * when the input computes finite outputs, so must the output.
 */
async function outcome(
  input: onnx.ModelProto,
  run: (m: onnx.ModelProto) => Promise<Outcome>,
): Promise<Outcome | { code: string; message: string }> {
  const finite = nonFiniteIn(input).length === 0 && (await nonFiniteOutputs(input)).length === 0;
  let r: Outcome;
  try {
    r = await run(input);
  } catch (e) {
    assert.ok(isShrinkError(e), `not a ShrinkError: ${(e as Error).stack}`);
    assert.doesNotMatch(e.message, /\n/);
    return { code: e.code, message: e.message };
  }
  assert.deepEqual(nanIn(r.model), [], 'NaN written into the output');
  if (finite) {
    assert.deepEqual(nonFiniteIn(r.model), [], 'a finite model got an infinite value (weight or scale) written into it');
    assert.deepEqual(await nonFiniteOutputs(r.model), [], 'a model computing finite outputs was made to compute non-finite ones');
  }
  await assertValidModel(r.model);
  return r;
}

for (const [label, make] of DEGENERATE) {
  test(`${label}: every pass gives a defined result, never a NaN in the output`, async () => {
    const nan = /NaN/.test(label);
    const inf = /Inf/.test(label);
    for (const [pass, run, { integer, matmulOnly }] of PASSES) {
      const r = await outcome(make(), run);
      const where = `${pass} on ${label}`;
      // An infinity is refused where the pass would quantize it; one it does not quantize (a Conv weight for
      // a MatMul-only pass, like a causal mask's -Infinity) stays as it was.
      const quantizesIt = integer && !(matmulOnly && /conv/.test(label));
      if (inf && integer && !quantizesIt) {
        assert.ok(!('code' in r), `${where}: ${'message' in r ? r.message : ''}`);
        assert.notDeepEqual(nonFiniteIn(r.model), [], `${where}: the infinite Conv weight should be left as it was`);
        continue;
      }
      if (nan || (inf && quantizesIt)) {
        assert.ok('code' in r, `${where}: expected a refusal`);
        assert.equal(r.code, 'INVALID_MODEL', `${where}: ${r.message}`);
        assert.match(r.message, /tensor '(w1|cw)' holds (NaN|-?Infinity) at flat index \d+/, where);
        continue;
      }
      if ('code' in r && /beyond float32/.test(label) && integer) {
        // Codes at the ends of a ±3.4e38 range can dequantize past FLT_MAX: refused, naming the tensor, its range and a way out.
        assert.equal(r.code, 'INVALID_MODEL', `${where}: ${r.message}`);
        assert.match(r.message, /tensor 'w1'.*range \[.*\] cannot be quantized to .*--exclude NODE/, where);
        continue;
      }
      assert.ok(!('code' in r), `${where}: ${'message' in r ? r.message : ''}`);
      // A node reading a constant beyond float16's range stays float32 rather than being clamped into another model.
      if (pass === 'quantize fp16' && /huge/.test(label))
        assert.ok(
          r.notes.some((n) => /stay float32 because a constant they read does not fit float16/.test(n)),
          `${where}: ${r.notes.join(' | ')}`,
        );
      if (pass === 'quantize fp16' && /denormal/.test(label))
        assert.ok(
          r.notes.some((n) => /below float16's smallest subnormal/.test(n)),
          `${where}: ${r.notes.join(' | ')}`,
        );
    }
  });
}

test('a model with no float weights: every pass returns it working, and says there was nothing to do', async () => {
  for (const [pass, run] of PASSES) {
    const r = await outcome(noFloatWeights(), run);
    assert.ok(!('code' in r), `${pass}: ${'message' in r ? r.message : ''}`);
  }
  const q8 = await quantizeModel(noFloatWeights(), { dtype: 'q8' });
  assert.ok(
    q8.report.notes.some((n) => /returned unchanged/.test(n)),
    q8.report.notes.join(' | '),
  );
  const q4 = await quantizeModel(noFloatWeights(), { dtype: 'q4' });
  assert.ok(
    q4.report.notes.some((n) => /model is unchanged/.test(n)),
    q4.report.notes.join(' | '),
  );
  const pruned = await pruneModel(noFloatWeights(), { method: 'magnitude' });
  assert.equal(pruned.report.layers.length, 0);
});

test('static quantization on degenerate calibration sets: one sample, all zeros (range 0), huge and denormal values', async () => {
  const sets: Dataset[] = [
    calibration(1, (i) => (i % 7) / 7, 'one sample'),
    calibration(4, () => 0, 'all zeros'),
    calibration(2, (i) => (i % 2 ? 1e30 : -1e30), 'huge'),
    calibration(2, (i) => (i % 2 ? 1e-40 : 0), 'denormal'),
  ];
  for (const cal of sets) {
    for (const calibMethod of ['minmax', 'percentile', 'entropy'] as const) {
      for (const model of [tinyMlp(), tinyConv()]) {
        const r = await outcome(model, async (m) =>
          norm(await quantizeModel(m, { dtype: 'int8', mode: 'static', calibMethod }, { calibration: cal })),
        );
        assert.ok(!('code' in r), `${cal.name} ${calibMethod}: ${'message' in r ? r.message : ''}`);
      }
    }
  }
});

test('empty calibration sets are refused with CALIBRATION_EMPTY; a calibration file too small to split says so', async () => {
  await assert.rejects(quantizeModel(tinyMlp(), { dtype: 'int8', mode: 'static' }, { calibration: calibration(0, () => 0, 'none') }), {
    code: 'CALIBRATION_EMPTY',
  });
  await assert.rejects(resolveCalibration('random:0', tinyMlp()), { code: 'CALIBRATION_EMPTY' });
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const path = await import('node:path');
  const os = await import('node:os');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shrink-cal-'));
  try {
    const file = path.join(dir, 'one.json');
    await writeFile(file, JSON.stringify({ x: [Array.from({ length: 64 }, () => 0.5)], y: [1] }));
    // --calib-data takes a file's training part (80 %), which one sample cannot have.
    await assert.rejects(
      resolveCalibration(file, tinyMlp()),
      (e: unknown) => isShrinkError(e) && e.code === 'INVALID_DATA' && /too few to split/.test(e.message),
    );
    await writeFile(file, JSON.stringify({ x: [], y: [] }));
    await assert.rejects(
      resolveCalibration(file, tinyMlp()),
      (e: unknown) => isShrinkError(e) && e.code === 'INVALID_DATA' && /non-empty/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
