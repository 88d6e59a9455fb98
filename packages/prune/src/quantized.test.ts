import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, Graph, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions } from '@shrink/core';
import { pruneMagnitude } from './magnitude.js';
import { pruneNM } from './nm.js';
import { pruneOptionsSchema, type PruneOptions } from './options.js';
import { dynamicMlp, qdqNet, quantize, randn, runModel, type Codes } from './unstructured.fixture.js';

const opts = (o: PruneOptions = {}) => parseOptions(pruneOptionsSchema, o);
const codes = (m: Parameters<typeof Graph.from>[0], name: string) => Graph.from(m).readInitializer(name).data as Int8Array | Uint8Array;
const X = randn(99, 8 * 64);
const XC = randn(98, 2 * 6 * 8 * 8);

/** Per element: zero point and scale of codes quantized per tensor or along `axis`. */
function params(c: Codes, dims: number[], axis?: number): { zp: (i: number) => number; scale: (i: number) => number } {
  const inner = axis === undefined ? 1 : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const ch = (i: number): number => (axis === undefined ? 0 : Math.floor(i / inner) % dims[axis]!);
  return { zp: (i) => c.zp[ch(i)]!, scale: (i) => c.scale[ch(i)]! };
}

/** Pruned codes sit at their zero point, kept codes are unchanged, and every pruned |q - zp| * scale <= every kept one. */
function assertSmallestAtZeroPoint(sets: Array<{ orig: Codes; pruned: ArrayLike<number>; dims: number[]; axis?: number }>): number {
  let maxPruned = 0;
  let minKept = Infinity;
  let atZero = 0;
  for (const { orig, pruned, dims, axis } of sets) {
    const p = params(orig, dims, axis);
    for (let i = 0; i < orig.q.length; i++) {
      const mag = Math.abs(orig.q[i]! - p.zp(i)) * p.scale(i);
      if (pruned[i] === p.zp(i)) {
        atZero++;
        maxPruned = Math.max(maxPruned, mag);
      } else {
        assert.equal(pruned[i], orig.q[i], 'kept codes keep their value');
        minKept = Math.min(minKept, mag);
      }
    }
  }
  assert.ok(maxPruned <= minKept * (1 + 1e-6), `largest pruned magnitude ${maxPruned} <= smallest kept ${minKept}`);
  return atZero;
}

const atZeroPoint = (orig: Codes, pruned: ArrayLike<number>, dims: number[], axis?: number): number =>
  Array.from(pruned).filter((q, i) => q === params(orig, dims, axis).zp(i)).length;

function maxDiff(a: Float32Array, b: Float32Array): { diff: number; peak: number } {
  let diff = 0;
  let peak = 0;
  a.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - b[i]!));
    peak = Math.max(peak, Math.abs(v));
  });
  return { diff, peak };
}

test("dynamic MatMulInteger MLP at 50% per layer: exactly half of each weight's codes at the zero point (per tensor int8, per column uint8), smallest first, runs in onnxruntime", async () => {
  const { model, w1, w2 } = dynamicMlp();
  const before = encodeModel(model);
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5 }));
  assert.deepEqual(encodeModel(model), before, 'the input model is not mutated');
  const q1 = codes(p, 'w1_q');
  const q2 = codes(p, 'w2_q');
  assert.ok(q1 instanceof Int8Array && q2 instanceof Uint8Array, 'code dtypes are kept');
  assert.equal(atZeroPoint(w1, q1, [64, 32]), 1024);
  assert.equal(atZeroPoint(w2, q2, [32, 16], 1), 256);
  assertSmallestAtZeroPoint([{ orig: w1, pruned: q1, dims: [64, 32] }]);
  assertSmallestAtZeroPoint([{ orig: w2, pruned: q2, dims: [32, 16], axis: 1 }]);
  assert.deepEqual(Array.from(codes(p, 'w2_zp')), Array.from(w2.zp), 'zero points untouched');
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.opType, l.action, l.weight, l.elementsAfter, l.sparsity]),
    [
      ['fc1', 'MatMulInteger', 'pruned', 'w1_q', 2048, 0.5],
      ['fc2', 'MatMulInteger', 'pruned', 'w2_q', 512, 0.5],
    ],
  );
  assert.equal(report.unhandled.MatMulInteger, undefined, 'MatMulInteger is handled');
  assert.ok(report.notes.some((n) => /zero point, so they dequantize to exactly 0/.test(n)));

  const y = await runModel(p, 'x', X, [8, 64]);
  assert.equal(y.length, 8 * 16);
  assert.ok(y.every(Number.isFinite));
});

