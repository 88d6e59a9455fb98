import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  attr,
  decodeModel,
  encodeModel,
  Graph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  parseOptions,
  readTensor,
  ShrinkError,
  type onnx,
} from '@shrink/core';
import { createRng, type Dataset } from '@shrink/core/data';
import { createSession } from '@shrink/core/runtime';
import { calibrate, randomCalibration } from './runtime/calibrate.js';
import { quantizeOptionsSchema, type QuantizeOptions } from './options.js';
import { calibrationTensors, MIN_QDQ_REDUCTION, quantizeStatic } from './static.js';

const opts = (o: QuantizeOptions = {}) => parseOptions(quantizeOptionsSchema, { mode: 'static', ...o });

function weights(n: number, scale: number, rng: ReturnType<typeof createRng>): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** x [b,c,8,8] -> Conv -> Relu -> MaxPool -> Conv -> Relu -> Flatten -> Gemm -> logits [b,10]; c = 2 keeps conv1 at K = 18. */
function convNet(seed: number, c = 2): onnx.ModelProto {
  const rng = createRng(seed);
  return makeModel(
    makeGraph({
      name: 'convnet',
      nodes: [
        makeNode('Conv', ['x', 'w1', 'b1'], ['c1'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, { name: 'conv1' }),
        makeNode('Relu', ['c1'], ['r1'], {}, { name: 'relu1' }),
        makeNode('MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'pool1' }),
        makeNode('Conv', ['p1', 'w2', 'b2'], ['c2'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, { name: 'conv2' }),
        makeNode('Relu', ['c2'], ['r2'], {}, { name: 'relu2' }),
        makeNode('Flatten', ['r2'], ['f'], { axis: 1 }, { name: 'flatten' }),
        makeNode('Gemm', ['f', 'w3', 'b3'], ['logits'], { transB: 1 }, { name: 'fc' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', c, 8, 8])],
      outputs: [makeValueInfo('logits', 'float32', ['batch', 10])],
      initializers: [
        makeTensor('w1', 'float32', [4, c, 3, 3], weights(36 * c, 0.5, rng)),
        makeTensor('b1', 'float32', [4], weights(4, 0.1, rng)),
        makeTensor('w2', 'float32', [8, 4, 3, 3], weights(288, 0.3, rng)),
        makeTensor('b2', 'float32', [8], weights(8, 0.1, rng)),
        makeTensor('w3', 'float32', [10, 128], weights(1280, 0.2, rng)),
        makeTensor('b3', 'float32', [10], weights(10, 0.1, rng)),
      ],
    }),
    { opset: 17 },
  );
}

/** x [b,16] -> MatMul -> Add -> Relu -> MatMul -> Relu -> MatMul -> y [b,10]. */
function mlp(seed: number): onnx.ModelProto {
  const rng = createRng(seed);
  return makeModel(
    makeGraph({
      name: 'mlp',
      nodes: [
        makeNode('MatMul', ['x', 'w1'], ['m1'], {}, { name: 'mm1' }),
        makeNode('Add', ['m1', 'b1'], ['a1'], {}, { name: 'add1' }),
        makeNode('Relu', ['a1'], ['r1'], {}, { name: 'relu1' }),
        makeNode('MatMul', ['r1', 'w2'], ['m2'], {}, { name: 'mm2' }),
        makeNode('Relu', ['m2'], ['r2'], {}, { name: 'relu2' }),
        makeNode('MatMul', ['r2', 'w3'], ['y'], {}, { name: 'mm3' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 16])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 10])],
      initializers: [
        makeTensor('w1', 'float32', [16, 32], weights(512, 0.4, rng)),
        makeTensor('b1', 'float32', [32], weights(32, 0.1, rng)),
        makeTensor('w2', 'float32', [32, 32], weights(1024, 0.3, rng)),
        makeTensor('w3', 'float32', [32, 10], weights(320, 0.3, rng)),
      ],
    }),
    { opset: 17 },
  );
}

async function run(model: onnx.IModelProto, ds: Dataset, output: string): Promise<{ data: Float32Array; width: number }> {
  const s = await createSession(encodeModel(model));
  try {
    const input = s.inputNames[0]!;
    const out = await s.run({ [input]: { data: ds.x, dims: [ds.n, ...ds.sampleShape] } });
    const t = out[output]!;
    return { data: t.data as Float32Array, width: t.dims[t.dims.length - 1]! };
  } finally {
    await s.release();
  }
}

/** ||a - b|| / ||a|| and the share of rows with the same argmax. */
function compare(a: { data: Float32Array; width: number }, b: { data: Float32Array; width: number }): { relL2: number; top1: number } {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.data.length; i++) {
    num += (a.data[i]! - b.data[i]!) ** 2;
    den += a.data[i]! ** 2;
  }
  const argmax = (d: Float32Array, r: number, w: number) => {
    let best = 0;
    for (let j = 1; j < w; j++) if (d[r * w + j]! > d[r * w + best]!) best = j;
    return best;
  };
  const rows = a.data.length / a.width;
  let same = 0;
  for (let r = 0; r < rows; r++) if (argmax(a.data, r, a.width) === argmax(b.data, r, b.width)) same++;
  return { relL2: Math.sqrt(num / den), top1: same / rows };
}

/** Op types of the graph onnxruntime runs after its optimizations (level 'all'). */
async function optimizedOps(model: onnx.IModelProto): Promise<string[]> {
  return (await optimizedGraph(model)).nodes.map((n) => n.opType);
}

/** The graph onnxruntime runs after its optimizations (level 'all'). */
async function optimizedGraph(model: onnx.IModelProto): Promise<Graph> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
  try {
    const file = path.join(dir, 'optimized.onnx');
    const s = await ort.InferenceSession.create(encodeModel(model), {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: file,
      logSeverityLevel: 3,
      intraOpNumThreads: 1,
    });
    await s.release();
    return Graph.from(decodeModel(fs.readFileSync(file)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;

for (const perChannel of [false, true]) {
  test(`conv net (${perChannel ? 'per-channel' : 'per-tensor'}): close to float in onnxruntime, fused into QLinearConv/QGemm`, async () => {
    const model = convNet(1);
    const before = encodeModel(model);
    const cal = await calibrate(model, randomCalibration(model, 128, 2), { method: 'minmax' });
    const { model: q, report } = quantizeStatic(model, opts({ perChannel }), cal.ranges, cal);
    assert.deepEqual(encodeModel(model), before, 'input model not mutated');

    const probe = randomCalibration(model, 256, 99); // fresh inputs, not the calibration ones
    const c = compare(await run(model, probe, 'logits'), await run(q, probe, 'logits'));
    // 8-bit activations and weights through 3 layers: a few percent at most.
    assert.ok(c.relL2 < 0.05, `relative L2 ${c.relL2}`);
    assert.ok(c.top1 >= 0.9, `top-1 agreement ${c.top1}`);

    const ops = await optimizedOps(q);
    assert.equal(count(ops, 'QLinearConv'), 2, ops.join(' '));
    assert.equal(count(ops, 'QGemm'), 1, ops.join(' '));
    assert.equal(count(ops, 'Conv') + count(ops, 'Gemm') + count(ops, 'FusedConv'), 0, ops.join(' '));
    // One Q at the input and one DQ at the output: MaxPool and Flatten run on uint8 in between.
    assert.equal(count(ops, 'QuantizeLinear'), 1, ops.join(' '));
    assert.equal(count(ops, 'DequantizeLinear'), 1, ops.join(' '));

    const byName = new Map(report.nodes.map((n) => [n.name, n]));
    for (const n of ['conv1', 'conv2', 'fc', 'pool1', 'flatten', 'relu1', 'relu2']) assert.equal(byName.get(n)?.action, 'quantized', n);
    assert.match(byName.get('relu1')!.reason!, /folded into 'conv1'/);
    assert.equal(byName.get('conv1')!.weights!.find((w) => w.dtype === 'int8')!.elements, 72);
    assert.deepEqual(Object.keys(report.unhandled), []);
    assert.equal(report.mode, 'static');
    assert.equal(report.calibration!.samples, 128);
    assert.match(report.calibration!.data, /^random:128/);
    assert.ok(report.notes.some((n) => /smoke test/.test(n)));
    assert.ok(report.notes.some((n) => /slower/.test(n)));
    assert.deepEqual(Object.keys(report.calibration!.ranges).sort(), ['logits', 'r1', 'r2', 'x']);
  });
}

test('MLP of MatMuls: QLinearMatMul fusion, float Add in between, output keeps its name', async () => {
  const model = mlp(3);
  const cal = await calibrate(model, randomCalibration(model, 128, 4), { method: 'minmax' });
  const { model: q, report } = quantizeStatic(model, opts(), cal.ranges, cal);
  const probe = randomCalibration(model, 256, 5);
  const c = compare(await run(model, probe, 'y'), await run(q, probe, 'y'));
  assert.ok(c.relL2 < 0.05, `relative L2 ${c.relL2}`);
  assert.ok(c.top1 >= 0.9, `top-1 agreement ${c.top1}`);
  assert.deepEqual(
    Graph.from(q).outputs.map((o) => o.name),
    ['y'],
  );
  assert.equal(Graph.from(q).producer('y')?.opType, 'DequantizeLinear');

  const ops = await optimizedOps(q);
  assert.equal(count(ops, 'QLinearMatMul'), 3, ops.join(' '));
  assert.equal(count(ops, 'MatMul'), 0, ops.join(' '));
  assert.deepEqual(report.unhandled, { Add: 1 });
  const relu1 = report.nodes.find((n) => n.name === 'relu1')!;
  assert.equal(relu1.action, 'kept-float');
  assert.match(relu1.reason!, /'a1' is not quantized/);
});

// Known answers worked out by hand: alpha 0.5 folded in gives weights [0.25, -0.5, 0.125, 1, 0.05, -0.15],
// max |w| = 1. 7-bit int8 (the default): scale 1/64, codes round(64 w); full range: scale 1/127, codes
// round(127 w) with ties to even (-63.5 -> -64). x in [-1, 1] as uint8: scale 2/255, zero point 128
// (127.5 rounds to even); the Relu's range [0, 2]: scale 2/255, zero point 0. Bias (beta 2 folded in):
// [0.4, -0.8] over scale float32(float32(2/255) x weight scale), zero point 0.
for (const [label, reduceRange, wScale, wCodes] of [
  ['7-bit (default)', undefined, 1 / 64, [16, -32, 8, 64, 3, -10]],
  ['full range', false, 1 / 127, [32, -64, 16, 127, 6, -19]],
] as const) {
  test(`Gemm known answer, int8 ${label}: codes, int32 bias at input x weight scale, alpha/beta folded, Relu folded, output stays float`, async () => {
    const w = Float32Array.from([0.5, -1, 0.25, 2, 0.1, -0.3]); // [2, 3], transB
    const b = Float32Array.from([0.2, -0.4]);
    const model = makeModel(
      makeGraph({
        nodes: [
          makeNode('Gemm', ['x', 'w', 'b'], ['g'], { transB: 1, alpha: attr.float(0.5), beta: attr.float(2) }, { name: 'fc' }),
          makeNode('Relu', ['g'], ['y'], {}, { name: 'act' }),
        ],
        inputs: [makeValueInfo('x', 'float32', ['n', 3])],
        outputs: [makeValueInfo('y', 'float32', ['n', 2])],
        initializers: [makeTensor('w', 'float32', [2, 3], w), makeTensor('b', 'float32', [2], b)],
      }),
      { opset: 13 },
    );
    const before = encodeModel(model);
    const ranges = new Map<string, [number, number]>([
      ['x', [-1, 1]],
      ['g', [-3, 3]],
      ['y', [0, 2]],
    ]);
    // K = 3 is below MIN_QDQ_REDUCTION: naming the node in --include forces it.
    const { model: q, report } = quantizeStatic(
      model,
      opts({ include: ['fc', 'act'], ...(reduceRange === undefined ? {} : { reduceRange }) }),
      ranges,
    );
    assert.deepEqual(encodeModel(model), before);
    const g = Graph.from(q);
    assert.deepEqual(g.nodes.map((n) => n.opType).sort(), [
      'DequantizeLinear',
      'DequantizeLinear',
      'DequantizeLinear',
      'DequantizeLinear',
      'Gemm',
      'QuantizeLinear',
      'QuantizeLinear',
    ]);
    const gemm = g.nodes.find((n) => n.opType === 'Gemm')!;
    assert.deepEqual(
      gemm.attribute.map((a) => a.name),
      ['transB'],
    );
    assert.equal(g.producer('y')!.opType, 'DequantizeLinear'); // the graph output keeps its name
    assert.equal(g.isInitializer('w') || g.isInitializer('b'), false, 'float weights removed');

    const sx = Math.fround(2 / 255);
    assert.equal(readTensor(g.initializer('x_scale')!).data[0], sx);
    assert.equal(readTensor(g.initializer('x_zero_point')!).data[0], 128);
    assert.equal(readTensor(g.initializer('y_scale')!).data[0], Math.fround(2 / 255), "the Relu's range, not the Gemm's");
    assert.equal(readTensor(g.initializer('y_zero_point')!).data[0], 0);

    assert.deepEqual(Array.from(readTensor(g.initializer('w_quantized')!).data as Int8Array), wCodes);
    assert.equal(readTensor(g.initializer('w_scale')!).data[0], Math.fround(wScale));
    assert.deepEqual(Array.from(readTensor(g.initializer('w_zero_point')!).data as Int8Array), [0]);
    const bs = Math.fround(sx * Math.fround(wScale));
    assert.deepEqual(Array.from(readTensor(g.initializer('b_quantized')!).data as Int32Array), [
      Math.round(Math.fround(0.4) / bs),
      Math.round(Math.fround(-0.8) / bs),
    ]);
    assert.equal(readTensor(g.initializer('b_scale')!).data[0], bs);
    assert.equal(g.initializer('b_quantized')!.dataType, onnxType('int32'));

    const probe = randomCalibration(model, 64, 7);
    probe.x.forEach((v, i) => (probe.x[i] = 2 * v - 1));
    const c = compare(await run(model, probe, 'y'), await run(q, probe, 'y'));
    assert.ok(c.relL2 < 0.03, `relative L2 ${c.relL2}`);

    assert.equal(report.nodes.find((n) => n.name === 'act')!.action, 'quantized');
    assert.deepEqual(report.calibration!.ranges, { x: [-1, 1], y: [0, 2] });
    assert.deepEqual(report.weightFormat, { type: 'int8', symmetric: true, reduceRange: reduceRange ?? true });
  });
}

function onnxType(d: 'int32'): number {
  return makeTensor('t', d, [1], [0]).dataType;
}

test('nodes without ranges, excluded nodes and unknown ops stay float, and the report says why', () => {
  const model = mlp(3);
  const ranges = new Map<string, [number, number]>([
    ['m1', [-2, 2]],
    ['r1', [0, 2]],
    ['m2', [-2, 2]],
    ['r2', [0, 2]],
    ['y', [-1, 1]],
  ]);
  const { model: q, report } = quantizeStatic(model, opts({ exclude: ['mm3'] }), ranges);
  const nodes = new Map(report.nodes.map((n) => [n.name, n]));
  assert.equal(nodes.get('mm1')!.action, 'kept-float');
  assert.match(nodes.get('mm1')!.reason!, /no calibration range for 'x'/);
  assert.equal(nodes.get('mm3')!.action, 'skipped');
  assert.match(nodes.get('mm3')!.reason!, /'mm3' is in exclude/);
  assert.equal(nodes.get('mm2')!.action, 'quantized');
  const ops = Graph.from(q).nodes.map((n) => n.opType);
  assert.equal(count(ops, 'MatMul'), 3);
  assert.equal(count(ops, 'QuantizeLinear'), 2); // r1 in, r2 out (relu2 folded into mm2)
  assert.equal(count(ops, 'Relu'), 1); // relu1 reads the float Add; relu2 folded into mm2
  assert.deepEqual(report.unhandled, { Add: 1 });
  assert.match(report.notes[1]!, /1 of 3 Conv\/MatMul\/Gemm/);
});

test('old opsets: per-channel falls back to per tensor below 13 with a note; below 10 is refused', () => {
  const m12 = { ...convNet(1), opsetImport: [{ domain: '', version: 12 }] };
  const ranges = new Map<string, [number, number]>(calibrationTensors(convNet(1)).map((t) => [t, t.startsWith('c') ? [-1, 1] : [0, 1]]));
  const { model: q, report } = quantizeStatic(m12, opts({ perChannel: true }), ranges);
  assert.equal(report.nodes.filter((n) => n.action === 'quantized').length, 7);
  assert.ok(report.notes.some((n) => /per-channel weights need .*opset >= 13/.test(n)));
  assert.deepEqual(readTensor(Graph.from(q).initializer('w1_scale')!).dims, []);
  const m9 = { ...convNet(1), opsetImport: [{ domain: '', version: 9 }] };
  assert.throws(
    () => quantizeStatic(m9, opts(), ranges),
    (e: unknown) => e instanceof ShrinkError && e.code === 'UNSUPPORTED_MODEL' && /opset 9/.test(e.message),
  );
  assert.throws(() => quantizeStatic(convNet(1), opts({ dtype: 'q4' }), ranges), /8-bit only/);
});

test('calibrationTensors: data inputs and outputs of the handled ops, no constants', () => {
  assert.deepEqual(calibrationTensors(convNet(1)).sort(), ['c1', 'c2', 'f', 'logits', 'p1', 'r1', 'r2', 'x']);
  assert.deepEqual(calibrationTensors(mlp(1)).sort(), ['a1', 'm1', 'm2', 'r1', 'r2', 'x', 'y']);
});

test('Clip folds into the producer only when its bounds hold 0; report lists nodes in graph order', () => {
  const build = (lo: number) =>
    makeModel(
      makeGraph({
        nodes: [
          makeNode('MatMul', ['x', 'w'], ['m'], {}, { name: 'mm' }),
          makeNode('Clip', ['m', 'lo', 'hi'], ['y'], {}, { name: 'clip' }),
        ],
        inputs: [makeValueInfo('x', 'float32', ['n', 2])],
        outputs: [makeValueInfo('y', 'float32', ['n', 2])],
        initializers: [
          makeTensor('w', 'float32', [2, 2], [1, 2, 3, 4]),
          makeTensor('lo', 'float32', [], [lo]),
          makeTensor('hi', 'float32', [], [6]),
        ],
      }),
      { opset: 13 },
    );
  const ranges = new Map<string, [number, number]>([
    ['x', [-1, 1]],
    ['m', [-7, 7]],
    ['y', [0, 6]],
  ]);
  const forced = opts({ include: ['mm', 'clip'] }); // K = 2: forced past the reduction rule
  const relu6 = quantizeStatic(build(0), forced, ranges);
  assert.deepEqual(
    relu6.report.nodes.map((n) => [n.name, n.action]),
    [
      ['mm', 'quantized'],
      ['clip', 'quantized'],
    ],
  );
  const g = Graph.from(relu6.model);
  assert.equal(
    count(
      g.nodes.map((n) => n.opType),
      'Clip',
    ),
    0,
  );
  assert.equal(g.isInitializer('lo') || g.isInitializer('hi'), false, 'bounds of the folded Clip removed');
  const shifted = quantizeStatic(build(1), forced, new Map([...ranges, ['y', [1, 6]]]));
  const ops = Graph.from(shifted.model).nodes.map((n) => n.opType);
  // The uint8 range always holds 0, so a lower bound of 1 must still be applied by the Clip itself.
  assert.equal(count(ops, 'Clip'), 1);
  assert.equal(count(ops, 'QuantizeLinear'), 3); // x, m, y
});

test('a Conv summing fewer than MIN_QDQ_REDUCTION values stays float with the reason; --include of its name forces it', async () => {
  const model = convNet(1, 1); // conv1: C_in 1 x 3 x 3 = 9 values per output
  const cal = await calibrate(model, randomCalibration(model, 64, 2), { method: 'minmax' });
  const auto = quantizeStatic(model, opts(), cal.ranges, cal);
  const conv1 = auto.report.nodes.find((n) => n.name === 'conv1')!;
  assert.equal(conv1.action, 'kept-float');
  assert.match(conv1.reason!, /reduction of 9 values is too small for int8 kernels to pay off/);
  assert.ok(MIN_QDQ_REDUCTION > 9 && MIN_QDQ_REDUCTION <= 4 * 9, `threshold ${MIN_QDQ_REDUCTION}`); // conv2 (K = 36) is above it
  assert.equal(Graph.from(auto.model).producer('c1')?.opType, 'Conv', 'conv1 writes float directly');
  assert.equal(auto.report.nodes.find((n) => n.name === 'fc')!.action, 'quantized');

  const forced = quantizeStatic(model, opts({ include: ['conv1', 'relu1', 'pool1', 'conv2', 'relu2', 'flatten', 'fc'] }), cal.ranges, cal);
  assert.deepEqual(
    forced.report.nodes.filter((n) => n.action !== 'quantized'),
    [],
  );
  assert.equal(count(await optimizedOps(forced.model), 'QLinearConv'), 2);
});

test('MaxPool after a float producer runs float: the QuantizeLinear goes after it, and onnxruntime cannot move it above', async () => {
  const model = convNet(1);
  const cal = await calibrate(model, randomCalibration(model, 64, 2), { method: 'minmax' });
  const { model: q, report } = quantizeStatic(model, opts({ exclude: ['conv1'] }), cal.ranges, cal);
  const byName = new Map(report.nodes.map((n) => [n.name, n]));
  assert.equal(byName.get('pool1')!.action, 'kept-float');
  // conv2 would read pool1 through a Q that onnxruntime's QDQ propagation lifts above the MaxPool.
  assert.equal(byName.get('conv2')!.action, 'kept-float');
  assert.match(byName.get('conv2')!.reason!, /through MaxPool 'pool1'.*QDQ propagation/);
  assert.equal(byName.get('fc')!.action, 'quantized');
  const g = Graph.from(q);
  const quants = g.nodes.filter((n) => n.opType === 'QuantizeLinear');
  // One Q on fc's input (after the float Flatten, so after the MaxPool) and one on its output.
  assert.deepEqual(quants.map((n) => g.producer(n.input[0]!)?.opType).sort(), ['Flatten', 'Gemm']);
  assert.equal(g.producer('p1')?.opType, 'MaxPool');
  assert.equal(g.dtypeOf(g.producer('p1')!.input[0]!) ?? 'float32', 'float32');

  // What onnxruntime runs: no QuantizeLinear above any MaxPool (Flatten stops its backward propagation).
  const opt = await optimizedGraph(q);
  const above = (name: string, seen = new Set<string>()): string[] => {
    const p = opt.producer(name);
    if (!p || seen.has(p.name ?? '')) return [];
    seen.add(p.name ?? '');
    return [p.opType, ...p.input.filter(Boolean).flatMap((i) => above(i, seen))];
  };
  for (const pool of opt.nodes.filter((n) => n.opType.includes('MaxPool'))) {
    assert.ok(!above(pool.input[0]!).includes('QuantizeLinear'), `${pool.opType} reads quantized data`);
  }
  assert.equal(
    count(
      opt.nodes.map((n) => n.opType),
      'QuantizeLinear',
    ),
    1,
  );
  assert.equal(
    count(
      opt.nodes.map((n) => n.opType),
      'QGemm',
    ),
    1,
  );
});

test('a Conv -> Relu -> MaxPool chain with the Conv quantized keeps the MaxPool on uint8 (fused for onnxruntime)', async () => {
  const model = convNet(1);
  const cal = await calibrate(model, randomCalibration(model, 64, 2), { method: 'minmax' });
  const { model: q, report } = quantizeStatic(model, opts(), cal.ranges, cal);
  assert.equal(report.nodes.find((n) => n.name === 'pool1')!.action, 'quantized');
  const g = Graph.from(q);
  assert.equal(g.producer(g.producer('p1_float')!.input[0]!)?.opType, 'DequantizeLinear');
});
