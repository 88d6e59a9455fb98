import assert from 'node:assert/strict';
import test from 'node:test';
import { ShrinkError } from '../errors.js';
import { Graph } from './graph.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from './builder.js';
import { countUnhandled, selectNodes } from './select.js';

function graph(): Graph {
  return Graph.from(
    makeModel(
      makeGraph({
        nodes: [
          makeNode('MatMul', ['x', 'w1'], ['h'], {}, { name: 'fc1' }),
          makeNode('Relu', ['h'], ['r'], {}, { name: 'act' }),
          makeNode('MatMul', ['r', 'w2'], ['m'], {}, { name: 'fc2' }),
          makeNode('Gelu', ['m'], ['g'], {}, { domain: 'com.microsoft' }),
          makeNode('Relu', ['g'], ['y']),
        ],
        inputs: [makeValueInfo('x', 'float32', [1, 2])],
        outputs: [makeValueInfo('y', 'float32', [1, 2])],
        initializers: [makeTensor('w1', 'float32', [2, 2], [1, 2, 3, 4]), makeTensor('w2', 'float32', [2, 2], [1, 2, 3, 4])],
      }),
    ),
  );
}

test('selectNodes: no lists selects everything', () => {
  const g = graph();
  const s = selectNodes(g, {});
  for (const n of g.nodes) assert.deepEqual(s.isSelected(n), { ok: true });
});

test('selectNodes: include and exclude match node names or op types; exclude wins', () => {
  const g = graph();
  const fc1 = g.node('fc1')!;
  const fc2 = g.node('fc2')!;
  const act = g.node('act')!;
  let s = selectNodes(g, { include: ['fc2'] });
  assert.deepEqual(s.isSelected(fc2), { ok: true });
  assert.deepEqual(s.isSelected(fc1), { ok: false, reason: 'not listed in include' });
  s = selectNodes(g, { include: ['MatMul'], exclude: ['fc1'] });
  assert.deepEqual(s.isSelected(fc1), { ok: false, reason: "excluded ('fc1' is in exclude)" });
  assert.deepEqual(s.isSelected(fc2), { ok: true });
  assert.equal(s.isSelected(act).ok, false);
  s = selectNodes(g, { exclude: ['MatMul'] });
  assert.deepEqual(s.isSelected(fc2), { ok: false, reason: "excluded ('MatMul' is in exclude)" });
  assert.deepEqual(s.isSelected(act), { ok: true });
  s = selectNodes(g, { include: [] });
  assert.deepEqual(s.isSelected(fc1), { ok: true }, 'an empty include list filters nothing');
});

test('selectNodes: an entry naming no node and no op type is refused, listing valid names', () => {
  const g = graph();
  assert.throws(
    () => selectNodes(g, { include: ['fc3'] }),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.code === 'INVALID_ARGUMENT' &&
      e.message.startsWith("include: no node or op type named 'fc3'") &&
      e.message.includes("'MatMul'") &&
      e.message.includes("'fc1'"),
  );
  assert.throws(() => selectNodes(g, { exclude: ['matmul'] }), /exclude: no node or op type named 'matmul'/);
});

test('countUnhandled counts op types without a handler; other domains are qualified', () => {
  assert.deepEqual(countUnhandled(graph(), new Set(['MatMul', 'Gemm'])), { Relu: 2, 'com.microsoft:Gelu': 1 });
  assert.deepEqual(countUnhandled(graph(), new Set(['MatMul', 'Relu'])), { 'com.microsoft:Gelu': 1 });
});
