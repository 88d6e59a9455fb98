// Constant nodes become initializers of the same name (any attribute form); one writing a graph output stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo, readTensor } from '@shrink/core';
import { cleanupModel } from './cleanup-model.js';
import { assertSameOutputs, runOrt, seededFloats, tensor } from './ort.fixture.js';

const rand = seededFloats(13);

test('weights in Constant nodes (value, value_float) become initializers; a subgraph still reads them; a graph-output Constant stays', async () => {
  const branch = makeGraph({
    name: 'b',
    nodes: [makeNode('Mul', ['h', 'half'], ['r'])],
    inputs: [],
    outputs: [makeValueInfo('r', 'float32', [2, 3])],
  });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Constant', [], ['w'], { value: tensor('some_other_name', 'float32', [4, 3], rand(12)) }, { name: 'const_w' }),
        makeNode('Constant', [], ['half'], { value_float: attr.float(0.5) }),
        makeNode('Constant', [], ['k'], { value: tensor('k', 'float32', [3], rand(3)) }, { name: 'const_out' }),
        makeNode('MatMul', ['x', 'w'], ['h']),
        makeNode('If', ['cond'], ['y'], { then_branch: branch, else_branch: branch }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, 4]), makeValueInfo('cond', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', [2, 3]), makeValueInfo('k', 'float32', [3])],
    }),
  );
  const r = cleanupModel(model);
  assert.equal(r.report.constantsToInitializers, 2);
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Constant', 'MatMul', 'If'],
  );
  assert.deepEqual(
    r.model.graph!.initializer!.map((t) => t.name),
    ['w', 'half'],
  );
  assert.deepEqual(readTensor(r.model.graph!.initializer![1]!).dims, []);
  assert.equal(r.report.nodes.find((n) => n.name === 'const_out')?.reason, "it writes graph output 'k'");
  const feeds = {
    x: { data: Float32Array.from(rand(8)), dims: [2, 4] },
    cond: { data: Uint8Array.of(1), dims: [], type: 'bool' as const },
  };
  assertSameOutputs(await runOrt(model, feeds), await runOrt(r.model, feeds));
  assert.equal(cleanupModel(model, { constantsToInitializers: false }).report.nodesAfter, 5);
});
