import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, makeGraph, makeModel, makeNode, makeValueInfo, ShrinkError } from '@shrink/core';
import { countUnhandled, selectNodes } from './select.js';

const graph = Graph.from(
  makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w'], ['a'], {}, { name: 'fc1' }),
        makeNode('Relu', ['a'], ['b'], {}, { name: 'act' }),
        makeNode('FusedGemm', ['b', 'w'], ['y'], {}, { name: 'fused', domain: 'com.microsoft' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 2]), makeValueInfo('w', 'float32', [2, 2])],
      outputs: [makeValueInfo('y', 'float32', [1, 2])],
    }),
  ),
);

test('exclude wins over include; names and op types both match', () => {
  const s = selectNodes(graph, { include: ['MatMul', 'act'], exclude: ['act'] });
  const [fc1, act, fused] = graph.nodes;
  assert.deepEqual(s.isSelected(fc1!), { ok: true });
  assert.deepEqual(s.isSelected(act!), { ok: false, reason: "excluded by --exclude 'act'" });
  assert.deepEqual(s.isSelected(fused!), { ok: false, reason: 'not listed in --include' });
});

test('an entry matching nothing is refused, listing valid names', () => {
  assert.throws(
    () => selectNodes(graph, { exclude: ['fc2'] }),
    (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && e.message === "--exclude: no node or op type named 'fc2'; op types in the model: 'FusedGemm', 'MatMul', 'Relu'; node names: 'fc1', 'act', 'fused'",
  );
});

test('countUnhandled keys other domains as domain:opType', () => {
  assert.deepEqual(countUnhandled(graph, new Set(['MatMul', 'FusedGemm'])), { Relu: 1, 'com.microsoft:FusedGemm': 1 });
});
