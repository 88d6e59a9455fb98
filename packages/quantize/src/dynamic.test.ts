import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  attr,
  decodeModel,
  encodeModel,
  Graph,
  makeAttribute,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  parseOptions,
  ShrinkError,
  type onnx,
} from '@shrink/core';
import { mulberry32, resolveSplit } from '@shrink/core/data';
import { createSession, int8KernelPath } from '@shrink/core/runtime';
import { exportToOnnx, trainPreset } from '@shrink/core/tfjs';
import { quantizeDynamic } from './dynamic.js';
import { quantizeOptionsSchema, type QuantizeOptions } from './options.js';
import { accuracyOf, relError } from './test-data.fixture.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Roughly normal values (sum of uniforms), scaled. */
function randn(r: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (r() + r() + r() - 1.5) * 2 * scale);
}

const opts = (o: QuantizeOptions = {}) => parseOptions(quantizeOptionsSchema, o);

async function run(
  model: onnx.IModelProto,
  feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }>,
): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run(feeds);
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

const opTypes = (m: onnx.IModelProto) => (m.graph?.node ?? []).map((n) => n.opType);

/** x[B,16] -> fc1 (16x32) + b1 -> Relu -> fc2 (32x8) + b2, as MatMul+Add or as Gemm (transB=1). */
function mlp(kind: 'matmul' | 'gemm', seed = 1, colScales?: Float32Array): onnx.ModelProto {
  const r = mulberry32(seed);
  const w1 = randn(r, 16 * 32, 0.3);
  const w2 = randn(r, 32 * 8, 0.3);
  if (colScales) for (let i = 0; i < w1.length; i++) w1[i]! *= colScales[i % 32]!;
  const b1 = randn(r, 32, 0.1);
  const b2 = randn(r, 8, 0.1);
  const transpose = (w: Float32Array, k: number, n: number) =>
    Float32Array.from({ length: k * n }, (_, i) => w[(i % k) * n + Math.floor(i / k)]!);
  const nodes =
    kind === 'matmul'
      ? [
          makeNode('MatMul', ['x', 'w1'], ['h0'], {}, { name: 'fc1' }),
          makeNode('Add', ['h0', 'b1'], ['h1'], {}, { name: 'fc1_bias' }),
          makeNode('Relu', ['h1'], ['h'], {}, { name: 'act' }),
          makeNode('MatMul', ['h', 'w2'], ['y0'], {}, { name: 'fc2' }),
          makeNode('Add', ['y0', 'b2'], ['y'], {}, { name: 'fc2_bias' }),
        ]
      : [
          makeNode('Gemm', ['x', 'w1', 'b1'], ['h1'], { transB: 1 }, { name: 'fc1' }),
          makeNode('Relu', ['h1'], ['h'], {}, { name: 'act' }),
          makeNode('Gemm', ['h', 'w2', 'b2'], ['y'], { transB: 1, alpha: attr.float(0.5), beta: attr.float(2) }, { name: 'fc2' }),
        ];
  const inits =
    kind === 'matmul'
      ? [makeTensor('w1', 'float32', [16, 32], w1), makeTensor('w2', 'float32', [32, 8], w2)]
      : [makeTensor('w1', 'float32', [32, 16], transpose(w1, 16, 32)), makeTensor('w2', 'float32', [8, 32], transpose(w2, 32, 8))];
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', ['batch', 16])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 8])],
      initializers: [...inits, makeTensor('b1', 'float32', [32], b1), makeTensor('b2', 'float32', [8], b2)],
    }),
  );
}

const X = { data: randn(mulberry32(99), 64 * 16), dims: [64, 16] };

