import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attrInt,
  encodeModel,
  float16ToFloat32,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  onnx,
  parseOptions,
  readTensor,
} from '@shrink/core';
import type { Feeds } from '@shrink/core/runtime';
import { convertToFloat16, FP16_BLOCK_LIST, toFloat16Clamped } from './fp16.js';
import { quantizeOptionsSchema, type QuantizeOptions } from './options.js';
import { lcgValues, relMax, runOutput as run } from './test-data.fixture.js';

const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

const opts = (o: QuantizeOptions = {}) => parseOptions(quantizeOptionsSchema, { dtype: 'fp16', ...o });

/** x -> Gemm(W1, b1) -> Relu -> Gemm(W2, b2) -> Softmax -> y, with value_info for the hidden values. */
function mlp(D: number, H: number, C: number): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Gemm', ['x', 'W1', 'b1'], ['h'], {}, { name: 'fc1' }),
        makeNode('Relu', ['h'], ['a'], {}, { name: 'relu' }),
        makeNode('Gemm', ['a', 'W2', 'b2'], ['logits'], {}, { name: 'fc2' }),
        makeNode('Softmax', ['logits'], ['y'], { axis: 1 }, { name: 'softmax' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', D])],
      outputs: [makeValueInfo('y', 'float32', ['batch', C])],
      valueInfo: [makeValueInfo('h', 'float32', ['batch', H]), makeValueInfo('a', 'float32', ['batch', H])],
      initializers: [
        makeTensor('W1', 'float32', [D, H], lcgValues(D * H, 1, Math.sqrt(6 / (D + H)))),
        makeTensor('b1', 'float32', [H], lcgValues(H, 2, 0.1)),
        makeTensor('W2', 'float32', [H, C], lcgValues(H * C, 3, Math.sqrt(6 / (H + C)))),
        makeTensor('b2', 'float32', [C], lcgValues(C, 4, 0.1)),
      ],
    }),
  );
}

test('fp16 MLP: float16 weights and values, float32 inputs/outputs, half the bytes, outputs within 1e-2 relative', async () => {
  const model = mlp(256, 512, 10);
  const x = lcgValues(8 * 256, 5);
  const feeds = { x: { data: x, dims: [8, 256] } };
  const want = await run(model, feeds);
  const r = convertToFloat16(model, opts());
  const g = r.model.graph!;
  for (const t of g.initializer!) assert.equal(t.dataType, FLOAT16, `${t.name} is float16`);
  assert.equal(g.input![0]!.type!.tensorType!.elemType, FLOAT);
  assert.equal(g.output![0]!.type!.tensorType!.elemType, FLOAT);
  assert.deepEqual(
    g.valueInfo!.map((v) => [v.name, v.type!.tensorType!.elemType]),
    [
      ['h', FLOAT16],
      ['a', FLOAT16],
    ],
  );
  // One Cast in (x), one out (y); the output keeps its name.
  const casts = g.node!.filter((n) => n.opType === 'Cast');
  assert.deepEqual(
    casts.map((n) => [n.input![0], n.output![0], attrInt(n, 'to', 0)]),
    [
      ['x', 'x_fp16', FLOAT16],
      ['y_fp16', 'y', FLOAT],
    ],
  );
  assert.equal(r.report.mode, 'fp16');
  assert.equal(r.report.clamped, 0);
  assert.deepEqual(
    r.report.nodes.map((n) => [n.name, n.action]),
    [
      ['fc1', 'quantized'],
      ['relu', 'quantized'],
      ['fc2', 'quantized'],
      ['softmax', 'quantized'],
    ],
  );
  assert.deepEqual(
    r.report.nodes[0]!.weights!.map((w) => w.name),
    ['W1', 'b1'],
  );
  const ratio = encodeModel(r.model).length / encodeModel(model).length;
  assert.ok(ratio <= 0.51, `size ratio ${ratio}`);
  const e = relMax(await run(r.model, feeds), want);
  assert.ok(e < 1e-2, `relative error ${e}`);
});

