import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { quantizeTfjsWeights, type TfjsWeightSpec } from './tfjs-weights.js';

type Weight = { name: string; values: Float32Array | Int32Array | Uint8Array; shape?: number[] };

/** A manifest and its bytes as tfjs lays them out: weights end to end, no padding. */
function manifest(weights: Weight[]): { weightSpecs: TfjsWeightSpec[]; weightData: ArrayBuffer } {
  const dtypeOf = (v: Weight['values']) => (v instanceof Float32Array ? 'float32' : v instanceof Int32Array ? 'int32' : 'bool');
  const weightSpecs = weights.map(
    (w) => ({ name: w.name, shape: w.shape ?? [w.values.length], dtype: dtypeOf(w.values) }) satisfies TfjsWeightSpec,
  );
  const parts = weights.map((w) => new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength));
  const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { weightSpecs, weightData: data.buffer };
}

/** tfjs-core's own decoder: what tf.loadLayersModel will see. */
function decode(weightData: ArrayBuffer, specs: TfjsWeightSpec[]): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(tf.io.decodeWeights(weightData, specs))) {
    out[name] = t.dataSync() as Float32Array;
    t.dispose();
  }
  return out;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

test('uint8 known answer: scale 2^-7, zero nudged onto code 128, halves round to even', () => {
  // max - min = 255/128, so scale = 2^-7 and every step below is exact.
  const x = Float32Array.from([-1, 0, 0.5, 0.9921875, 2 ** -8, 3 * 2 ** -8]);
  const r = quantizeTfjsWeights(manifest([{ name: 'w', values: x }]), { dtype: 'uint8' });
  assert.deepEqual(r.weightSpecs[0], {
    name: 'w',
    shape: [6],
    dtype: 'float32',
    quantization: { dtype: 'uint8', scale: 2 ** -7, min: -1, original_dtype: 'float32' },
  });
  assert.deepEqual([...new Uint8Array(r.weightData)], [0, 128, 192, 255, 128, 130]);
  assert.equal(r.report.weights[0]!.maxAbsError, 2 ** -8);
  assert.deepEqual(r.report, {
    dtype: 'uint8',
    weights: [
      {
        name: 'w',
        elements: 6,
        from: 'float32',
        to: 'uint8',
        bytesBefore: 24,
        bytesAfter: 6,
        maxAbsError: 2 ** -8,
        scale: 2 ** -7,
        min: -1,
      },
    ],
    skipped: [],
    bytesBefore: 24,
    bytesAfter: 6,
  });
});

test("uint8 matches tensorflowjs_converter's documented example [0, -0.1, 1.2] -> [20, 0, 255]", () => {
  // write_weights.py _quantize_entry docstring: min -0.10196078817, scale 0.00509803940852.
  const r = quantizeTfjsWeights(manifest([{ name: 'w', values: Float32Array.from([0, -0.1, 1.2]) }]), { dtype: 'uint8' });
  assert.deepEqual([...new Uint8Array(r.weightData)], [20, 0, 255]);
  const q = r.weightSpecs[0]!.quantization!;
  assert.ok(Math.abs(q.min! - -0.10196078817) < 1e-10, `min ${q.min}`);
  assert.ok(Math.abs(q.scale! - 0.00509803940852) < 1e-12, `scale ${q.scale}`);
  assert.equal(decode(r.weightData, r.weightSpecs).w![0], 0, 'zero decodes exactly');
});

test("uint8/uint16 on random weights: tfjs decodes within scale/2 of the original, 0 stays exact, reported error is tfjs's", () => {
  const n = 5000;
  const x = new Float32Array(n);
  let s = 7;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    x[i] = (s / 2 ** 31) * 0.9 - 0.3;
  }
  x[17] = 0;
  const pos = Float32Array.from(x, (v) => Math.abs(v) + 0.25); // range without 0: no nudging
  for (const dtype of ['uint8', 'uint16'] as const) {
    const r = quantizeTfjsWeights(
      manifest([
        { name: 'a', values: x, shape: [50, 100] },
        { name: 'b', values: pos },
      ]),
      { dtype },
    );
    const got = decode(r.weightData, r.weightSpecs);
    assert.equal(r.weightData.byteLength, 2 * n * (dtype === 'uint8' ? 1 : 2));
    for (const [i, name] of ['a', 'b'].entries()) {
      const orig = name === 'a' ? x : pos;
      const { scale } = r.weightSpecs[i]!.quantization!;
      const err = maxAbsDiff(got[name]!, orig);
      assert.equal(r.report.weights[i]!.maxAbsError, err, `${dtype} ${name}: reported error is the decoded one`);
      // scale/2, plus half a float32 ulp of the largest |value| for the decoded value's rounding.
      assert.ok(err <= scale! / 2 + 2 ** -24, `${dtype} ${name}: error ${err} > scale/2 ${scale! / 2}`);
      assert.ok(err > scale! / 4, `${dtype} ${name}: error ${err} suspiciously small for scale ${scale}`);
    }
    assert.equal(got.a![17], 0);
    assert.equal(
      r.weightSpecs[1]!.quantization!.min,
      Math.fround(0.25 + Math.min(...pos.map((v) => v - 0.25))),
      'no nudge when 0 is outside the range',
    );
    const expectScale = (Math.max(...x) - Math.min(...x)) / (dtype === 'uint8' ? 255 : 65535);
    assert.equal(r.weightSpecs[0]!.quantization!.scale, expectScale);
  }
});