// 8-bit dynamic quantization of a small random MLP: measured ~0.3-0.6% relative L2 error. Holds on every
// kernel path for q8's default (7-bit int8) and uint8, and for full-range int8 where the u8s8 kernels sum
// in int32 (VNNI, AMX, ARM, WASM).
const REL_TOL = 0.02;
// Full-range int8 where those kernels saturate their int16 pair sums (x86 AVX2 / AVX-512 without VNNI):
// measured 0.093 (MatMul) and 0.086 (Gemm) per channel on AVX2; the bound still catches garbage.
const REL_TOL_SATURATING = 0.2;
const saturates = int8KernelPath().int8Saturates === true;

for (const kind of ['matmul', 'gemm'] as const) {
  for (const dtype of ['q8', 'uint8', 'int8 full range'] as const) {
    const fullRange = dtype === 'int8 full range';
    const tol = fullRange && saturates ? REL_TOL_SATURATING : REL_TOL;
    for (const perChannel of [false, true]) {
      test(`${kind} MLP, ${dtype}, ${perChannel ? 'per channel' : 'per tensor'}: runs in onnxruntime within ${tol * 100}% of the float model (${int8KernelPath().isa})`, async () => {
        const model = mlp(kind);
        const before = encodeModel(model);
        const { model: q, report } = quantizeDynamic(
          model,
          opts(fullRange ? { dtype: 'int8', reduceRange: false, perChannel } : { dtype, perChannel }),
        );
        assert.deepEqual(encodeModel(model), before, 'the input model is not mutated');
        const ops = opTypes(q);
        assert.equal(ops.filter((o) => o === 'MatMulInteger').length, 2);
        assert.equal(ops.filter((o) => o === 'DynamicQuantizeLinear').length, 2);
        assert.ok(!ops.includes('MatMul') && !ops.includes('Gemm'), ops.join(','));
        const g = Graph.from(q);
        const wq = g.initializer('w1_quantized')!;
        assert.equal(wq.dataType, dtype === 'uint8' ? 2 : 3, 'uint8 for dtype uint8, int8 for q8');
        assert.ok(!g.isInitializer('w1') && !g.isInitializer('w2'), 'float weights are dropped');
        assert.deepEqual(g.shapeOf('w1_quantized'), [16, 32], 'stored as [K, N] (Gemm transB folded in)');
        assert.deepEqual(g.shapeOf('w1_scale'), perChannel ? [32] : []);
        if (dtype === 'q8')
          assert.ok(
            [...g.readInitializer('w1_zero_point').data].every((z) => z === 0),
            'symmetric int8: zero point 0',
          );

        if (dtype !== 'uint8') {
          const codes = [...g.readInitializer('w1_quantized').data].map((c) => Math.abs(Number(c)));
          assert.equal(Math.max(...codes), fullRange ? 127 : 64, fullRange ? 'full range' : '7-bit by default: codes within [-64, 64]');
        }

        const rel = relError(await run(q, { x: X }), await run(model, { x: X }));
        assert.ok(rel < tol, `relative L2 error ${rel}`);

        assert.equal(report.mode, 'dynamic');
        assert.equal(report.dtype, fullRange ? 'int8' : dtype);
        assert.deepEqual(
          report.nodes.map((n) => [n.name, n.opType, n.action]),
          [
            ['fc1', kind === 'matmul' ? 'MatMul' : 'Gemm', 'quantized'],
            ['fc2', kind === 'matmul' ? 'MatMul' : 'Gemm', 'quantized'],
          ],
        );
        const w1 = report.nodes[0]!.weights!;
        assert.deepEqual(
          w1.map((w) => [w.name, w.dtype, w.elements, w.bytes]),
          [
            ['w1_quantized', dtype === 'uint8' ? 'uint8' : 'int8', 512, 512],
            ['w1_scale', 'float32', perChannel ? 32 : 1, perChannel ? 128 : 4],
            ['w1_zero_point', dtype === 'uint8' ? 'uint8' : 'int8', perChannel ? 32 : 1, perChannel ? 32 : 1],
          ],
        );
        assert.deepEqual(report.unhandled, kind === 'matmul' ? { Add: 2, Relu: 1 } : { Relu: 1 });
      });
    }
  }
}