test('toFloat16Clamped clamps and counts; a node reading a constant beyond ±65504 stays float32; tiny values flush to 0 and are counted', async () => {
  const counts = { clamped: 0, flushed: 0 };
  const h = float16ToFloat32(toFloat16Clamped(Float32Array.from([1e5, -7e4, 65504, 1e-9, -1e-9, 6e-8, Infinity, NaN, 0]), counts));
  assert.deepEqual([...h.subarray(0, 5)], [65504, -65504, 65504, 0, -0]);
  assert.ok(h[5]! > 0, '6e-8 rounds to the smallest subnormal, 2^-24');
  assert.equal(h[6], Infinity);
  assert.ok(Number.isNaN(h[7]));
  assert.deepEqual(counts, { clamped: 2, flushed: 2 });

  // End to end: a node reading a constant beyond float16's range stays float32 (clamping would change
  // what it computes); a constant that only loses tiny values converts, and the flushes are counted.
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('Mul', ['x', 'C'], ['m'], {}, { name: 'wide' }), makeNode('Mul', ['m', 'D'], ['y'], {}, { name: 'tiny' })],
      inputs: [makeValueInfo('x', 'float32', [4])],
      outputs: [makeValueInfo('y', 'float32', [4])],
      initializers: [makeTensor('C', 'float32', [4], [1e5, -7e4, 3, 2]), makeTensor('D', 'float32', [4], [1, 1, 1e-9, 1])],
    }),
  );
  const r = convertToFloat16(model, opts());
  assert.equal(r.report.clamped, 0);
  const wide = r.report.nodes.find((n) => n.name === 'wide')!;
  assert.equal(wide.action, 'kept-float');
  assert.match(wide.reason!, /constant input 'C' holds values up to 100000, beyond float16's ±65504/);
  assert.equal(r.report.nodes.find((n) => n.name === 'tiny')!.action, 'quantized');
  assert.ok(r.report.notes.some((n) => /1 node\(s\) stay float32 because a constant they read does not fit float16/.test(n)));
  assert.ok(r.report.notes.some((n) => /1 nonzero value\(s\) below float16's smallest subnormal/.test(n)));
  assert.deepEqual([...(await run(r.model, { x: { data: new Float32Array([1, 1, 1, 0.5]), dims: [4] } }))], [1e5, -7e4, 0, 1]);
});

test('a BatchNormalization whose running variance exceeds float16 (as in a real PaddleOCR detector) stays float32 and the model keeps its output', async () => {
  // Conv -> BN -> Sigmoid; var up to 4.8e7 as the detector's head had: clamped to 65504 it scaled the BN output ~27x.
  const C = 4;
  const variance = Float32Array.from({ length: C }, (_, i) => 1e6 * (i + 1) * 12);
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'w'], ['c'], { kernel_shape: [1, 1] }, { name: 'conv' }),
        makeNode('BatchNormalization', ['c', 'scale', 'bias', 'mean', 'var'], ['b'], {}, { name: 'bn' }),
        makeNode('Sigmoid', ['b'], ['y'], {}, { name: 'sig' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 2, 3, 3])],
      outputs: [makeValueInfo('y', 'float32', [1, C, 3, 3])],
      initializers: [
        makeTensor(
          'w',
          'float32',
          [C, 2, 1, 1],
          Float32Array.from({ length: C * 2 }, (_, i) => 500 * (i + 1)),
        ),
        makeTensor('scale', 'float32', [C], [1, 1, 1, 1]),
        makeTensor('bias', 'float32', [C], [0, 0.1, -0.1, 0]),
        makeTensor('mean', 'float32', [C], [100, 200, 300, 400]),
        makeTensor('var', 'float32', [C], variance),
      ],
    }),
    { opset: 13 },
  );
  const r = convertToFloat16(model, opts());
  assert.equal(r.report.nodes.find((n) => n.name === 'bn')!.action, 'kept-float');
  assert.equal(r.report.clamped, 0);
  const x = { data: Float32Array.from({ length: 18 }, (_, i) => (i % 5) - 2), dims: [1, 2, 3, 3] };
  const [want, got] = [await run(model, { x }), await run(r.model, { x })];
  const maxDiff = Math.max(...[...want].map((v, i) => Math.abs(v - got[i]!)));
  assert.ok(maxDiff < 1e-2, `fp16 model differs from fp32 by ${maxDiff}`);
});

