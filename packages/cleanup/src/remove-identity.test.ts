// Identity and no-op Dropout removal: readers read the input instead, graph output names stay (the
// producer writes them directly), and what cannot be removed without renaming an output stays with the
// reason. Every removable case runs in onnxruntime before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, encodeModel, makeGraph, makeModel, makeNode, makeValueInfo, type onnx } from '@shrink/core';
import { cleanupModel } from './cleanup-model.js';
import { assertSameOutputs, runOrt, seededFloats, tensor } from './ort.fixture.js';

const rand = seededFloats(3);
const x = makeValueInfo('x', 'float32', [2, 3]);
const feeds = { x: { data: Float32Array.from(rand(6)), dims: [2, 3] } };
const out = (name: string) => makeValueInfo(name, 'float32', [2, 3]);

/** Cleans with only Identity removal on; checks the input is untouched and the outputs are the same. */
async function removes(model: onnx.ModelProto, expectRemoved: number) {
  const bytes = encodeModel(model);
  const r = cleanupModel(model, { foldConstants: false, removeDeadNodes: false });
  assert.deepEqual(encodeModel(model), bytes, 'the input model is not mutated');
  assert.equal(r.report.identityRemoved, expectRemoved, JSON.stringify(r.report.nodes));
  assert.deepEqual(
    r.model.graph!.output!.map((o) => o.name),
    model.graph!.output!.map((o) => o.name),
  );
  assertSameOutputs(await runOrt(model, feeds), await runOrt(r.model, feeds));
  return r;
}

test('an Identity chain between two nodes goes; readers read the first input', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Relu', ['x'], ['a']),
        makeNode('Identity', ['a'], ['b']),
        makeNode('Identity', ['b'], ['c']),
        makeNode('Neg', ['c'], ['y']),
        makeNode('Abs', ['b'], ['z']),
      ],
      inputs: [x],
      outputs: [out('y'), out('z')],
    }),
  );
  const r = await removes(model, 2);
  assert.deepEqual(
    r.model.graph!.node!.map((n) => `${n.opType}(${n.input!.join(',')})`),
    ['Relu(x)', 'Neg(a)', 'Abs(a)'],
  );
});

test('an Identity writing a graph output: its producer writes the output name, and its other readers follow', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Relu', ['x'], ['a'], {}, { name: 'relu' }),
        makeNode('Identity', ['a'], ['y'], {}, { name: 'id' }),
        makeNode('Neg', ['a'], ['z']),
      ],
      inputs: [x],
      outputs: [out('y'), out('z')],
      valueInfo: [out('a')],
    }),
  );
  const r = await removes(model, 1);
  assert.deepEqual(
    r.model.graph!.node!.map((n) => `${n.opType}(${n.input!.join(',')})->${n.output!.join(',')}`),
    ['Relu(x)->y', 'Neg(y)->z'],
  );
  assert.match(r.report.nodes[0]!.reason, /graph output 'y' is written by relu \(Relu\), which wrote 'a'/);
});

test('Identities that would rename a graph output stay, each with its reason', () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Identity', ['x'], ['from_input'], {}, { name: 'i1' }),
        makeNode('Identity', ['w'], ['from_init'], {}, { name: 'i2' }),
        makeNode('Relu', ['x'], ['y']),
        makeNode('Identity', ['y'], ['copy'], {}, { name: 'i3' }),
      ],
      inputs: [x],
      outputs: [out('from_input'), out('from_init'), out('y'), out('copy')],
      initializers: [tensor('w', 'float32', [2, 3], rand(6))],
    }),
  );
  const r = cleanupModel(model);
  assert.equal(r.report.identityRemoved, 0);
  assert.deepEqual(
    r.report.nodes.filter((n) => n.action === 'kept').map((n) => n.reason),
    [
      "it writes graph output 'from_input' from graph input 'x'",
      "it writes graph output 'from_init' from initializer 'w'",
      "it copies graph output 'y' into graph output 'copy'",
    ],
  );
});

function dropoutModel(
  opset: number,
  dropoutInputs: string[],
  extra: { nodes?: onnx.NodeProto[]; inputs?: onnx.ValueInfoProto[]; inits?: onnx.TensorProto[]; mask?: boolean } = {},
) {
  return makeModel(
    makeGraph({
      nodes: [
        ...(extra.nodes ?? []),
        makeNode('Relu', ['x'], ['a']),
        makeNode('Dropout', ['a', ...dropoutInputs], extra.mask ? ['d', 'mask'] : ['d'], opset < 12 ? { ratio: attr.float(0.5) } : {}, {
          name: 'drop',
        }),
        makeNode('Neg', ['d'], ['y']),
      ],
      inputs: [x, ...(extra.inputs ?? [])],
      outputs: [out('y'), ...(extra.mask ? [makeValueInfo('mask', 'bool', [2, 3])] : [])],
      initializers: extra.inits ?? [],
    }),
    { opset },
  );
}