test('per-channel error <= per-tensor error when weight columns have very different scales', async () => {
  const scales = Float32Array.from({ length: 32 }, (_, j) => 10 ** ((j % 8) / 2 - 2)); // 0.01 .. 31.6
  const model = mlp('matmul', 5, scales);
  const ref = await run(model, { x: X });
  const tensor = relError(await run(quantizeDynamic(model, opts({ perChannel: false })).model, { x: X }), ref);
  const channel = relError(await run(quantizeDynamic(model, opts({ perChannel: true })).model, { x: X }), ref);
  // With q8's 7-bit weights on every CPU (full-range int8 per channel saturates on AVX2: 0.0375 vs 0.0184).
  assert.ok(channel <= tensor, `per channel ${channel} vs per tensor ${tensor}`);
  assert.ok(channel < REL_TOL, `per channel ${channel}`);
});

test('onnxruntime fuses the pattern into DynamicQuantizeMatMul (bias Add included)', async () => {
  const { model: q } = quantizeDynamic(mlp('matmul'), opts());
  const file = path.join(tmp, 'optimized.onnx');
  const s = await ort.InferenceSession.create(encodeModel(q), {
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: file,
    logSeverityLevel: 3,
  });
  await s.release();
  const ops = opTypes(decodeModel(fs.readFileSync(file)));
  // One activation feeds each MatMul, so the DynamicQuantizeLinear folds in too.
  assert.deepEqual(ops.filter((o) => o === 'DynamicQuantizeMatMul').length, 2, ops.join(','));
  assert.ok(!ops.includes('MatMulInteger') && !ops.includes('Add'), ops.join(','));
});

test('include / exclude: skipped nodes stay float and say why', async () => {
  const model = mlp('matmul');
  for (const [o, quantized] of [
    [{ exclude: ['fc2'] }, ['fc1']],
    [{ include: ['fc2'] }, ['fc2']],
    [{ include: ['MatMul'], exclude: ['fc1'] }, ['fc2']],
  ] as Array<[QuantizeOptions, string[]]>) {
    const { model: q, report } = quantizeDynamic(model, opts(o));
    assert.deepEqual(
      report.nodes.filter((n) => n.action === 'quantized').map((n) => n.name),
      quantized,
      JSON.stringify(o),
    );
    const skippedNode = report.nodes.find((n) => n.action === 'skipped')!;
    assert.match(skippedNode.reason!, /(in exclude|not listed in include)/);
    const g = Graph.from(q);
    assert.equal(opTypes(q).filter((t) => t === 'MatMul').length, 1);
    assert.ok(g.isInitializer(skippedNode.name === 'fc1' ? 'w1' : 'w2'), 'the skipped node keeps its float weight');
    assert.ok(relError(await run(q, { x: X }), await run(model, { x: X })) < REL_TOL);
  }
  assert.throws(() => quantizeDynamic(model, opts({ include: ['fc9'] })), /include: no node or op type named 'fc9'/);
});

/** x[1,3,8,8] -> Conv 3->4 (3x3, pad 1, bias) -> Relu -> Conv 4->2 (3x3, stride 2, no bias). */
function convNet(): onnx.ModelProto {
  const r = mulberry32(3);
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'cw1', 'cb1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv1' }),
        makeNode('Relu', ['c1'], ['r1']),
        makeNode('Conv', ['r1', 'cw2'], ['y'], { kernel_shape: [3, 3], strides: [2, 2] }, { name: 'conv2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['n', 3, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', ['n', 2, 3, 3])],
      initializers: [
        makeTensor('cw1', 'float32', [4, 3, 3, 3], randn(r, 108, 0.3)),
        makeTensor('cb1', 'float32', [4], randn(r, 4, 0.2)),
        makeTensor('cw2', 'float32', [2, 4, 3, 3], randn(r, 72, 0.3)),
      ],
    }),
  );
}