test('block-listed ops and --keep-float32 ops stay float32 behind Casts, and the model still matches', async () => {
  // x -> MatMul W -> Max(., m) -> Relu -> TopK values -> y; Max and TopK are on the block list.
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'W'], ['h'], {}, { name: 'mm' }),
        makeNode('Max', ['h', 'm'], ['hm'], {}, { name: 'max' }),
        makeNode('Relu', ['hm'], ['a'], {}, { name: 'relu' }),
        makeNode('TopK', ['a', 'k'], ['y', 'idx'], {}, { name: 'topk' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [3, 16])],
      outputs: [makeValueInfo('y', 'float32', [3, 4]), makeValueInfo('idx', 'int64', [3, 4])],
      initializers: [
        makeTensor('W', 'float32', [16, 8], lcgValues(128, 1)),
        makeTensor('m', 'float32', [8], lcgValues(8, 2, 0.2)),
        makeTensor('k', 'int64', [1], [4]),
      ],
    }),
  );
  assert.ok(FP16_BLOCK_LIST.includes('TopK') && FP16_BLOCK_LIST.includes('Max'));
  const feeds = { x: { data: lcgValues(48, 3), dims: [3, 16] } };
  const want = await run(model, feeds);
  const r = convertToFloat16(model, opts({ keepFloat32: ['Relu'] }));
  const byOp = Object.fromEntries(r.report.nodes.map((n) => [n.opType, n]));
  assert.equal(byOp['MatMul']!.action, 'quantized');
  assert.equal(byOp['Max']!.action, 'kept-float');
  assert.match(byOp['Max']!.reason!, /block list/);
  assert.match(byOp['Relu']!.reason!, /keepFloat32 lists Relu/);
  const types = Object.fromEntries(r.model.graph!.initializer!.map((t) => [t.name, readTensor(t).dtype]));
  assert.deepEqual(types, { W: 'float16', m: 'float32', k: 'int64' }, 'm is only read by a float32 op');
  // MatMul's float16 output is cast back for Max; nothing else needs a Cast.
  const casts = r.model.graph!.node!.filter((n) => n.opType === 'Cast').map((n) => `${n.input![0]}->${n.output![0]}`);
  assert.deepEqual(casts, ['x->x_fp16', 'h->h_fp32']);
  assert.ok(relMax(await run(r.model, feeds), want) < 1e-2);
});

test('Cast(to=float), Constant and ConstantOfShape inside the converted region become float16; value_info follows', async () => {
  // y = x * Cast(Shape(x)[0]) + const + ConstantOfShape([2], 0.25), with a graph output that is also read inside.
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Shape', ['x'], ['s']),
        makeNode('Cast', ['s'], ['sf'], { to: FLOAT }),
        makeNode('Mul', ['x', 'sf'], ['xs']),
        makeNode('Constant', [], ['c'], { value: makeTensor('c', 'float32', [2], [0.5, -1]) }),
        makeNode('Add', ['xs', 'c'], ['mid']),
        makeNode('ConstantOfShape', ['s'], ['z'], { value: makeTensor('v', 'float32', [1], [0.25]) }),
        makeNode('Add', ['mid', 'z'], ['y']),
      ],
      inputs: [makeValueInfo('x', 'float32', [2])],
      outputs: [makeValueInfo('y', 'float32', [2]), makeValueInfo('mid', 'float32', [2])],
      valueInfo: [makeValueInfo('sf', 'float32', [1]), makeValueInfo('s', 'int64', [1])],
    }),
  );
  const feeds = { x: { data: new Float32Array([1.5, -3]), dims: [2] } };
  const r = convertToFloat16(model, opts());
  // Shape reads the float32 input itself: no Cast in front of it.
  assert.equal(r.model.graph!.node!.find((n) => n.opType === 'Shape')!.input![0], 'x');
  const nodes = r.model.graph!.node!;
  assert.equal(
    attrInt(
      nodes.find((n) => n.output![0] === 'sf')!,
      'to',
      0,
    ),
    FLOAT16,
  );
  assert.equal(nodes.find((n) => n.opType === 'Constant')!.attribute![0]!.t!.dataType, FLOAT16);
  assert.equal(nodes.find((n) => n.opType === 'ConstantOfShape')!.attribute![0]!.t!.dataType, FLOAT16);
  const vi = Object.fromEntries(r.model.graph!.valueInfo!.map((v) => [v.name, v.type!.tensorType!.elemType]));
  assert.deepEqual(vi, { sf: FLOAT16, s: onnx.TensorProto.DataType.INT64 });
  // Both outputs keep their names and float32 type; 'mid' is also read inside, in float16.
  assert.deepEqual(
    r.model.graph!.output!.map((o) => [o.name, o.type!.tensorType!.elemType]),
    [
      ['y', FLOAT],
      ['mid', FLOAT],
    ],
  );
  assert.deepEqual([...(await run(r.model, feeds))], [2 * 1.5 + 0.5 + 0.25, 2 * -3 - 1 + 0.25]);
  assert.deepEqual([...(await run(r.model, feeds, 'mid'))], [3.5, -7]);
});

