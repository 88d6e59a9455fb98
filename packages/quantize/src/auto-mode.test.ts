import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { resolveMode } from './auto-mode.js';

const conv = makeModel(
  makeGraph({
    nodes: [
      makeNode('Conv', ['x', 'w'], ['c'], { pads: [1, 1, 1, 1] }, { name: 'conv' }),
      makeNode('Flatten', ['c'], ['f'], {}, { name: 'flat' }),
      makeNode('MatMul', ['f', 'fc'], ['y'], {}, { name: 'fc' }),
    ],
    inputs: [makeValueInfo('x', 'float32', [1, 3, 16, 16])],
    outputs: [makeValueInfo('y', 'float32', [1, 10])],
    initializers: [
      makeTensor('w', 'float32', [8, 3, 3, 3], new Float32Array(216).fill(0.1)),
      makeTensor('fc', 'float32', [2048, 10], new Float32Array(20480).fill(0.01)),
    ],
  }),
  { opset: 13 },
);
const mlp = makeModel(
  makeGraph({
    nodes: [makeNode('MatMul', ['x', 'w'], ['y'], {}, { name: 'mm' })],
    inputs: [makeValueInfo('x', 'float32', [1, 64])],
    outputs: [makeValueInfo('y', 'float32', [1, 32])],
    initializers: [makeTensor('w', 'float32', [64, 32], new Float32Array(2048).fill(0.1))],
  }),
  { opset: 13 },
);

test('mode auto: static for a conv net given calibration data, dynamic otherwise; an explicit mode is kept', () => {
  const staticConv = resolveMode({ dtype: 'q8', mode: 'auto' }, conv, true);
  assert.equal(staticConv.mode, 'static');
  // 3x3x3 x 8 x 16 x 16 = 55,296 Conv MACs against 20,480 in the MatMul.
  assert.match(staticConv.note ?? '', /static QDQ .* 73 % of the MACs are in Conv/);
  assert.equal(resolveMode({ dtype: 'q8', mode: 'auto' }, conv, false).mode, 'dynamic');
  const mm = resolveMode({ dtype: 'q8', mode: 'auto' }, mlp, true);
  assert.equal(mm.mode, 'dynamic');
  assert.match(mm.note ?? '', /only 0 % of the MACs are in Conv/);
  assert.equal(resolveMode({ dtype: 'q4', mode: 'auto' }, conv, true).mode, 'dynamic');
  assert.equal(resolveMode({ dtype: 'q8', mode: 'dynamic' }, conv, true).mode, 'dynamic');
  assert.equal(resolveMode({ dtype: 'uint8', mode: 'auto' }, conv, true).mode, 'static');
});