test('Conv net, convFormat integer: ConvInteger with uint8 weights (also for q8), bias after the scale, within tolerance', async () => {
  const model = convNet();
  const before = encodeModel(model);
  const xc = { data: randn(mulberry32(8), 2 * 3 * 64), dims: [2, 3, 8, 8] };
  const ref = await run(model, { x: xc });
  for (const perChannel of [false, true]) {
    const { model: q, report } = quantizeDynamic(model, opts({ dtype: 'q8', perChannel, convFormat: 'integer' }));
    const ops = opTypes(q);
    assert.equal(ops.filter((o) => o === 'ConvInteger').length, 2, ops.join(','));
    assert.ok(!ops.includes('Conv'));
    const g = Graph.from(q);
    assert.equal(g.initializer('cw1_quantized')!.dataType, 2, 'uint8');
    assert.deepEqual(g.shapeOf('cb1_reshaped'), [1, 4, 1, 1]);
    // A scale per output channel whatever perChannel says; one zero point, as ConvInteger wants.
    assert.deepEqual(g.shapeOf('cw1_scale'), [4, 1, 1]);
    assert.deepEqual(g.shapeOf('cw1_zero_point'), []);
    assert.ok(report.notes.some((n) => n.includes('uint8')));
    const rel = relError(await run(q, { x: xc }), ref);
    assert.ok(rel < REL_TOL, `relative L2 error ${rel}`);
  }
  assert.deepEqual(encodeModel(model), before);
});

test('Gather over a constant table: codes gathered, rows dequantized; per column with perChannel', async () => {
  const r = mulberry32(4);
  const table = randn(r, 50 * 16, 1);
  for (let i = 0; i < 50 * 16; i++) table[i]! *= 1 + (i % 16); // columns of very different ranges
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('Gather', ['emb', 'ids'], ['e'], {}, { name: 'embed' }), makeNode('Relu', ['e'], ['y'])],
      inputs: [makeValueInfo('ids', 'int64', ['n', 5])],
      outputs: [makeValueInfo('y', 'float32', ['n', 5, 16])],
      initializers: [makeTensor('emb', 'float32', [50, 16], table)],
    }),
  );
  const ids = { data: BigInt64Array.from({ length: 20 }, (_, i) => BigInt((i * 7) % 50)), dims: [4, 5] };
  const ref = await run(model, { ids });
  const errs: number[] = [];
  for (const perChannel of [false, true]) {
    const { model: q, report } = quantizeDynamic(model, opts({ perChannel }));
    assert.deepEqual(opTypes(q), ['Gather', 'DequantizeLinear', 'Relu']);
    assert.equal(report.nodes[0]!.action, 'quantized');
    assert.ok(!Graph.from(q).isInitializer('emb'));
    const err = relError(await run(q, { ids }), ref);
    assert.ok(err < REL_TOL, `relative L2 error ${err}`);
    errs.push(err);
  }
  assert.ok(errs[1]! < errs[0]!, `per column ${errs[1]} vs per tensor ${errs[0]}`);
});

test('Gemm with a computed C, alpha and beta; MatMul over a Constant-node weight (the Constant is dropped)', async () => {
  const r = mulberry32(6);
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Constant', [], ['wc'], { value: makeTensor('wc', 'float32', [16, 12], randn(r, 192, 0.4)) }, { name: 'const_w' }),
        makeNode('MatMul', ['x', 'wc'], ['h'], {}, { name: 'mm' }),
        makeNode('Gemm', ['h', 'wg', 'c'], ['y'], { alpha: attr.float(2), beta: attr.float(0.5) }, { name: 'gemm' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 16]), makeValueInfo('c', 'float32', [6])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 6])],
      initializers: [makeTensor('wg', 'float32', [12, 6], randn(r, 72, 0.4))],
    }),
  );
  const feeds = { x: X, c: { data: randn(r, 6, 3), dims: [6] } };
  const { model: q, report } = quantizeDynamic(model, opts());
  assert.deepEqual(
    report.nodes.map((n) => n.action),
    ['quantized', 'quantized'],
  );
  assert.ok(!opTypes(q).includes('Constant'), opTypes(q).join(','));
  const rel = relError(await run(q, feeds), await run(model, feeds));
  assert.ok(rel < REL_TOL, `relative L2 error ${rel}`);
  const transA = Graph.from(model);
  transA.editNode('gemm', (n) => n.attribute.push(makeAttribute('transA', 1)));
  const skippedGemm = quantizeDynamic(transA.toModel(), opts()).report.nodes[1]!;
  assert.equal(skippedGemm.action, 'skipped');
  assert.match(skippedGemm.reason!, /transA=1/);
});

