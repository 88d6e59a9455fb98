import assert from 'node:assert/strict';
import test from 'node:test';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, ShrinkError } from '@shrink/core';
import { mulberry32 } from '@shrink/core/data';
import { createSession } from '@shrink/core/runtime';
import { chooseParams, dequantizeTensor, intRange, quantizeTensor, type IntType } from './params.js';

const f32 = Math.fround;

test('intRange: 8- and 4-bit ranges; symmetric int8 drops -128 as onnxruntime does', () => {
  assert.deepEqual(intRange('int8'), { qmin: -128, qmax: 127 });
  assert.deepEqual(intRange('int8', true), { qmin: -127, qmax: 127 });
  assert.deepEqual(intRange('uint8'), { qmin: 0, qmax: 255 });
  assert.deepEqual(intRange('uint8', true), { qmin: 0, qmax: 255 });
  assert.deepEqual(intRange('int4'), { qmin: -8, qmax: 7 });
  assert.deepEqual(intRange('int4', true), { qmin: -8, qmax: 7 });
  assert.deepEqual(intRange('uint4'), { qmin: 0, qmax: 15 });
});

test('chooseParams: asymmetric ranges are widened to include 0 and give a rounded zero point', () => {
  assert.deepEqual(chooseParams(-1, 2, 'uint8', false), { scale: f32(3 / 255), zeroPoint: 85 });
  assert.deepEqual(chooseParams(-1, 2, 'int8', false), { scale: f32(3 / 255), zeroPoint: -43 });
  // [1, 3] becomes [0, 3]: 0 must stay exactly representable (padding, ReLU outputs).
  assert.deepEqual(chooseParams(1, 3, 'uint8', false), { scale: f32(3 / 255), zeroPoint: 0 });
  assert.deepEqual(chooseParams(-3, -1, 'uint8', false), { scale: f32(3 / 255), zeroPoint: 255 });
  assert.deepEqual(chooseParams(0, 1.5, 'uint4', false), { scale: f32(0.1), zeroPoint: 0 });
  assert.deepEqual(chooseParams(-0.8, 0.7, 'int4', false), { scale: f32(0.1), zeroPoint: 0 });
});

test('chooseParams: symmetric gives zero point 0 (int8/int4) or the mid code (uint8/uint4), scale = max|x| / ((qmax-qmin)/2)', () => {
  assert.deepEqual(chooseParams(-1, 2, 'int8', true), { scale: f32(2 / 127), zeroPoint: 0 });
  assert.deepEqual(chooseParams(-1, 2, 'uint8', true), { scale: f32(2 / 127.5), zeroPoint: 128 });
  assert.deepEqual(chooseParams(-1, 0.5, 'int4', true), { scale: f32(1 / 7.5), zeroPoint: 0 });
  assert.deepEqual(chooseParams(-1, 0.5, 'uint4', true), { scale: f32(1 / 7.5), zeroPoint: 8 });
});

test('chooseParams: a zero range gives scale 1, never 0; bad ranges are refused', () => {
  assert.deepEqual(chooseParams(0, 0, 'int8', false), { scale: 1, zeroPoint: 0 });
  assert.deepEqual(chooseParams(0, 0, 'uint8', false), { scale: 1, zeroPoint: 0 });
  assert.deepEqual(chooseParams(0, 0, 'int8', true), { scale: 1, zeroPoint: 0 });
  assert.deepEqual(chooseParams(0, 0, 'uint8', true), { scale: 1, zeroPoint: 128 });
  assert.throws(
    () => chooseParams(NaN, 1, 'int8', true),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT',
  );
  assert.throws(() => chooseParams(2, 1, 'int8', true), /min <= max/);
});

