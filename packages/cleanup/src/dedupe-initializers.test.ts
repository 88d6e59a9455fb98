// Equal initializers merge when asked (off by default); graph inputs, outputs and unequal bytes stay apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '@shrink/core';
import { cleanupModel } from './cleanup-model.js';
import { assertSameOutputs, runOrt, seededFloats, tensor } from './ort.fixture.js';

const rand = seededFloats(11);

test('equal initializers merge into the first; -0 and 0, other dims and overridable inputs do not', async () => {
  const w = rand(6);
  const zeros = [0, 0, 0];
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w1'], ['a']),
        makeNode('MatMul', ['x', 'w2'], ['b']),
        makeNode('Add', ['a', 'b'], ['c']),
        makeNode('Add', ['c', 'z1'], ['d']),
        makeNode('Add', ['d', 'z2'], ['e']),
        makeNode('Add', ['e', 'negz'], ['f']),
        makeNode('Add', ['f', 'fed'], ['g']),
        makeNode('Add', ['g', 'row'], ['y']),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 2]), makeValueInfo('fed', 'float32', [3])],
      outputs: [makeValueInfo('y', 'float32', [2, 3])],
      initializers: [
        tensor('w1', 'float32', [2, 3], w),
        tensor('w2', 'float32', [2, 3], w),
        tensor('z1', 'float32', [3], zeros),
        tensor('z2', 'float32', [3], zeros),
        tensor('negz', 'float32', [3], [-0, -0, -0]),
        tensor('fed', 'float32', [3], zeros),
        tensor('row', 'float32', [1, 3], zeros),
      ],
    }),
  );
  assert.equal(cleanupModel(model).report.initializersMerged, 0, 'off by default');
  const r = cleanupModel(model, { dedupeInitializers: true });
  assert.equal(r.report.initializersMerged, 2);
  assert.equal(r.report.bytesMerged, 24 + 12);
  assert.deepEqual(
    r.model.graph!.initializer!.map((t) => t.name),
    ['w1', 'z1', 'negz', 'fed', 'row'],
  );
  assert.deepEqual(
    r.model.graph!.node!.slice(0, 5).map((n) => n.input![1]),
    ['w1', 'w1', 'b', 'z1', 'z1'],
  );
  const feeds = { x: { data: Float32Array.from(rand(4)), dims: [2, 2] }, fed: { data: Float32Array.from(rand(3)), dims: [3] } };
  assertSameOutputs(await runOrt(model, feeds), await runOrt(r.model, feeds));
});