test('nodes that do not qualify are skipped with a reason; other ops pass through', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'x2'], ['m'], {}, { name: 'act_by_act' }),
        makeNode('MatMul', ['m', 'w3'], ['y'], {}, { name: 'rank3' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 2]), makeValueInfo('x2', 'float32', [2, 2])],
      outputs: [makeValueInfo('y', 'float32')],
      initializers: [makeTensor('w3', 'float32', [1, 2, 2], [1, 2, 3, 4])],
    }),
  );
  const { model: q, report } = quantizeDynamic(model, opts());
  assert.deepEqual(encodeModel(q), encodeModel(model), 'nothing changed');
  assert.match(report.nodes[0]!.reason!, /graph input/);
  assert.match(report.nodes[1]!.reason!, /rank 3/);
  assert.ok(report.notes.some((n) => n.startsWith('no quantizable weights')));
});

test('a model without candidate ops comes back unchanged with a note', () => {
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('Relu', ['x'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', [2])],
      outputs: [makeValueInfo('y', 'float32', [2])],
    }),
    { opset: 9 },
  );
  const { model: q, report } = quantizeDynamic(model, opts());
  assert.deepEqual(encodeModel(q), encodeModel(model));
  assert.deepEqual(report.nodes, []);
  assert.deepEqual(report.unhandled, { Relu: 1 });
  assert.match(report.notes[0]!, /no quantizable weights/);
});

test('refusals: opset below 11, non-8-bit dtype, NaN weights', () => {
  const old = mlp('matmul');
  old.opsetImport = [{ domain: '', version: 10 }];
  assert.throws(
    () => quantizeDynamic(old, opts()),
    (e: unknown) =>
      e instanceof ShrinkError && e.code === 'UNSUPPORTED_MODEL' && /opset >= 11/.test(e.message) && /opset 10/.test(e.message),
  );
  assert.throws(() => quantizeDynamic(mlp('matmul'), opts({ dtype: 'q4' })), /dtype must be q8, int8 or uint8/);
  const bad = mlp('matmul');
  const g = Graph.from(bad);
  const w = g.readInitializer('w2').data as Float32Array;
  w[3] = NaN;
  g.setInitializer('w2', 'float32', [32, 8], w);
  assert.throws(
    () => quantizeDynamic(g.toModel(), opts()),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_MODEL' && e.message.includes("'w2'"),
  );
});

test('trained digits-mlp: 8-bit dynamic keeps test accuracy within 1 point, model ~4x smaller', async () => {
  const trained = await trainPreset('digits-mlp', { epochs: 3 });
  const model = exportToOnnx(trained.model).model;
  const { test: ds } = await resolveSplit('digits');
  const { model: q, report } = quantizeDynamic(model, opts());
  assert.ok(report.nodes.length > 0 && report.nodes.every((n) => n.action === 'quantized'), JSON.stringify(report.nodes));
  const [a0, a1] = [await accuracyOf(model, ds), await accuracyOf(q, ds)];
  assert.ok(a0 > 0.85, `float accuracy ${a0}`);
  assert.ok(a0 - a1 <= 0.01, `accuracy ${a0} -> ${a1}`);
  const ratio = encodeModel(q).length / encodeModel(model).length;
  assert.ok(ratio < 0.35, `size ratio ${ratio}`);
});