test('dynamic MLP at 10%: outputs differ from the unpruned quantized model but stay within 15% of its peak', async () => {
  const { model } = dynamicMlp();
  const y0 = await runModel(model, 'x', X, [8, 64]);
  const y1 = await runModel(pruneMagnitude(model, opts({ sparsity: 0.1 })).model, 'x', X, [8, 64]);
  const { diff, peak } = maxDiff(y0, y1);
  assert.ok(diff > 0, 'pruning changed the outputs');
  assert.ok(diff < 0.15 * peak, `max |diff| ${diff} < 15% of peak ${peak}`);
});

test('global scope compares real magnitudes |q - zp| * scale across layers: the small-scale layer loses more', () => {
  const { model, w1, w2 } = dynamicMlp(1, 0.1);
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5, scope: 'global' }));
  const q1 = codes(p, 'w1_q');
  const q2 = codes(p, 'w2_q');
  const zeros = assertSmallestAtZeroPoint([
    { orig: w1, pruned: q1, dims: [64, 32] },
    { orig: w2, pruned: q2, dims: [32, 16], axis: 1 },
  ]);
  assert.equal(zeros, Math.round(0.5 * (2048 + 512)));
  const [s1, s2] = report.layers.map((l) => l.sparsity!);
  assert.ok(s2! > 0.9 && s1! < 0.5, `fc2 (scale 0.1) sparsity ${s2} > 0.9, fc1 ${s1} < 0.5`);
});

test('global scope without a findable scale: that layer is pruned on its own by |q - zp|, with a note', () => {
  const { model, w1 } = dynamicMlp(1, 0.1);
  const g = Graph.from(model);
  // fc1's scales Mul now multiplies two constants: W_scale cannot be told from A_scale.
  g.setInitializer('x_s_const', 'float32', [], [0.02]);
  g.editNode('fc1_scales_mul', (n) => {
    n.input[0] = 'x_s_const';
  });
  const { model: p, report } = pruneMagnitude(g.toModel(), opts({ sparsity: 0.5, scope: 'global' }));
  assert.equal(atZeroPoint(w1, codes(p, 'w1_q'), [64, 32]), 1024, 'per layer: exactly half');
  assert.ok(
    report.notes.some((n) => /'fc1' pruned per layer instead/.test(n)),
    report.notes.join('\n'),
  );
  assert.ok(report.notes.some((n) => /no weight scale found for 'w1_q'/.test(n)));
});

test('static QDQ weights (Conv int8 per axis 0, MatMul uint8 per tensor) at 50%: half the codes at zp, smallest |q - zp| * scale, runs in onnxruntime; 10% stays close', async () => {
  const { model, cw, fw } = qdqNet();
  const before = encodeModel(model);
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5 }));
  assert.deepEqual(encodeModel(model), before);
  const qc = codes(p, 'cw_q');
  const qf = codes(p, 'fw_q');
  assert.equal(atZeroPoint(cw, qc, [8, 6, 3, 3], 0), 216);
  assert.equal(atZeroPoint(fw, qf, [512, 10]), 2560);
  assertSmallestAtZeroPoint([{ orig: cw, pruned: qc, dims: [8, 6, 3, 3], axis: 0 }]);
  assertSmallestAtZeroPoint([{ orig: fw, pruned: qf, dims: [512, 10] }]);
  assert.deepEqual(
    report.layers.map((l) => [l.name, l.opType, l.action, l.weight, l.sparsity]),
    [
      ['conv1', 'Conv', 'pruned', 'cw_q', 0.5],
      ['fc', 'MatMul', 'pruned', 'fw_q', 0.5],
    ],
  );
  const y = await runModel(p, 'x', XC, [2, 6, 8, 8]);
  assert.ok(y.length === 20 && y.every(Number.isFinite));

  const y0 = await runModel(model, 'x', XC, [2, 6, 8, 8]);
  const y1 = await runModel(pruneMagnitude(model, opts({ sparsity: 0.1 })).model, 'x', XC, [2, 6, 8, 8]);
  const { diff, peak } = maxDiff(y0, y1);
  assert.ok(diff > 0 && diff < 0.15 * peak, `max |diff| ${diff} in (0, 15% of peak ${peak})`);
});

