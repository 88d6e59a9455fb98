// Dead nodes and unused initializers go; what a graph output or a subgraph reads stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '@shrink/core';
import { cleanupModel } from './cleanup-model.js';
import { assertSameOutputs, runOrt, seededFloats, tensor } from './ort.fixture.js';

const rand = seededFloats(5);
const x = makeValueInfo('x', 'float32', [2, 3]);
const out = (name: string) => makeValueInfo(name, 'float32', [2, 3]);

test('a branch nothing reads goes with the initializer only it read; a value a subgraph reads stays', async () => {
  const branch = makeGraph({ name: 'b', nodes: [makeNode('Neg', ['kept_by_if'], ['r'])], inputs: [], outputs: [out('r')] });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Relu', ['x'], ['a']),
        makeNode('Mul', ['a', 'only_dead'], ['dead1'], {}, { name: 'dead_mul' }),
        makeNode('Exp', ['dead1'], ['dead2'], {}, { name: 'dead_exp' }),
        makeNode('Abs', ['x'], ['kept_by_if']),
        makeNode('If', ['cond'], ['z'], { then_branch: branch, else_branch: branch }),
        makeNode('Neg', ['a'], ['y']),
      ],
      inputs: [x, makeValueInfo('cond', 'bool', [])],
      outputs: [out('y'), out('z')],
      initializers: [tensor('only_dead', 'float32', [2, 3], rand(6))],
      valueInfo: [out('dead1')],
    }),
  );
  const r = cleanupModel(model);
  assert.equal(r.report.deadNodesRemoved, 2);
  assert.equal(r.report.unusedInitializersRemoved, 1);
  assert.deepEqual(
    r.report.nodes.filter((n) => n.action === 'removed-dead').map((n) => n.name),
    ['dead_mul', 'dead_exp'],
  );
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Relu', 'Abs', 'If', 'Neg'],
  );
  assert.deepEqual(r.model.graph!.valueInfo, [], 'value_info of removed values goes too');
  const feeds = {
    x: { data: Float32Array.from(rand(6)), dims: [2, 3] },
    cond: { data: Uint8Array.of(1), dims: [], type: 'bool' as const },
  };
  assertSameOutputs(await runOrt(model, feeds), await runOrt(r.model, feeds));
  assert.equal(cleanupModel(model, { removeDeadNodes: false }).report.deadNodesRemoved, 0);
});