test('Dropout goes where it is a no-op at inference (opset 10; opset 13 without training_mode or with a constant false)', async () => {
  await removes(dropoutModel(10, []), 1);
  await removes(dropoutModel(13, []), 1);
  await removes(
    dropoutModel(13, ['ratio', 'mode'], { inits: [tensor('ratio', 'float32', [], [0.3]), tensor('mode', 'bool', [], [0])] }),
    1,
  );
  await removes(
    dropoutModel(13, ['', 'mode'], { nodes: [makeNode('Constant', [], ['mode'], { value: tensor('mode', 'bool', [], [0]) })] }),
    1,
  );
});

test('Dropout stays where it drops or its mask is read', () => {
  const reason = (m: onnx.ModelProto) => cleanupModel(m).report.nodes.find((n) => n.name === 'drop')?.reason;
  assert.equal(
    reason(dropoutModel(13, ['', 'mode'], { inits: [tensor('mode', 'bool', [], [1])] })),
    'training_mode is true: it drops at run time',
  );
  assert.equal(
    reason(dropoutModel(13, ['', 'mode'], { inputs: [makeValueInfo('mode', 'bool', [])] })),
    "training_mode 'mode' is computed at run time",
  );
  assert.equal(reason(dropoutModel(13, [], { mask: true })), "its mask 'mask' is read");
});

/** A bool-conditioned If whose branches read main-graph values `reads` (then: first + second, else: first * second). */
function ifReading(reads: [string, string]): onnx.NodeProto {
  const branch = (op: string) => makeGraph({ name: op, nodes: [makeNode(op, reads, ['r'])], inputs: [], outputs: [out('r')] });
  return makeNode('If', ['cond'], ['y'], { then_branch: branch('Add'), else_branch: branch('Mul') }, { name: 'if' });
}

test('subgraphs are left as they are, but their reads of a removed Identity or a folded value follow, on both branches', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Relu', ['x'], ['a']),
        makeNode('Identity', ['a'], ['b']),
        makeNode('Constant', [], ['two'], { value: tensor('two', 'float32', [], [2]) }),
        makeNode('Mul', ['w', 'two'], ['w2']),
        ifReading(['b', 'w2']),
      ],
      inputs: [x, makeValueInfo('cond', 'bool', [])],
      outputs: [out('y')],
      initializers: [tensor('w', 'float32', [2, 3], rand(6))],
    }),
  );
  const bytes = encodeModel(model);
  const r = cleanupModel(model);
  assert.deepEqual(encodeModel(model), bytes);
  assert.equal(r.report.identityRemoved, 1);
  assert.equal(r.report.folded, 1);
  assert.equal(r.report.subgraphNodes, 2);
  assert.deepEqual(
    r.model.graph!.node!.map((n) => n.opType),
    ['Relu', 'If'],
  );
  const branchReads = r.model.graph!.node![1]!.attribute!.map((a) => a.g!.node![0]!.input);
  assert.deepEqual(branchReads, [
    ['a', 'w2'],
    ['a', 'w2'],
  ]);
  assert.ok(
    r.model.graph!.initializer!.some((t) => t.name === 'w2'),
    'the folded value is an initializer the branches read',
  );
  for (const cond of [0, 1]) {
    const f = { ...feeds, cond: { data: Uint8Array.of(cond), dims: [], type: 'bool' as const } };
    assertSameOutputs(await runOrt(model, f), await runOrt(r.model, f));
  }
});

test('an Identity whose reader has a subgraph defining the input name stays (the rename would be captured)', () => {
  const inner = makeGraph({
    name: 'g',
    nodes: [makeNode('Neg', ['b'], ['a']), makeNode('Add', ['a', 'b'], ['r'])],
    inputs: [],
    outputs: [out('r')],
  });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Relu', ['x'], ['a']),
        makeNode('Identity', ['a'], ['b'], {}, { name: 'id' }),
        makeNode('If', ['cond'], ['y'], { then_branch: inner, else_branch: inner }),
      ],
      inputs: [x, makeValueInfo('cond', 'bool', [])],
      outputs: [out('y')],
    }),
  );
  const r = cleanupModel(model);
  assert.equal(r.report.identityRemoved, 0);
  assert.equal(r.report.nodes.find((n) => n.name === 'id')?.reason, "a subgraph reading 'b' defines its own 'a'");
});