test('quantizeTensor: per tensor, halves round to even (onnxruntime), codes clamp to the range', () => {
  // max|x| = 127 makes the symmetric int8 scale exactly 1, so x / scale is x itself.
  const data = new Float32Array([127, 2.5, 3.5, -2.5, -0.5, 0.5, 1.5, -126.5]);
  const r = quantizeTensor(data, [8], { type: 'int8', symmetric: true });
  assert.ok(r.q instanceof Int8Array);
  assert.deepEqual([...r.scale], [1]);
  assert.deepEqual([...r.zeroPoint], [0]);
  assert.equal(r.axis, undefined);
  assert.deepEqual([...r.q], [127, 2, 4, -2, 0, 0, 2, -126]);
  // int4 symmetric, max|x| = 7.5 so scale 1: +7.5 -> 8 (even), clamped to 7; -7.5 -> -8.
  const r4 = quantizeTensor(new Float32Array([-7.5, 7.5, 2.5]), [3], { type: 'int4', symmetric: true });
  assert.ok(r4.q instanceof Int8Array);
  assert.deepEqual([...r4.scale], [1]);
  assert.deepEqual([...r4.q], [-8, 7, 2]);
  const ru = quantizeTensor(new Float32Array([0, 15, 2.5, 3.5]), [4], { type: 'uint4', symmetric: false });
  assert.ok(ru.q instanceof Uint8Array);
  assert.deepEqual([...ru.q], [0, 15, 2, 4]);
  // uint8 symmetric: zero point 128 whatever float rounding of max|x| / scale says.
  const u8 = quantizeTensor(new Float32Array([-1, 2, 0]), [3], { type: 'uint8', symmetric: true });
  assert.deepEqual([...u8.zeroPoint], [128]);
  assert.deepEqual([...u8.q], [64, 255, 128]);
});

test('quantizeTensor: per channel along axis 0 and 1 (known answers with exact scales)', () => {
  const dims = [2, 2];
  const data = new Float32Array([127, 254, -3, 5]);
  const cols = quantizeTensor(data, dims, { type: 'int8', symmetric: true, axis: 1 });
  assert.equal(cols.axis, 1);
  assert.deepEqual([...cols.scale], [1, 2]);
  assert.deepEqual([...cols.q], [127, 127, -3, 2]); // 5 / 2 = 2.5 -> 2
  const rows = quantizeTensor(data, dims, { type: 'int8', symmetric: true, axis: 0 });
  assert.equal(rows.axis, 0);
  assert.deepEqual([...rows.scale], [2, f32(5 / 127)]);
  assert.deepEqual([...rows.q], [64, 127, -76, 127]); // 127 / 2 = 63.5 -> 64; -3 / (5/127) = -76.2
  const neg = quantizeTensor(data, dims, { type: 'int8', symmetric: true, axis: -1 });
  assert.deepEqual([...neg.q], [...cols.q]);
});

test('quantizeTensor: per channel equals quantizing each channel slice alone (rank 4, every axis, all types)', () => {
  const rnd = mulberry32(7);
  const dims = [3, 4, 2, 5];
  const data = new Float32Array(3 * 4 * 2 * 5).map(() => (rnd() - 0.3) * 4);
  const strides = [40, 10, 5, 1];
  for (const type of ['int8', 'uint8', 'int4', 'uint4'] as IntType[]) {
    for (const symmetric of [true, false]) {
      for (let axis = 0; axis < 4; axis++) {
        const r = quantizeTensor(data, dims, { type, symmetric, axis });
        assert.equal(r.scale.length, dims[axis]);
        for (let c = 0; c < dims[axis]!; c++) {
          const idx: number[] = [];
          for (let i = 0; i < data.length; i++) if (Math.floor(i / strides[axis]!) % dims[axis]! === c) idx.push(i);
          const alone = quantizeTensor(
            Float32Array.from(idx, (i) => data[i]!),
            [idx.length],
            { type, symmetric },
          );
          assert.equal(r.scale[c], alone.scale[0], `${type} sym=${symmetric} axis=${axis} channel ${c} scale`);
          assert.equal(r.zeroPoint[c], alone.zeroPoint[0]);
          assert.deepEqual(
            idx.map((i) => r.q[i]),
            [...alone.q],
          );
        }
      }
    }
  }
});

test('dequantizeTensor inverts quantizeTensor within half a step, per tensor and per channel', () => {
  const rnd = mulberry32(3);
  const dims = [6, 5];
  const data = new Float32Array(30).map((_, i) => (rnd() - 0.5) * (1 + (i % 5) * 10));
  for (const type of ['int8', 'uint8', 'int4', 'uint4'] as IntType[]) {
    for (const axis of [undefined, 0, 1]) {
      const r = quantizeTensor(data, dims, { type, symmetric: false, ...(axis === undefined ? {} : { axis }) });
      const back = dequantizeTensor(r.q, dims, r.scale, r.zeroPoint, r.axis);
      for (let i = 0; i < data.length; i++) {
        const s = axis === undefined ? r.scale[0]! : axis === 0 ? r.scale[Math.floor(i / 5)]! : r.scale[i % 5]!;
        assert.ok(Math.abs(back[i]! - data[i]!) <= s / 2 + 1e-6, `${type} axis ${axis} elem ${i}: ${back[i]} vs ${data[i]}`);
      }
    }
  }
  assert.throws(() => dequantizeTensor(new Int8Array(4), [2, 2], new Float32Array(1), [0, 0], 0), /channel/);
});