test('constant tensors store zeros with scale 1 and min = the value, and decode exactly', () => {
  const r = quantizeTfjsWeights(
    manifest([
      { name: 'c', values: new Float32Array(4).fill(0.7) },
      { name: 'z', values: new Float32Array(3) },
    ]),
    { dtype: 'uint16' },
  );
  assert.deepEqual(
    r.weightSpecs.map((s) => s.quantization),
    [
      { dtype: 'uint16', scale: 1, min: Math.fround(0.7), original_dtype: 'float32' },
      { dtype: 'uint16', scale: 1, min: 0, original_dtype: 'float32' },
    ],
  );
  assert.deepEqual([...new Uint16Array(r.weightData)], [0, 0, 0, 0, 0, 0, 0]);
  const got = decode(r.weightData, r.weightSpecs);
  assert.deepEqual([...got.c!], [0.7, 0.7, 0.7, 0.7].map(Math.fround));
  assert.deepEqual([...got.z!], [0, 0, 0]);
  assert.deepEqual(
    r.report.weights.map((w) => w.maxAbsError),
    [0, 0],
  );
});

test('float16: IEEE half bits, {dtype, original_dtype} block, overflow refused naming the weight', () => {
  const x = Float32Array.from([1, 1 / 3, -65504, 2 ** -24, 0]);
  const r = quantizeTfjsWeights(manifest([{ name: 'h', values: x }]), { dtype: 'float16' });
  assert.deepEqual(r.weightSpecs[0]!.quantization, { dtype: 'float16', original_dtype: 'float32' });
  assert.deepEqual([...new Uint16Array(r.weightData)], [0x3c00, 0x3555, 0xfbff, 0x0001, 0]);
  const got = decode(r.weightData, r.weightSpecs).h!;
  assert.equal(got[1], 0.333251953125);
  assert.equal(r.report.weights[0]!.maxAbsError, maxAbsDiff(got, x));
  assert.ok(Math.abs(r.report.weights[0]!.maxAbsError - (1 / 3 - 0.333251953125)) < 1e-8, `error ${r.report.weights[0]!.maxAbsError}`);
  assert.throws(
    () => quantizeTfjsWeights(manifest([{ name: 'big/kernel', values: Float32Array.from([1, 70000]) }]), { dtype: 'float16' }),
    {
      code: 'INVALID_ARGUMENT',
      message: /weight 'big\/kernel' element 1 is 70000, beyond float16/,
    },
  );
});

test('non-float32 and already-quantized weights pass through byte for byte, unaligned float32 is read right', () => {
  const flags = Uint8Array.from([1, 0, 1]); // 3 bytes: the next float32 starts at an odd offset
  const w = Float32Array.from([-2, 0, 2, 1]);
  const ids = Int32Array.from([7, -9]);
  const m = manifest([
    { name: 'flags', values: flags },
    { name: 'w', values: w },
    { name: 'ids', values: ids },
  ]);
  const once = quantizeTfjsWeights(m, { dtype: 'uint8' });
  assert.deepEqual(once.report.skipped, [
    { name: 'flags', reason: 'bool weights are kept (only float32 is quantized)' },
    { name: 'ids', reason: 'int32 weights are kept (only float32 is quantized)' },
  ]);
  assert.equal(once.report.bytesBefore, 3 + 16 + 8);
  assert.equal(once.report.bytesAfter, 3 + 4 + 8);
  const got = tf.io.decodeWeights(once.weightData, once.weightSpecs);
  assert.deepEqual([...got.flags!.dataSync()], [1, 0, 1]);
  assert.deepEqual([...got.ids!.dataSync()], [7, -9]);
  // scale/2, plus half a float32 ulp at |2| for the decoded value's rounding.
  const err = maxAbsDiff(got.w!.dataSync(), w);
  assert.ok(err <= 4 / 255 / 2 + 2 ** -23, `error ${err}`);
  Object.values(got).forEach((t) => t.dispose());
  // A second pass leaves the quantized weight alone.
  const twice = quantizeTfjsWeights(once, { dtype: 'float16' });
  assert.deepEqual(twice.weightSpecs, once.weightSpecs);
  assert.deepEqual(new Uint8Array(twice.weightData), new Uint8Array(once.weightData));
  assert.equal(twice.report.skipped[1]!.reason, 'already stored as uint8');
});

