import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, subgraphsOf, type onnx } from '@shrink/core';
import { quantizeModel } from './runtime/quantize-model.js';
import { lcgValues } from './test-data.fixture.js';
import { assertCosine, bytesOf, runAll } from './real-graphs.fixture.js';

const D = 64;
const H = 128;

/**
 * y = If(flag, then: Relu(x W_then) with W_then the branch's own initializer, else: x W_else + b with
 * W_else an outer initializer only the else branch reads). The nested If in the then branch holds a
 * third weight, so bodies inside bodies are covered.
 */
function ifModel(): onnx.ModelProto {
  const inner = makeGraph({
    name: 'inner_then',
    nodes: [makeNode('MatMul', ['x', 'W_inner'], ['yi'], {}, { name: 'inner_mm' })],
    inputs: [],
    outputs: [makeValueInfo('yi', 'float32', [null, H])],
    initializers: [makeTensor('W_inner', 'float32', [D, H], lcgValues(D * H, 3, 0.2))],
  });
  const thenG = makeGraph({
    name: 'then',
    nodes: [
      makeNode('MatMul', ['x', 'W_then'], ['t1'], {}, { name: 'then_mm' }),
      makeNode('Relu', ['t1'], ['t2'], {}, { name: 'then_relu' }),
      makeNode('If', ['flag2'], ['t3'], { then_branch: attr.graph(inner), else_branch: attr.graph(inner) }, { name: 'nested_if' }),
      makeNode('Add', ['t2', 't3'], ['yt'], {}, { name: 'then_add' }),
    ],
    inputs: [],
    outputs: [makeValueInfo('yt', 'float32', [null, H])],
    initializers: [makeTensor('W_then', 'float32', [D, H], lcgValues(D * H, 1, 0.2))],
  });
  const elseG = makeGraph({
    name: 'else',
    nodes: [
      makeNode('MatMul', ['x', 'W_else'], ['e1'], {}, { name: 'else_mm' }),
      makeNode('Add', ['e1', 'b_else'], ['ye'], {}, { name: 'else_add' }),
    ],
    inputs: [],
    outputs: [makeValueInfo('ye', 'float32', [null, H])],
  });
  return makeModel(
    makeGraph({
      name: 'ifnet',
      nodes: [makeNode('If', ['flag'], ['y'], { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) }, { name: 'branch' })],
      inputs: [makeValueInfo('x', 'float32', [2, D]), makeValueInfo('flag', 'bool', []), makeValueInfo('flag2', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', [2, H])],
      initializers: [
        makeTensor('W_else', 'float32', [D, H], lcgValues(D * H, 2, 0.2)),
        makeTensor('b_else', 'float32', [H], lcgValues(H, 4, 0.1)),
      ],
    }),
    { opset: 17 },
  );
}

/** h <- tanh(h W_loop) three times in a Loop body; W_loop is an outer initializer only the body reads. */
function loopModel(): onnx.ModelProto {
  const body = makeGraph({
    name: 'body',
    nodes: [
      makeNode('Identity', ['cond_in'], ['cond_out'], {}, { name: 'keep_going' }),
      makeNode('MatMul', ['h', 'W_loop'], ['m'], {}, { name: 'loop_mm' }),
      makeNode('Tanh', ['m'], ['h_out'], {}, { name: 'loop_tanh' }),
    ],
    inputs: [makeValueInfo('i', 'int64', []), makeValueInfo('cond_in', 'bool', []), makeValueInfo('h', 'float32', [2, D])],
    outputs: [makeValueInfo('cond_out', 'bool', []), makeValueInfo('h_out', 'float32', [2, D])],
  });
  return makeModel(
    makeGraph({
      name: 'loopnet',
      nodes: [makeNode('Loop', ['trips', '', 'x'], ['y'], { body: attr.graph(body) }, { name: 'loop' })],
      inputs: [makeValueInfo('x', 'float32', [2, D])],
      outputs: [makeValueInfo('y', 'float32', [2, D])],
      initializers: [makeTensor('trips', 'int64', [], [3]), makeTensor('W_loop', 'float32', [D, D], lcgValues(D * D, 5, 0.3))],
    }),
    { opset: 17 },
  );
}

const x = { data: lcgValues(2 * D, 9, 1), dims: [2, D] };
const flags = (a: boolean, b: boolean) => ({
  flag: { data: Uint8Array.of(a ? 1 : 0), dims: [], type: 'bool' as const },
  flag2: { data: Uint8Array.of(b ? 1 : 0), dims: [], type: 'bool' as const },
});

/** Op types anywhere in a graph, bodies included. */
function opsIn(g: onnx.IGraphProto, into: string[] = []): string[] {
  for (const n of g.node ?? []) {
    into.push(n.opType ?? '');
    for (const s of subgraphsOf(n)) opsIn(s, into);
  }
  return into;
}

for (const [dtype, intOp, min] of [
  ['q8', 'MatMulInteger', 0.999],
  ['q4', 'MatMulNBits', 0.99],
] as const) {
  test(`${dtype}: MatMul weights inside If branches (own, outer-only, nested) are quantized; outputs on both branches match`, async () => {
    const model = ifModel();
    const r = await quantizeModel(model, { dtype });
    const quantized = r.report.nodes.filter((n) => n.action === 'quantized').map((n) => n.name);
    // The nested If's two branches hold one copy each of W_inner (they are two graphs).
    assert.deepEqual(quantized.sort(), [
      'branch/else_branch/else_mm',
      'branch/then_branch/nested_if/else_branch/inner_mm',
      'branch/then_branch/nested_if/then_branch/inner_mm',
      'branch/then_branch/then_mm',
    ]);
    const ops = opsIn(r.model.graph!);
    assert.equal(ops.filter((o) => o === 'MatMul').length, 0, `float MatMuls left: ${ops.join(' ')}`);
    assert.equal(ops.filter((o) => o === intOp).length, 4);
    // W_else and b_else, read only by the else branch, moved into it (and the float W_else was replaced there).
    assert.deepEqual(
      r.model.graph!.initializer!.map((t) => t.name),
      [],
    );
    assert.ok(bytesOf(r.model) / bytesOf(model) < (dtype === 'q8' ? 0.3 : 0.2), `${bytesOf(r.model)} of ${bytesOf(model)} bytes`);
    for (const [a, b] of [
      [true, true],
      [true, false],
      [false, false],
    ] as const) {
      const feeds = { x, ...flags(a, b) };
      assertCosine(await runAll(r.model, feeds), await runAll(model, feeds), min, `${dtype} flag=${a} flag2=${b}`);
    }
  });

  test(`${dtype}: a Loop body's weight (an outer initializer only the body reads) is quantized; the output after 3 trips matches`, async () => {
    const model = loopModel();
    const r = await quantizeModel(model, { dtype });
    assert.deepEqual(
      r.report.nodes.map((n) => [n.name, n.action]),
      [['loop/body/loop_mm', 'quantized']],
    );
    assert.deepEqual(
      r.model.graph!.initializer!.map((t) => t.name),
      ['trips'],
    );
    assert.ok(opsIn(r.model.graph!).includes(intOp));
    assertCosine(await runAll(r.model, { x }), await runAll(model, { x }), min, `${dtype} loop`);
  });
}

test('an outer weight read by both branches (and nothing else) is quantized once: its codes go back to the outer graph, both branches read them', async () => {
  const model = ifModel();
  // Both branches read W_else now: each quantizes a copy, and the alike codes are stored once, outside.
  const thenBody = model.graph!.node![0]!.attribute!.find((a) => a.name === 'then_branch')!.g!;
  thenBody.node![0]!.input = ['x', 'W_else'];
  const r = await quantizeModel(model, { dtype: 'q8' });
  const quantized = r.report.nodes.filter((n) => n.action === 'quantized').map((n) => n.name);
  assert.ok(quantized.includes('branch/else_branch/else_mm') && quantized.includes('branch/then_branch/then_mm'), quantized.join(', '));
  const outer = r.model.graph!.initializer!;
  assert.ok(!outer.some((t) => t.name === 'W_else'), 'the float W_else is gone');
  const codes = outer.filter((t) => (t.dataType === 2 || t.dataType === 3) && t.dims!.length === 2);
  assert.equal(codes.length, 1, `one set of codes outside: ${outer.map((t) => t.name).join(', ')}`);
  // Both branches' MatMulIntegers read those codes.
  const bodies = r.model.graph!.node![0]!.attribute!.map((a) => a.g!);
  for (const b of bodies) {
    const mm = b.node!.find((n) => n.opType === 'MatMulInteger')!;
    assert.equal(mm.input![1], codes[0]!.name, `${b.name} reads the shared codes`);
  }
  for (const f of [flags(true, false), flags(false, false)]) {
    const feeds = { x, ...f };
    assertCosine(await runAll(r.model, feeds), await runAll(model, feeds), 0.999, 'shared outer weight');
  }
});

test('an outer weight that an outer MatMul reads too is quantized in both scopes and its codes stored once, outside', async () => {
  const model = ifModel();
  const g = model.graph!;
  g.node!.push(makeNode('MatMul', ['x', 'W_else'], ['z'], {}, { name: 'outer_mm' }));
  g.output!.push(makeValueInfo('z', 'float32', [2, H]));
  const r = await quantizeModel(model, { dtype: 'q8' });
  const actions = Object.fromEntries(r.report.nodes.map((n) => [n.name, n.action]));
  assert.equal(actions['outer_mm'], 'quantized');
  assert.equal(actions['branch/else_branch/else_mm'], 'quantized');
  const codes = (init: onnx.ITensorProto[] | null | undefined) => (init ?? []).filter((t) => t.dataType === 3 && t.dims!.length === 2);
  const elseBody = r.model.graph!.node!.find((n) => n.opType === 'If')!.attribute!.find((a) => a.name === 'else_branch')!.g!;
  assert.equal(codes(r.model.graph!.initializer).length, 1);
  assert.equal(codes(elseBody.initializer).length, 0, 'the else branch reads the outer codes');
  const feeds = { x, ...flags(false, false) };
  assertCosine(await runAll(r.model, feeds), await runAll(model, feeds), 0.999, 'outer and body');
});

test('an outer weight that the outer graph reads as a value (not a weight) stays float there, and the body says so (not "computed at run time")', async () => {
  const model = ifModel();
  const g = model.graph!;
  g.node!.push(makeNode('Identity', ['W_else'], ['z'], {}, { name: 'outer_copy' }));
  g.output!.push(makeValueInfo('z', 'float32', [D, H]));
  const r = await quantizeModel(model, { dtype: 'q8' });
  const row = r.report.nodes.find((n) => n.name === 'branch/else_branch/else_mm')!;
  assert.equal(row.action, 'skipped');
  assert.match(row.reason ?? '', /'W_else' is a weight of an enclosing graph whose own nodes read it too/);
  assert.doesNotMatch(row.reason ?? '', /computed at run time/);
  const feeds = { x, ...flags(false, false) };
  assertCosine(await runAll(r.model, feeds), await runAll(model, feeds), 0.999, 'outer value');
});
