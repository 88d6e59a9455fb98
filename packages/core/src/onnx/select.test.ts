import assert from 'node:assert/strict';
import test from 'node:test';
import { ShrinkError } from '../errors.js';
import type { onnx } from './proto.js';
import { Graph } from './graph.js';
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from './builder.js';
import { countUnhandled, selectNodes } from './select.js';
import { inBody } from './select-scope.js';

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
      e.message.startsWith("include: no node or op type named 'fc3' in the model or its If/Loop/Scan bodies") &&
      e.message.endsWith("nearest names: 'fc1', 'fc2'") &&
      e.message.includes("'MatMul'") &&
      e.message.includes("'fc1'"),
  );
  assert.throws(() => selectNodes(g, { exclude: ['matmul'] }), /exclude: no node or op type named 'matmul'/);
});

test('countUnhandled counts op types without a handler; other domains are qualified', () => {
  assert.deepEqual(countUnhandled(graph(), new Set(['MatMul', 'Gemm'])), { Relu: 2, 'com.microsoft:Gelu': 1 });
  assert.deepEqual(countUnhandled(graph(), new Set(['MatMul', 'Relu'])), { 'com.microsoft:Gelu': 1 });
});

/** main_mm -> If(then: MatMul then_mm, an unnamed Tanh; else: Conv else_conv) -> y. */
function withBodies(): { main: Graph; then: Graph; else: Graph } {
  const w = makeTensor('w', 'float32', [2, 2], [1, 2, 3, 4]);
  const thenG = makeGraph({
    name: 'then',
    nodes: [makeNode('MatMul', ['m', 'w'], ['t'], {}, { name: 'then_mm' }), makeNode('Tanh', ['t'], ['t_tanh'])],
    inputs: [],
    outputs: [makeValueInfo('t_tanh', 'float32', [1, 2])],
  });
  const elseG = makeGraph({
    name: 'else',
    nodes: [makeNode('Conv', ['m', 'w'], ['e'], {}, { name: 'else_conv' })],
    inputs: [],
    outputs: [makeValueInfo('e', 'float32', [1, 2])],
  });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'w'], ['m'], {}, { name: 'main_mm' }),
        makeNode('If', ['c'], ['y'], { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) }, { name: 'branch' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 2]), makeValueInfo('c', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', [1, 2])],
      initializers: [w],
    }),
  );
  const body = (g: onnx.IGraphProto) =>
    Graph.from(makeModel(makeGraph({ name: g.name ?? '', nodes: g.node ?? [], inputs: [], outputs: [] })));
  return { main: Graph.from(model), then: body(thenG), else: body(elseG) };
}

test('selectNodes: entries may name If/Loop/Scan body nodes by label or by path, and op types only bodies hold', () => {
  const { main, then, else: other } = withBodies();
  for (const entry of ['then_mm', 'branch/then_branch/then_mm', 't_tanh', 'branch/then_branch/t_tanh', 'Conv', 'Tanh', 'else_conv']) {
    assert.doesNotThrow(() => selectNodes(main, { exclude: [entry] }), entry);
  }
  // Inside a body (withSubgraphs' pass over it), entries match its nodes by label or by its path, and an
  // entry naming a node elsewhere (main_mm, else_conv) is not refused there: the main graph checked it.
  const thenMm = then.node('then_mm')!;
  const tanh = then.nodes.find((n) => n.opType === 'Tanh')!;
  inBody('branch/then_branch/', () => {
    let s = selectNodes(then, { exclude: ['branch/then_branch/then_mm', 'main_mm', 'else_conv'] });
    assert.deepEqual(s.isSelected(thenMm), { ok: false, reason: "excluded ('branch/then_branch/then_mm' is in exclude)" });
    assert.deepEqual(s.isSelected(tanh), { ok: true });
    s = selectNodes(then, { exclude: ['t_tanh'] });
    assert.deepEqual(s.isSelected(tanh), { ok: false, reason: "excluded ('t_tanh' is in exclude)" }, 'an unnamed node by its first output');
    s = selectNodes(then, { include: ['main_mm'] });
    assert.deepEqual(s.isSelected(thenMm), { ok: false, reason: 'not listed in include' });
  });
  // The same path names no node of the other branch.
  inBody('branch/else_branch/', () => {
    const s = selectNodes(other, { exclude: ['branch/then_branch/then_mm'] });
    assert.deepEqual(s.isSelected(other.node('else_conv')!), { ok: true });
  });
  // Back on the main graph, entries are checked again.
  assert.throws(() => selectNodes(main, { exclude: ['then_mn'] }), /nearest names: 'then_mm'/);
});

test('selectNodes: a miss names close matches, body paths included, and says a comma-joined list is one entry', () => {
  const { main } = withBodies();
  assert.throws(
    () => selectNodes(main, { exclude: ['branch/then_branch/then'] }),
    (e: unknown) =>
      e instanceof ShrinkError &&
      e.message.startsWith("exclude: no node or op type named 'branch/then_branch/then' in the model or its If/Loop/Scan bodies;") &&
      e.message.includes("nearest names: 'branch/then_branch/then_mm'") &&
      !e.message.includes('\n'),
  );
  assert.throws(() => selectNodes(main, { exclude: ['matmul'] }), /nearest names: 'MatMul'/);
  assert.throws(
    () => selectNodes(main, { exclude: ['main_mm,then_mm'] }),
    /no node or op type named 'main_mm,then_mm' .*several entries are separate values \(repeat the option\)/,
  );
});