test('include/exclude by name, layer or glob; minElements keeps small tensors; unknown entries are refused', () => {
  const f = (n: number) => new Float32Array(n).map((_, i) => i - 1);
  const m = manifest([
    { name: 'fc1/kernel', values: f(12) },
    { name: 'fc1/bias', values: f(3) },
    { name: 'fc2/kernel', values: f(12) },
    { name: 'fc2/bias', values: f(3) },
  ]);
  const done = (o: Parameters<typeof quantizeTfjsWeights>[1]) => quantizeTfjsWeights(m, o).report.weights.map((w) => w.name);
  assert.deepEqual(done({ include: ['fc1'] }), ['fc1/kernel', 'fc1/bias']);
  assert.deepEqual(done({ include: ['*/kernel'] }), ['fc1/kernel', 'fc2/kernel']);
  assert.deepEqual(done({ exclude: ['fc2/bias', 'fc?/kernel'] }), ['fc1/bias']);
  assert.deepEqual(done({ minElements: 4 }), ['fc1/kernel', 'fc2/kernel']);
  assert.deepEqual(quantizeTfjsWeights(m, { minElements: 4 }).report.skipped[0], {
    name: 'fc1/bias',
    reason: '3 elements < minElements 4',
  });
  assert.throws(() => done({ exclude: ['fc3'] }), {
    code: 'INVALID_ARGUMENT',
    message: /quantize\.exclude: no weight named or matching 'fc3'; weights are 'fc1\/kernel', 'fc1\/bias'/,
  });
  assert.throws(() => done({ dtype: 'int8' as 'uint8' }), {
    code: 'INVALID_ARGUMENT',
    message: /quantize\.dtype: must be one of "uint8", "uint16", "float16"/,
  });
});

test('NaN/Inf weights are INVALID_MODEL naming the weight (unless excluded); short data is INVALID_MODEL', () => {
  const bad = manifest([
    { name: 'ok', values: Float32Array.from([1, 2]) },
    { name: 'dense/kernel', values: Float32Array.from([1, Number.NaN]) },
  ]);
  for (const dtype of ['uint8', 'float16'] as const) {
    assert.throws(() => quantizeTfjsWeights(bad, { dtype }), { code: 'INVALID_MODEL', message: /weight 'dense\/kernel' element 1 is NaN/ });
  }
  const inf = manifest([{ name: 'k', values: Float32Array.from([-Infinity]) }]);
  assert.throws(() => quantizeTfjsWeights(inf), { code: 'INVALID_MODEL', message: /weight 'k' element 0 is -Infinity/ });
  const kept = quantizeTfjsWeights(bad, { exclude: ['dense'] });
  assert.deepEqual([...new Float32Array(kept.weightData.slice(2))], [1, Number.NaN], 'the excluded weight keeps its float32 bytes');
  const short = { weightSpecs: bad.weightSpecs, weightData: bad.weightData.slice(0, 12) };
  assert.throws(() => quantizeTfjsWeights(short), {
    code: 'INVALID_MODEL',
    message: /weight 'dense\/kernel' needs bytes 8\.\.16 of the weight data, which holds 12/,
  });
});

test('inputs are not mutated; several weight buffers are read as one', () => {
  const m = manifest([
    { name: 'a', values: Float32Array.from([0.1, -0.4, 3]) },
    { name: 'b', values: Float32Array.from([5, 6]) },
  ]);
  const specsBefore = JSON.stringify(m.weightSpecs);
  const bytesBefore = new Uint8Array(m.weightData.slice(0));
  const whole = quantizeTfjsWeights(m, { dtype: 'uint8' });
  assert.equal(JSON.stringify(m.weightSpecs), specsBefore);
  assert.deepEqual(new Uint8Array(m.weightData), bytesBefore);
  const split = quantizeTfjsWeights(
    { weightSpecs: m.weightSpecs, weightData: [m.weightData.slice(0, 7), m.weightData.slice(7)] },
    { dtype: 'uint8' },
  );
  assert.deepEqual(new Uint8Array(split.weightData), new Uint8Array(whole.weightData));
  assert.notEqual(whole.weightSpecs[0], m.weightSpecs[0]);
});
