// What every quantization pass shares: one handler contract (plans as data, placed in one place),
// one node label in the reports, one notion of the default domain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeModel,
  Graph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  parseOptions,
  ShrinkError,
  type onnx,
} from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { DYNAMIC_HANDLERS, quantizeDynamic } from './dynamic.js';
import { convertToFloat16 } from './fp16.js';
import { NBITS_OPS, quantizeWeightOnly } from './nbits.js';
import { WEIGHT_QUANTIZERS } from './ops/weight-quantizers.js';
import { quantizeOptionsSchema, type QuantizeOptions } from './options.js';
import { calibrationTensors, quantizeStatic } from './static.js';
import { lcgValues } from './test-data.fixture.js';

const opts = (o: QuantizeOptions = {}) => parseOptions(quantizeOptionsSchema, o);

/** x [b,32] -> MatMul W1 [32,32] -> h -> MatMul W2 [32,8] -> y, the MatMuls unnamed unless `names`, in `domain`. */
function twoMatMuls(o: { names?: [string, string]; domain?: string; sharedWeight?: boolean } = {}): onnx.ModelProto {
  const node = (i: number, x: string, w: string, y: string) =>
    makeNode(
      'MatMul',
      [x, w],
      [y],
      {},
      { ...(o.names ? { name: o.names[i] } : {}), ...(o.domain !== undefined ? { domain: o.domain } : {}) },
    );
  const shared = o.sharedWeight === true;
  return makeModel(
    makeGraph({
      nodes: shared ? [node(0, 'x', 'W1', 'h'), node(1, 'x', 'W1', 'y')] : [node(0, 'x', 'W1', 'h'), node(1, 'h', 'W2', 'y')],
      inputs: [makeValueInfo('x', 'float32', ['batch', 32])],
      outputs: shared
        ? [makeValueInfo('h', 'float32', ['batch', 32]), makeValueInfo('y', 'float32', ['batch', 32])]
        : [makeValueInfo('y', 'float32', ['batch', 8])],
      initializers: [
        makeTensor('W1', 'float32', [32, 32], lcgValues(32 * 32, 1, 0.3)),
        makeTensor('W2', 'float32', [32, 8], lcgValues(32 * 8, 2, 0.3)),
      ],
    }),
  );
}

const ranges = (model: onnx.IModelProto) => new Map(calibrationTensors(model).map((t) => [t, [-1, 1] as const]));

/** The three passes that rewrite MatMuls, as one call each. */
const PASSES = {
  dynamic: (m: onnx.IModelProto) => quantizeDynamic(m, opts()),
  static: (m: onnx.IModelProto) => quantizeStatic(m, opts({ mode: 'static' }), ranges(m)),
  'weight-only': (m: onnx.IModelProto) => quantizeWeightOnly(m, { ...opts({ dtype: 'q4' }), bits: 4 }),
};

for (const [pass, run] of Object.entries(PASSES)) {
  test(`${pass}: unnamed nodes get a row each, labelled by the value they write`, () => {
    const { report } = run(twoMatMuls());
    const rows = report.nodes.filter((n) => n.opType === 'MatMul');
    assert.deepEqual(
      rows.map((n) => [n.name, n.action]),
      [
        ['h', 'quantized'],
        ['y', 'quantized'],
      ],
    );
    assert.equal(new Map(rows.map((n) => [n.name, n])).size, 2, 'the rows do not collapse in a Map by name');
  });

  test(`${pass}: a MatMul in domain 'ai.onnx' (the default domain spelled out) is quantized`, async () => {
    const model = twoMatMuls({ names: ['mm1', 'mm2'], domain: 'ai.onnx' });
    const { model: q, report } = run(model);
    assert.deepEqual(
      report.nodes.filter((n) => n.opType === 'MatMul').map((n) => [n.name, n.action]),
      [
        ['mm1', 'quantized'],
        ['mm2', 'quantized'],
      ],
    );
    assert.deepEqual(report.unhandled, {});
    // Static keeps the MatMul between DequantizeLinear and QuantizeLinear (onnxruntime fuses the group).
    const left = pass === 'static' ? 'QuantizeLinear' : 'MatMul';
    assert.equal(
      (q.graph?.node ?? []).some((n) => n.opType === left),
      pass === 'static',
    );
    const s = await createSession(encodeModel(q));
    try {
      const out = await s.run({ x: { data: lcgValues(2 * 32, 3), dims: [2, 32] } });
      assert.equal(out.y!.data.length, 2 * 8);
    } finally {
      await s.release();
    }
  });
}

test('fp16: unnamed nodes get a row each too, labelled as the input model has them', () => {
  const { report } = convertToFloat16(twoMatMuls(), {});
  // y is a graph output: the MatMul writes y_fp16 now, but its row keeps the name it is found by.
  assert.deepEqual(
    report.nodes.map((n) => [n.name, n.opType]),
    [
      ['h', 'MatMul'],
      ['y', 'MatMul'],
    ],
  );
});

test('handlers return plans as data: deciding leaves the graph as it was', () => {
  const graph = Graph.from(twoMatMuls({ names: ['mm1', 'mm2'] }));
  const before = encodeModel(graph.toModel());
  const format = { type: 'int8', symmetric: true, reduceRange: true } as const;
  for (const node of graph.nodes) {
    const d = DYNAMIC_HANDLERS.get(node.opType)!(node, { graph, format, perChannel: false, opset: 17 });
    assert.equal(d.kind, 'plan');
    const n = NBITS_OPS.get(node.opType)!(node, { graph });
    assert.equal(n.kind, 'plan');
  }
  assert.deepEqual(encodeModel(graph.toModel()), before);
});

test('dynamic: a weight read by two nodes is stored once, an activation read by two is quantized once', () => {
  const { model: q, report } = quantizeDynamic(twoMatMuls({ names: ['a', 'b'], sharedWeight: true }), opts());
  const ops = (q.graph?.node ?? []).map((n) => n.opType);
  assert.equal(ops.filter((o) => o === 'DynamicQuantizeLinear').length, 1, ops.join(','));
  assert.equal(ops.filter((o) => o === 'MatMulInteger').length, 2);
  assert.deepEqual(
    report.nodes.map((n) => n.weights?.map((w) => w.name)),
    [['W1_quantized', 'W1_scale', 'W1_zero_point'], []],
  );
  assert.deepEqual(
    (q.graph?.initializer ?? [])
      .map((t) => t.name)
      .filter((n) => n?.startsWith('W1'))
      .sort(),
    ['W1_quantized', 'W1_scale', 'W1_zero_point'],
  );
});

test('weight-only: the weight quantizer is chosen by algo from one table (rtn, gptq, hqq, kquant)', () => {
  assert.deepEqual(Object.keys(WEIGHT_QUANTIZERS), ['rtn', 'gptq', 'hqq', 'kquant']);
  assert.equal(opts().algo, 'rtn');
  assert.throws(() => opts({ algo: 'awq' as never }), ShrinkError);
  const model = twoMatMuls();
  const a = quantizeWeightOnly(model, { ...opts({ dtype: 'q4' }), bits: 4 });
  const b = quantizeWeightOnly(model, { ...opts({ dtype: 'q4', algo: 'rtn' }), bits: 4 });
  assert.deepEqual(encodeModel(a.model), encodeModel(b.model));
});