test('quantizeTensor refuses NaN and Inf weights, naming the tensor', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    assert.throws(
      () => quantizeTensor(new Float32Array([1, bad, 2]), [3], { type: 'int8', symmetric: true, name: 'fc1.weight' }),
      (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_MODEL' && e.message.includes("'fc1.weight'"),
    );
  }
  assert.throws(() => quantizeTensor(new Float32Array(3), [2, 2], { type: 'int8', symmetric: true }), /dims/);
  assert.throws(() => quantizeTensor(new Float32Array(4), [2, 2], { type: 'int8', symmetric: true, axis: 2 }), /axis 2/);
});

test("codes match onnxruntime's QuantizeLinear bit for bit (random data, per tensor and per channel)", async () => {
  const rnd = mulberry32(11);
  const dims = [16, 8];
  const data = new Float32Array(128).map(() => (rnd() - 0.4) * 3);
  // With max|x| = 127 the symmetric int8 scale is 1, so these land exactly on half steps (the tie rule).
  data.set([0, 127, 2.5, -3.5, 0.5, -0.5, 126.5], 0);
  for (const [type, symmetric, axis] of [
    ['uint8', false, undefined],
    ['int8', true, undefined],
    ['int8', false, 1],
    ['uint8', true, 0],
  ] as Array<['int8' | 'uint8', boolean, number | undefined]>) {
    const r = quantizeTensor(data, dims, { type, symmetric, ...(axis === undefined ? {} : { axis }) });
    const sdims = axis === undefined ? [] : [r.scale.length];
    const model = makeModel(
      makeGraph({
        nodes: [makeNode('QuantizeLinear', ['x', 's', 'z'], ['y'], axis === undefined ? {} : { axis })],
        inputs: [makeValueInfo('x', 'float32', dims)],
        outputs: [makeValueInfo('y', type, dims)],
        initializers: [makeTensor('s', 'float32', sdims, r.scale), makeTensor('z', type, sdims, r.zeroPoint)],
      }),
      { opset: 13 },
    );
    const session = await createSession(model);
    try {
      const out = await session.run({ x: { data, dims } });
      assert.deepEqual([...(out.y!.data as Int8Array | Uint8Array)], [...r.q], `${type} sym=${symmetric} axis=${axis}`);
    } finally {
      await session.release();
    }
  }
});

test('chooseParams/quantizeTensor: weights beyond float32 range differences get a finite scale (taken in float64), not Infinity', () => {
  const max = f32(3.4e38);
  for (const [min, hi, type, symmetric] of [
    [-1, 2e38, 'int8', true], // 2 * max|w| > FLT_MAX
    [-max, max, 'uint8', false], // max - min > FLT_MAX
    [-max, max, 'uint4', false],
    [-max, max, 'int4', true],
  ] as const) {
    const p = chooseParams(min, hi, type, symmetric);
    assert.ok(Number.isFinite(p.scale) && p.scale > 0, `${type} symmetric=${symmetric}: scale ${p.scale}`);
    const data = Float32Array.from([min, 0, hi, hi / 3]);
    let r;
    try {
      r = quantizeTensor(data, [4], { type, symmetric, name: 'w' });
    } catch (e) {
      // Codes at the ends of such a range can round past FLT_MAX: refused, naming the tensor and its range.
      assert.ok(e instanceof ShrinkError && e.code === 'INVALID_MODEL', String(e));
      assert.match(e.message, /^tensor 'w': range \[-?[\d.e+]+, [\d.e+]+\] cannot be quantized to \w+.*--exclude NODE/);
      continue;
    }
    const back = dequantizeTensor(r.q, [4], r.scale, r.zeroPoint);
    assert.ok(
      back.every((v) => Number.isFinite(v)),
      `${type}: dequantized ${Array.from(back).join(', ')}`,
    );
  }
  // 2e38 symmetric int8 is representable: no refusal, and the codes come back near the weights.
  const r = quantizeTensor(Float32Array.from([-1, 2e38]), [2], { type: 'int8', symmetric: true, name: 'w' });
  assert.ok(Math.abs(dequantizeTensor(r.q, [2], r.scale, r.zeroPoint)[1]! / 2e38 - 1) < 1e-6);
});