test('N:M on quantized codes: 2:4 along K of MatMulInteger and along I of a QDQ Conv, pruned codes at the zero point', async () => {
  const { model, w2 } = dynamicMlp();
  const { model: p } = pruneNM(model, opts({ method: 'nm', n: 2, m: 4 }));
  const q2 = codes(p, 'w2_q');
  // w2_q is [32, 16]: each column, each group of 4 consecutive k keeps exactly 2 codes off the zero point.
  for (let col = 0; col < 16; col++) {
    for (let g = 0; g < 32; g += 4) {
      const zp = w2.zp[col]!;
      const off = [0, 1, 2, 3].filter((r) => q2[(g + r) * 16 + col] !== zp).length;
      assert.ok(off <= 2, `column ${col}, group ${g}: ${off} codes off the zero point`);
    }
  }
  assert.ok(atZeroPoint(w2, q2, [32, 16], 1) >= 256);
  assert.ok((await runModel(p, 'x', X, [8, 64])).every(Number.isFinite));

  const { model: qm, cw } = qdqNet();
  const qc = codes(pruneNM(qm, opts({ method: 'nm', n: 2, m: 4 })).model, 'cw_q');
  // cw_q [8, 6, 3, 3]: I = 6 gives groups of 4 (keep 2) and 2 (keep 1) at each (o, kh, kw).
  for (let o = 0; o < 8; o++) {
    for (let k = 0; k < 9; k++) {
      const kept = (from: number, to: number) =>
        Array.from({ length: to - from }, (_, j) => qc[(o * 6 + from + j) * 9 + k]).filter((q) => q !== cw.zp[o]).length;
      assert.ok(kept(0, 4) <= 2 && kept(4, 6) <= 1);
    }
  }
});

test('dynamic ConvInteger (uint8 W per tensor) at 50%: half the codes at the zero point, runs in onnxruntime', async () => {
  const w = quantize(randn(7, 4 * 6 * 9, 0.3), [4, 6, 3, 3], 'uint8');
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz'], {}, { name: 'x_dql' }),
        makeNode('ConvInteger', ['xq', 'w_q', 'xz', 'w_zp'], ['ci'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, { name: 'conv' }),
        makeNode('Cast', ['ci'], ['cf'], { to: 1 }, { name: 'conv_cast' }),
        makeNode('Mul', ['xs', 'w_scale'], ['s'], {}, { name: 'conv_scales_mul' }),
        makeNode('Mul', ['cf', 's'], ['y'], {}, { name: 'conv_scale_mul' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 6, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 4, 8, 8])],
      initializers: [
        makeTensor('w_q', 'uint8', [4, 6, 3, 3], w.q),
        makeTensor('w_scale', 'float32', [], w.scale),
        makeTensor('w_zp', 'uint8', [], w.zp),
      ],
    }),
  );
  const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5 }));
  const q = codes(p, 'w_q');
  assert.equal(atZeroPoint(w, q, [4, 6, 3, 3]), 108);
  assertSmallestAtZeroPoint([{ orig: w, pruned: q, dims: [4, 6, 3, 3] }]);
  assert.deepEqual(
    report.layers.map((l) => [l.opType, l.action, l.sparsity]),
    [['ConvInteger', 'pruned', 0.5]],
  );
  assert.ok(!report.notes.some((n) => /no weight scale found/.test(n)), 'the scale was found');
  const y = await runModel(p, 'x', XC, [2, 6, 8, 8]);
  assert.ok(y.length === 2 * 4 * 64 && y.every(Number.isFinite));
});

test('MatMulNBits (packed 4-bit) is skipped with its reason and left untouched', () => {
  const blob = Uint8Array.from({ length: 16 * 2 * 16 }, (_, i) => (i * 37) & 255);
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode(
          'MatMulNBits',
          ['x', 'wq', 'ws'],
          ['y'],
          { K: 64, N: 16, bits: 4, block_size: 32 },
          { name: 'fc', domain: 'com.microsoft' },
        ),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 64])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 16])],
      initializers: [makeTensor('wq', 'uint8', [16, 2, 16], blob), makeTensor('ws', 'float32', [32], randn(9, 32, 0.1))],
    }),
    { opset: { '': 17, 'com.microsoft': 1 } },
  );
  for (const o of [opts({ sparsity: 0.5 }), opts({ method: 'nm' })]) {
    const r = o.method === 'nm' ? pruneNM(model, o) : pruneMagnitude(model, o);
    assert.deepEqual(r.report.layers, [
      { name: 'fc', opType: 'MatMulNBits', action: 'skipped', reason: 'packed 4-bit blocks: prune before quantizing' },
    ]);
    assert.deepEqual(Array.from(codes(r.model, 'wq')), Array.from(blob));
  }
});

/**
 * Conv with its weight as @shrink/quantize's q8 writes it by default (ops/dynamic-conv-weight-only.ts):
 * int8 codes per output channel, no zero point -> Cast(float) -> Mul(scale [O, 1, 1, 1]) -> Conv; with
 * `half`, one more Cast to float16 before a Conv computing in float16.
 */
