// Shape of a value computed at run time folds when its dims follow from fixed input dims (the
// exporters' Shape -> Gather/Slice -> Unsqueeze -> Concat -> Reshape chains); symbolic dims do not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeValueInfo, type Dim } from '@shrink/core';
import { cleanupModel } from '../cleanup-model.js';
import { assertSameOutputs, runOrt, seededFloats, tensor } from '../ort.fixture.js';

const rand = seededFloats(21);
const i64 = (name: string, values: number[]) => tensor(name, 'int64', [values.length], values);

/** x -> Conv -> Relu -> MaxPool (ceil_mode), its dims as an output; Reshape of the pooled value to [batch, C, H*W] by a Shape chain; Resize by 1.5 beside it. */
function chainModel(xDims: Dim[]) {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'w'], ['c'], { pads: [1, 1, 1, 1], strides: [2, 2] }),
        makeNode('Relu', ['c'], ['r']),
        makeNode('MaxPool', ['r'], ['p'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }),
        makeNode('Shape', ['p'], ['s'], {}, { name: 'shape_p' }),
        makeNode('Gather', ['s', 'zero'], ['n'], { axis: 0 }, { name: 'gather_n' }),
        makeNode('Slice', ['s', 'one', 'two'], ['ch'], {}, { name: 'slice_c' }),
        makeNode('Unsqueeze', ['n', 'zero1'], ['n1']),
        makeNode('Concat', ['n1', 'ch', 'minus1'], ['target'], { axis: 0 }),
        makeNode('Reshape', ['p', 'target'], ['y']),
        makeNode('Resize', ['r', '', 'scales'], ['big']),
        makeNode('Shape', ['big'], ['big_shape'], {}, { name: 'shape_big' }),
        makeNode('Cast', ['big_shape'], ['z'], { to: 1 }),
        makeNode('Cast', ['s'], ['dims_p'], { to: 1 }),
      ],
      inputs: [makeValueInfo('x', 'float32', xDims)],
      outputs: [makeValueInfo('y', 'float32'), makeValueInfo('z', 'float32'), makeValueInfo('dims_p', 'float32')],
      initializers: [
        tensor('w', 'float32', [4, 3, 3, 3], rand(108)),
        tensor('zero', 'int64', [], [0]),
        i64('zero1', [0]),
        i64('one', [1]),
        i64('two', [2]),
        i64('minus1', [-1]),
        tensor('scales', 'float32', [4], [1, 1, 1.5, 1.5]),
      ],
    }),
    { opset: 13 },
  );
}

test('fixed input dims: Shape of Conv/Relu/MaxPool outputs and its Gather/Slice/Concat chain fold; Resize by 1.5 is not trusted', async () => {
  const model = chainModel([2, 3, 11, 9]);
  const r = cleanupModel(model);
  assert.deepEqual(r.report.foldedByOp, { Shape: 1, Gather: 1, Slice: 1, Unsqueeze: 1, Concat: 1, Cast: 1 });
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Conv', 'Relu', 'MaxPool', 'Reshape', 'Resize', 'Shape', 'Cast', 'Constant'],
  );
  assert.match(r.report.nodes.find((n) => n.name === 'shape_big')!.reason, /shape of 'big' is not fixed/);
  const feeds = { x: { data: Float32Array.from(rand(2 * 3 * 11 * 9)), dims: [2, 3, 11, 9] } };
  // Bit for bit: the folded Reshape target is the one onnxruntime computes, and no float value was computed by cleanup.
  assertSameOutputs(await runOrt(model, feeds), await runOrt(r.model, feeds));
  assertSameOutputs(await runOrt(model, feeds, { level: 'all' }), await runOrt(r.model, feeds, { level: 'all' }));
});

test('a symbolic batch dim is never guessed: the Shape chain stays and the model runs at any batch', async () => {
  const model = chainModel(['batch', 3, 11, 9]);
  const r = cleanupModel(model);
  assert.equal(r.report.foldedByOp.Shape, undefined);
  assert.match(r.report.nodes.find((n) => n.name === 'shape_p')!.reason, /shape of 'p' is not fixed/);
  for (const batch of [1, 3]) {
    const feeds = { x: { data: Float32Array.from(rand(batch * 3 * 11 * 9)), dims: [batch, 3, 11, 9] } };
    assertSameOutputs(await runOrt(model, feeds), await runOrt(r.model, feeds));
  }
});

test('a graph whose nodes are out of order (a converter appended a Cast after its readers) is sorted first, so the chain still folds', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Shape', ['c'], ['s'], { start: 1 }, { name: 'shape_c' }),
        makeNode('Concat', ['minus1', 's'], ['target'], { axis: 0 }),
        makeNode('Reshape', ['c', 'target'], ['y']),
        makeNode('Cast', ['x'], ['c'], { to: 10 }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 3, 4])],
      outputs: [makeValueInfo('y', 'float16')],
      initializers: [i64('minus1', [-1])],
    }),
    { opset: 15 },
  );
  const r = cleanupModel(model);
  assert.deepEqual(r.report.foldedByOp, { Shape: 1, Concat: 1 });
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Cast', 'Reshape'],
  );
  const feeds = { x: { data: Float32Array.from(rand(24)), dims: [2, 3, 4] } };
  assertSameOutputs(await runOrt(model, feeds), await runOrt(r.model, feeds));
});
