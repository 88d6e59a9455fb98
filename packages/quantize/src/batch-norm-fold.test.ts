// quantize folds an inference BatchNormalization into the Conv before it first (paddle2onnx keeps them
// apart): the BN's four vectors would otherwise stay float32 beside int8 codes. Real onnxruntime; every
// output of the quantized model against the float model's, before any fold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type onnx } from '@shrink/core';
import { createSession, tensorToFloat32 } from '@shrink/core/runtime';
import { quantizeModel } from './runtime/quantize-model.js';
import { lcgValues, relError } from './test-data.fixture.js';

const C = 16;

/** x -> (Conv 3x3 -> BatchNormalization -> Relu) x 3 -> y, and the middle BN also read by a side output. */
function convBnChain(): onnx.ModelProto {
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  let prev = 'x';
  for (let l = 0; l < 3; l++) {
    inits.push(
      makeTensor(`w${l}`, 'float32', [C, C, 3, 3], lcgValues(C * C * 9, 10 + l, 0.3)),
      makeTensor(
        `g${l}`,
        'float32',
        [C],
        Float32Array.from(lcgValues(C, 20 + l), (v) => 1 + 0.5 * v),
      ),
      makeTensor(`b${l}`, 'float32', [C], lcgValues(C, 30 + l, 0.2)),
      makeTensor(`m${l}`, 'float32', [C], lcgValues(C, 40 + l, 0.5)),
      makeTensor(
        `v${l}`,
        'float32',
        [C],
        Float32Array.from(lcgValues(C, 50 + l), (v) => 1.5 + v),
      ),
    );
    nodes.push(
      makeNode('Conv', [prev, `w${l}`], [`c${l}`], { pads: [1, 1, 1, 1] }, { name: `conv${l}` }),
      makeNode(
        'BatchNormalization',
        [`c${l}`, `g${l}`, `b${l}`, `m${l}`, `v${l}`],
        [`bn${l}`],
        { epsilon: attr.float(1e-5) },
        { name: `bn${l}` },
      ),
      makeNode('Relu', [`bn${l}`], [l === 2 ? 'y' : `r${l}`]),
    );
    prev = `r${l}`;
  }
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', [1, C, 8, 8])],
      outputs: [makeValueInfo('y', 'float32'), makeValueInfo('bn1', 'float32')],
      initializers: inits,
    }),
    { opset: 17 },
  );
}

async function outputs(model: onnx.IModelProto): Promise<Record<string, Float32Array>> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run({ x: { data: Float32Array.from(lcgValues(C * 64, 3), Math.abs), dims: [1, C, 8, 8] } });
    return { y: tensorToFloat32(out['y']!, 'y'), bn1: tensorToFloat32(out['bn1']!, 'bn1') };
  } finally {
    await s.release();
  }
}

for (const [dtype, tol] of [
  ['q8', 0.03],
  ['fp16', 0.005],
] as const) {
  test(`${dtype}: every BatchNormalization after a Conv is folded first (noted), no float vectors stay beside the weights; every output within ${tol * 100} %`, async () => {
    const model = convBnChain();
    const ref = await outputs(model);
    const r = await quantizeModel(model, { dtype });
    const ops = (r.model.graph?.node ?? []).map((n) => n.opType);
    assert.ok(!ops.includes('BatchNormalization'), ops.join(' '));
    assert.match(r.report.notes[0] ?? '', /^folded 3 BatchNormalization into the Conv before it first/);
    const floatVectors = (r.model.graph?.initializer ?? []).filter(
      (t) => t.dataType === 1 && t.dims?.length === 1 && Number(t.dims[0]) === C,
    );
    // One folded bias per Conv (q8: plus nothing else of length C; per-channel scales are [C,1,1,1]).
    assert.ok(floatVectors.length <= 3, floatVectors.map((t) => t.name).join(', '));
    const got = await outputs(r.model);
    for (const name of ['y', 'bn1']) {
      const e = relError(got[name]!, ref[name]!);
      assert.ok(e <= tol, `${name}: relative error ${e.toFixed(4)} > ${tol}`);
    }
  });
}

test('--include/--exclude naming a BatchNormalization (or the op type) are not refused by the fold: the BNs stay, and the note says why', async () => {
  const model = convBnChain();
  const ref = await outputs(model);
  for (const exclude of [['bn1'], ['BatchNormalization']]) {
    const r = await quantizeModel(model, { dtype: 'q8', exclude });
    const ops = (r.model.graph?.node ?? []).map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'BatchNormalization').length, 3, ops.join(' '));
    assert.match(r.report.notes[0] ?? '', /^BatchNormalization not folded: include\/exclude name a node the fold would remove/);
    const e = relError((await outputs(r.model))['y']!, ref['y']!);
    assert.ok(e <= 0.03, `y: relative error ${e.toFixed(4)}`);
  }
  // A Conv's name survives the fold: it is folded, and excluded.
  const r = await quantizeModel(model, { dtype: 'q8', exclude: ['conv1'] });
  assert.match(r.report.notes[0] ?? '', /^folded 3 BatchNormalization/);
  assert.equal(r.report.nodes.find((n) => n.name === 'conv1')?.action, 'skipped');
});

test('fp16 with keepFloat32 BatchNormalization: the BNs are not folded into float16 Convs, and stay float32', async () => {
  const r = await quantizeModel(convBnChain(), { dtype: 'fp16', keepFloat32: ['BatchNormalization'] });
  assert.match(r.report.notes[0] ?? '', /^BatchNormalization not folded: keepFloat32 lists it/);
  const bns = r.report.nodes.filter((n) => n.opType === 'BatchNormalization');
  assert.equal(bns.length, 3);
  assert.ok(
    bns.every((n) => n.action === 'kept-float'),
    JSON.stringify(bns),
  );
});