function weightOnlyConv(half = false): { model: ReturnType<typeof makeModel>; w: Codes } {
  const w = quantize(randn(17, 8 * 6 * 9, 0.3), [8, 6, 3, 3], 'int8', 0);
  const model = makeModel(
    makeGraph({
      nodes: [
        ...(half ? [makeNode('Cast', ['x'], ['xh'], { to: 10 }, { name: 'x_half' })] : []),
        makeNode('Cast', ['w_q'], ['w_codes'], { to: 1 }, { name: 'conv_weight_cast' }),
        makeNode('Mul', ['w_codes', 'w_scale'], [half ? 'w_f32' : 'w'], {}, { name: 'conv_weight_scale' }),
        ...(half ? [makeNode('Cast', ['w_f32'], ['w'], { to: 10 }, { name: 'conv_weight_to_float16' })] : []),
        makeNode(
          'Conv',
          [half ? 'xh' : 'x', 'w', 'b'],
          [half ? 'yh' : 'y'],
          { pads: [1, 1, 1, 1], kernel_shape: [3, 3] },
          { name: 'conv' },
        ),
        ...(half ? [makeNode('Cast', ['yh'], ['y'], { to: 1 }, { name: 'y_float' })] : []),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 6, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 8, 8, 8])],
      initializers: [
        makeTensor('w_q', 'int8', [8, 6, 3, 3], w.q),
        makeTensor('w_scale', 'float32', [8, 1, 1, 1], w.scale),
        makeTensor('b', half ? 'float16' : 'float32', [8], half ? new Uint16Array(8) : new Float32Array(8)),
      ],
    }),
    { opset: 17 },
  );
  return { model, w };
}

/** x -> Conv(float32 W) -> y: the reference the pruned codes must compute. */
function floatConv(w: Float32Array): ReturnType<typeof makeModel> {
  return makeModel(
    makeGraph({
      nodes: [makeNode('Conv', ['x', 'w', 'b'], ['y'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, { name: 'conv' })],
      inputs: [makeValueInfo('x', 'float32', ['batch', 6, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 8, 8, 8])],
      initializers: [makeTensor('w', 'float32', [8, 6, 3, 3], w), makeTensor('b', 'float32', [8], new Float32Array(8))],
    }),
    { opset: 17 },
  );
}

test("q8's weight-only Conv (int8 -> Cast -> Mul -> Conv) at 50%: its codes are pruned, half at exactly 0, smallest |q| * scale first; onnxruntime runs it", async () => {
  for (const half of [false, true]) {
    const { model, w } = weightOnlyConv(half);
    const before = encodeModel(model);
    const { model: p, report } = pruneMagnitude(model, opts({ sparsity: 0.5 }));
    assert.deepEqual(encodeModel(model), before, 'the input model is not mutated');
    assert.deepEqual(
      report.layers.map((l) => [l.name, l.action, l.weight, l.sparsity]),
      [['conv', 'pruned', 'w_q', 0.5]],
      `half=${half}`,
    );
    const q = codes(p, 'w_q');
    assert.ok(q instanceof Int8Array, 'the codes stay int8');
    assert.equal(atZeroPoint(w, q, [8, 6, 3, 3], 0), 216);
    assertSmallestAtZeroPoint([{ orig: w, pruned: q, dims: [8, 6, 3, 3], axis: 0 }]);
    // What the pruned model computes is a float Conv with W = codes * scale, the pruned ones exactly 0:
    // within float rounding (float16 in the half model: 1e-3 of the peak).
    const y = await runModel(p, 'x', XC, [2, 6, 8, 8]);
    const want = await runModel(floatConv(Float32Array.from(q, (c, i) => c * w.scale[Math.floor(i / 54)]!)), 'x', XC, [2, 6, 8, 8]);
    const exact = maxDiff(want, y);
    assert.ok(
      exact.diff <= (half ? 1e-3 : 1e-5) * exact.peak,
      `half=${half}: max |diff| ${exact.diff} against codes * scale, peak ${exact.peak}`,
    );
    const y0 = await runModel(model, 'x', XC, [2, 6, 8, 8]);
    const { diff, peak } = maxDiff(y0, y);
    assert.ok(diff > 0.05 * peak, `pruning half the weights changed the output: max |diff| ${diff}, peak ${peak}`);
    const y10 = await runModel(pruneMagnitude(model, opts({ sparsity: 0.1 })).model, 'x', XC, [2, 6, 8, 8]);
    const small = maxDiff(y0, y10);
    assert.ok(small.diff > 0 && small.diff < 0.15 * small.peak, `10%: max |diff| ${small.diff} in (0, 15% of peak ${small.peak})`);
  }
});