test('the input model is not mutated; --exclude keeps a node float32', () => {
  const model = mlp(16, 8, 4);
  const before = encodeModel(model);
  const r = convertToFloat16(model, opts({ exclude: ['fc2'] }));
  assert.deepEqual(encodeModel(model), before);
  const fc2 = r.report.nodes.find((n) => n.name === 'fc2')!;
  assert.equal(fc2.action, 'kept-float');
  assert.match(fc2.reason!, /excluded/);
  const types = Object.fromEntries(r.model.graph!.initializer!.map((t) => [t.name, t.dataType]));
  assert.deepEqual(types, { W1: FLOAT16, b1: FLOAT16, W2: FLOAT, b2: FLOAT });
});

test('fp16 CNN (Conv, BatchNormalization, MaxPool, GlobalAveragePool, Flatten, Gemm) runs on onnxruntime CPU within 1e-2', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'Wc', 'bc'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
        makeNode('BatchNormalization', ['c', 'g', 'beta', 'mean', 'var'], ['bn']),
        makeNode('Relu', ['bn'], ['r']),
        makeNode('MaxPool', ['r'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }),
        makeNode('GlobalAveragePool', ['p'], ['gap']),
        makeNode('Flatten', ['gap'], ['f']),
        makeNode('Gemm', ['f', 'Wf', 'bf'], ['y'], { transB: 1 }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 3, 8, 8])],
      outputs: [makeValueInfo('y', 'float32', [2, 5])],
      initializers: [
        makeTensor('Wc', 'float32', [6, 3, 3, 3], lcgValues(162, 1, 0.3)),
        makeTensor('bc', 'float32', [6], lcgValues(6, 2, 0.1)),
        makeTensor(
          'g',
          'float32',
          [6],
          lcgValues(6, 3, 0.2).map((v) => 1 + v),
        ),
        makeTensor('beta', 'float32', [6], lcgValues(6, 4, 0.1)),
        makeTensor('mean', 'float32', [6], lcgValues(6, 5, 0.1)),
        makeTensor(
          'var',
          'float32',
          [6],
          lcgValues(6, 6, 0.2).map((v) => 1 + v),
        ),
        makeTensor('Wf', 'float32', [5, 6], lcgValues(30, 7)),
        makeTensor('bf', 'float32', [5], lcgValues(5, 8, 0.1)),
      ],
    }),
  );
  const feeds = { x: { data: lcgValues(2 * 3 * 64, 9), dims: [2, 3, 8, 8] } };
  const r = convertToFloat16(model, opts());
  assert.ok(r.report.nodes.every((n) => n.action === 'quantized'));
  const e = relMax(await run(r.model, feeds), await run(model, feeds));
  assert.ok(e < 1e-2, `relative error ${e}`);
});

test('integer outputs of float ops (NonMaxSuppression indices) are not cast to float16 (one dtype inference with the runtime)', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('NonMaxSuppression', ['boxes', 'scores', 'maxk'], ['sel']),
        makeNode('Gather', ['table', 'sel'], ['rows'], {}, { name: 'pick' }),
        makeNode('Relu', ['rows'], ['y']),
      ],
      inputs: [makeValueInfo('boxes', 'float32', [1, 4, 4]), makeValueInfo('scores', 'float32', [1, 1, 4])],
      outputs: [makeValueInfo('y', 'float32')],
      initializers: [makeTensor('maxk', 'int64', [1], [2]), makeTensor('table', 'float32', [5, 3], lcgValues(15, 9))],
    }),
  );
  const { model: half } = convertToFloat16(model, opts());
  const gather = half.graph!.node!.find((n) => n.opType === 'Gather')!;
  assert.equal(gather.input?.[1], 'sel', 'the int64 indices reach Gather as they are');
  const boxes = Float32Array.from([0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 0.9, 1, 1.9, 5, 5, 6, 6]);
  const feeds: Feeds = {
    boxes: { data: boxes, dims: [1, 4, 4] },
    scores: { data: Float32Array.from([0.9, 0.8, 0.7, 0.6]), dims: [1, 1, 4] },
  };
  assert.ok(relMax(await run(half, feeds), await run(model, feeds)) < 1e-3);
});
