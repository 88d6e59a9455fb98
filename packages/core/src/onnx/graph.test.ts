import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { onnx } from './proto.js';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from './builder.js';
import { makeTensor, readTensor } from './tensor.js';
import { Graph, attrFloat, attrFloats, attrInt, attrInts, attrString, cloneModel, nodeUses, opsetVersionOf, typeShape } from './graph.js';

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

/**
 * x -> relu -> a; add(a, w) -> b; mul(a, a) -> c; an If whose branches read the outer `b`;
 * a dead branch (dead1 -> dead2) and an unused initializer `junk`.
 */
function sample(): onnx.ModelProto {
  const thenBranch = makeGraph({
    name: 'then',
    nodes: [makeNode('Identity', ['b'], ['t_out'])],
    inputs: [],
    outputs: [makeValueInfo('t_out', 'float32', [2])],
  });
  const elseBranch = makeGraph({
    name: 'else',
    nodes: [makeNode('Neg', ['b'], ['e_out'])],
    inputs: [],
    outputs: [makeValueInfo('e_out', 'float32', [2])],
  });
  const model = makeModel(
    makeGraph({
      name: 'g',
      nodes: [
        makeNode('Relu', ['x'], ['a'], {}, { name: 'relu' }),
        makeNode('Add', ['a', 'w'], ['b'], {}, { name: 'add' }),
        makeNode('Mul', ['a', 'a'], ['c'], {}, { name: 'mul' }),
        makeNode('Constant', [], ['cond'], { value: makeTensor('', 'bool', [], [1]) }, { name: 'cond_const' }),
        makeNode('If', ['cond'], ['y'], { then_branch: thenBranch, else_branch: elseBranch }, { name: 'if' }),
        makeNode('Sigmoid', ['a'], ['dead1'], {}, { name: 'dead1' }),
        makeNode('Exp', ['dead1', 'junk2'], ['dead2'], {}, { name: 'dead2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 2])],
      outputs: [makeValueInfo('c', 'float32', ['N', 2]), makeValueInfo('y', 'float32', [2])],
      initializers: [
        makeTensor('w', 'float32', [2], [1, 2]),
        makeTensor('junk', 'int8', [3], [1, 2, 3]),
        makeTensor('junk2', 'float32', [1], [0]),
      ],
      valueInfo: [makeValueInfo('a', 'float32', ['N', 2]), makeValueInfo('dead1', 'float32', ['N', 2])],
    }),
    { metadata: { author: 'test' } },
  );
  model.functions.push(onnx.FunctionProto.create({ name: 'f', domain: 'local', node: [makeNode('Relu', ['i'], ['o'])] }));
  return model;
}

/** The graph of a model built here: always set and made of message instances. */
function graphOf(m: onnx.IModelProto): onnx.GraphProto {
  return m.graph as onnx.GraphProto;
}

function snapshot(m: onnx.ModelProto): { bytes: Uint8Array; obj: unknown } {
  return {
    bytes: onnx.ModelProto.encode(m).finish().slice(),
    obj: onnx.ModelProto.toObject(m, { longs: String, bytes: String, defaults: false }),
  };
}

test('producer and consumers, including subgraph reads of outer values', () => {
  const g = Graph.from(sample());
  assert.equal(g.producer('a')!.name, 'relu');
  assert.equal(g.producer('x'), undefined);
  assert.deepEqual(
    g.consumers('a').map((n) => n.name),
    ['add', 'mul', 'dead1'],
  );
  // Mul reads `a` twice but is listed once.
  assert.equal(g.consumers('a').filter((n) => n.name === 'mul').length, 1);
  assert.deepEqual(
    g.consumers('b').map((n) => n.name),
    ['if'],
  );
  assert.deepEqual(nodeUses(g.node('if')!), ['cond', 'b']);
  assert.deepEqual(g.consumers('nothing'), []);
  assert.ok(g.isGraphInput('x') && g.isGraphOutput('y') && !g.isGraphOutput('a'));
  assert.ok(g.isInitializer('w') && !g.isInitializer('a'));
  assert.deepEqual(
    g.feedInputs.map((v) => v.name),
    ['x'],
  );
});

test('shapes, dtypes, opsets, constants and initializers as typed arrays', () => {
  const g = Graph.from(sample());
  assert.deepEqual(g.shapeOf('x'), ['N', 2]);
  assert.deepEqual(g.shapeOf('a'), ['N', 2]);
  assert.deepEqual(g.shapeOf('w'), [2]);
  assert.deepEqual(g.shapeOf('cond'), []);
  assert.equal(g.shapeOf('b'), undefined);
  assert.equal(g.dtypeOf('junk'), 'int8');
  assert.equal(g.dtypeOf('cond'), 'bool');
  assert.equal(g.dtypeOf('x'), 'float32');
  assert.equal(g.dtypeOf('b'), undefined);
  assert.equal(g.opsetVersion(), 17);
  assert.equal(g.opsetVersion('ai.onnx'), 17);
  assert.equal(g.opsetVersion('com.microsoft'), undefined);
  g.setOpset('com.microsoft', 1);
  assert.equal(g.opsetVersion('com.microsoft'), 1);
  assert.deepEqual([...g.readInitializer('w').data], [1, 2]);
  assert.deepEqual([...g.constantValue('cond')!.data], [1]);
  assert.equal(g.constantValue('a'), undefined);
  assert.throws(
    () => g.readInitializer('nope'),
    (e) => codeOf(e) === 'NOT_FOUND' && /'nope'/.test(String(e)),
  );
  assert.deepEqual(g.metadata, { author: 'test' });
});

test('setInitializer replaces the TensorProto and never writes into the shared bytes', () => {
  const model = sample();
  const before = snapshot(model);
  const g = Graph.from(model);
  const original = g.initializer('w')!;
  assert.equal(original.rawData.buffer, graphOf(model).initializer[0]!.rawData!.buffer, 'tensor bytes are shared');
  g.setInitializer('w', 'float16', [2], [3, 4]);
  assert.equal(g.dtypeOf('w'), 'float16');
  assert.deepEqual([...g.readInitializer('w').data], [0x4200, 0x4400]);
  assert.equal(
    g.initializers.findIndex((t) => t.name === 'w'),
    0,
    'a replacement keeps its position',
  );
  g.setInitializer(makeTensor('extra', 'int64', [2], [5, 6]));
  assert.deepEqual([...g.readInitializer('extra').data], [5n, 6n]);
  g.removeInitializer('junk');
  assert.equal(g.initializer('junk'), undefined);
  assert.deepEqual([...readTensor(graphOf(model).initializer[0]!).data], [1, 2]);
  assert.deepEqual(snapshot(model), before);
});

test('setInitializer with { copy: false } stores the given codes without copying them', () => {
  const g = Graph.from(sample());
  const codes = new Uint8Array([7, 8]);
  const t = g.setInitializer('w', 'uint8', [2], codes, { copy: false });
  assert.equal(t.rawData.buffer, codes.buffer);
  assert.equal(g.initializer('w'), t);
  assert.deepEqual([...g.readInitializer('w').data], [7, 8]);
  assert.notEqual(g.setInitializer('w', 'uint8', [2], codes).rawData.buffer, codes.buffer, 'the default copies');
});

test('unique names never collide with existing names (subgraphs included) or with each other', () => {
  const g = Graph.from(sample());
  assert.equal(g.uniqueName('fresh'), 'fresh');
  assert.equal(g.uniqueName('fresh'), 'fresh_1');
  assert.equal(g.uniqueName('a'), 'a_1');
  assert.equal(g.uniqueName('w'), 'w_1');
  assert.equal(g.uniqueName('t_out'), 't_out_1', 'names inside subgraphs are taken');
  assert.equal(g.uniqueNodeName('relu'), 'relu_1');
  assert.equal(g.uniqueNodeName('relu'), 'relu_2');
  assert.equal(g.uniqueNodeName('new'), 'new');
});

test('topoSort orders a shuffled graph, keeps a sorted one as is, and names a node on a cycle', () => {
  const names = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
  // A diamond-rich DAG: node i reads the outputs of i-1 and i-2.
  const nodes = names.map((n, i) => makeNode('Add', [i > 0 ? `v${i - 1}` : 'x', i > 1 ? `v${i - 2}` : 'x'], [`v${i}`], {}, { name: n }));
  const build = (order: number[]) =>
    makeModel(
      makeGraph({
        nodes: order.map((i) => nodes[i]!),
        inputs: [makeValueInfo('x', 'float32', [1])],
        outputs: [makeValueInfo('v7', 'float32', [1])],
      }),
    );
  const sorted = Graph.from(build([0, 1, 2, 3, 4, 5, 6, 7]));
  sorted.topoSort();
  assert.deepEqual(
    sorted.nodes.map((n) => n.name),
    names,
  );
  const shuffled = Graph.from(build([5, 2, 7, 0, 3, 6, 1, 4]));
  shuffled.topoSort();
  const seen = new Set(['x']);
  for (const n of shuffled.nodes) {
    for (const i of n.input) assert.ok(seen.has(i), `${n.name} reads ${i} before it is produced`);
    for (const o of n.output) seen.add(o);
  }
  assert.equal(shuffled.nodes.length, 8);
  // A node inside a subgraph's read counts as a dependency too.
  const g = Graph.from(sample());
  g.editNode('if', () => {});
  const ifNode = g.node('if')!;
  g.removeNode(ifNode);
  g.addNode(ifNode, { before: 'relu' });
  g.topoSort();
  assert.ok(g.nodeIndex('if') > g.nodeIndex('add'));

  const cyclic = Graph.from(
    makeModel(
      makeGraph({
        nodes: [
          makeNode('Relu', ['x'], ['p'], {}, { name: 'start' }),
          makeNode('Add', ['p', 'r'], ['q'], {}, { name: 'loop_a' }),
          makeNode('Relu', ['q'], ['r'], {}, { name: 'loop_b' }),
        ],
        inputs: [makeValueInfo('x', 'float32', [1])],
        outputs: [makeValueInfo('r', 'float32', [1])],
      }),
    ),
  );
  assert.throws(
    () => cyclic.topoSort(),
    (e) => codeOf(e) === 'INVALID_MODEL' && /cycle through node 'loop_(a|b)'/.test(String(e)),
  );
});

test('removeDeadNodes drops unreachable nodes and unused initializers but keeps subgraph reads', () => {
  const g = Graph.from(sample());
  const removed = g.removeDeadNodes();
  assert.deepEqual(removed, { nodes: 2, initializers: 2 });
  assert.deepEqual(
    g.nodes.map((n) => n.name),
    ['relu', 'add', 'mul', 'cond_const', 'if'],
  );
  assert.deepEqual(
    g.initializers.map((t) => t.name),
    ['w'],
  );
  assert.deepEqual(
    g.valueInfo.map((v) => v.name),
    ['a'],
  );
  assert.deepEqual(
    g.consumers('a').map((n) => n.name),
    ['add', 'mul'],
  );
  assert.equal(g.producer('dead1'), undefined);
});

test('edits: add/replace/remove nodes, replaceAllUses (with except, into subgraphs), editNode reindexes', () => {
  const g = Graph.from(sample());
  const q = g.addNode(makeNode('Neg', ['a'], [g.uniqueName('a_neg')], {}, { name: g.uniqueNodeName('neg') }), { after: 'relu' });
  assert.equal(g.nodeIndex(q), 1);
  g.replaceAllUses('a', 'a_neg', { except: [q] });
  assert.deepEqual(
    g.consumers('a').map((n) => n.name),
    ['neg'],
  );
  assert.deepEqual(
    g.consumers('a_neg').map((n) => n.name),
    ['add', 'mul', 'dead1'],
  );
  assert.deepEqual(g.node('mul')!.input, ['a_neg', 'a_neg']);

  g.replaceAllUses('b', 'a_neg');
  assert.deepEqual(g.consumers('b'), []);
  const thenBody = g.node('if')!.attribute.find((a) => a.name === 'then_branch')!.g!;
  assert.deepEqual(thenBody.node![0]!.input, ['a_neg']);

  const [s1, s2] = g.replaceNode('mul', [
    makeNode('Sqrt', ['a_neg'], ['s'], {}, { name: 'sqrt' }),
    makeNode('Abs', ['s'], ['c'], {}, { name: 'abs' }),
  ]);
  assert.equal(g.producer('c'), s2);
  assert.equal(g.nodeIndex(s1!), 3);
  assert.equal(g.node('mul'), undefined);
  assert.ok(!g.consumers('a_neg').some((n) => n.name === 'mul'));

  g.editNode('abs', (n) => (n.input[0] = 'a'));
  assert.deepEqual(g.consumers('s'), []);
  assert.ok(g.consumers('a').some((n) => n.name === 'abs'));
  g.removeNode('abs');
  assert.equal(g.producer('c'), undefined);
  assert.throws(
    () => g.removeNode('abs'),
    (e) => codeOf(e) === 'NOT_FOUND' && /'abs'/.test(String(e)),
  );
  assert.throws(
    () => g.addNode(s1!),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
});

test('the input model is never mutated; toModel keeps functions, metadata, subgraphs and $unknown', () => {
  const model = sample();
  graphOf(model).node[0]!.$unknown = [new Uint8Array([0x42, 0x01, 0x7a])];
  model.$unknown = [new Uint8Array([0xd2, 0x01, 0x00])];
  const before = snapshot(model);
  const g = Graph.from(model);
  g.addNode(makeNode('Identity', ['c'], ['c2']));
  g.replaceAllUses('b', 'a');
  g.removeDeadNodes();
  g.setInitializer('w', 'float32', [2], [9, 9]);
  g.setMetadata('author', 'changed');
  g.setOpset('', 18);
  g.node('relu')!.attribute.push(onnx.AttributeProto.create({ name: 'extra', type: 2, i: 1 }));
  g.topoSort();
  assert.deepEqual(snapshot(model), before, 'input model bytes and fields unchanged');

  const out = g.toModel();
  assert.ok(out instanceof onnx.ModelProto);
  assert.notEqual(out.graph, model.graph);
  assert.deepEqual(graphOf(out).node[0]!.$unknown, [new Uint8Array([0x42, 0x01, 0x7a])]);
  assert.deepEqual(out.$unknown, [new Uint8Array([0xd2, 0x01, 0x00])]);
  assert.equal(out.functions[0]!.name, 'f');
  assert.deepEqual(
    out.metadataProps.map((p) => [p.key, p.value]),
    [['author', 'changed']],
  );
  assert.ok((graphOf(out).node as onnx.NodeProto[]).some((n) => n.opType === 'If' && n.attribute.some((a) => a.g?.name === 'else')));
  // Later edits to the view do not reach a model already returned.
  g.removeNode('relu');
  assert.ok(graphOf(out).node.some((n) => n.name === 'relu'));

  const c = cloneModel(model);
  assert.deepEqual(snapshot(c), before);
  assert.notEqual(graphOf(c).node, graphOf(model).node);
  assert.equal(graphOf(c).initializer[0]!.rawData, graphOf(model).initializer[0]!.rawData);
});

test('an edited graph runs in onnxruntime', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('Mul', ['x', 'k'], ['y'], {}, { name: 'scale' })],
      inputs: [makeValueInfo('x', 'float32', [3])],
      outputs: [makeValueInfo('y', 'float32', [3])],
      initializers: [makeTensor('k', 'float32', [1], [2])],
    }),
  );
  const g = Graph.from(model);
  // Insert y' = y + 1 in front of the graph output by renaming the producer's output.
  const mid = g.uniqueName('y_pre');
  g.editNode('scale', (n) => (n.output[0] = mid));
  g.setInitializer('one', 'float32', [1], [1]);
  g.addNode(makeNode('Add', [mid, 'one'], ['y'], {}, { name: g.uniqueNodeName('shift') }), { before: 'scale' });
  g.addNode(makeNode('Constant', [], ['unused'], { value: attr.tensor(makeTensor('', 'float32', [1], [0])) }));
  g.topoSort();
  g.removeDeadNodes();
  assert.deepEqual(
    g.nodes.map((n) => n.opType),
    ['Mul', 'Add'],
  );
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(g.toModel()).finish());
  try {
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([1, -2, 0.5]), [3]) });
    assert.deepEqual([...(out['y']!.data as Float32Array)], [3, -3, 2]);
  } finally {
    await session.release();
  }
});

test('attribute, type and opset readers handle decoded defaults (absent vs explicit zero)', () => {
  const built = makeNode('Conv', ['x', 'w'], ['y'], {
    group: 0,
    pads: [1, 1, 1, 1],
    auto_pad: 'VALID',
    alpha: attr.float(0),
    scales: attr.floats([2, 3]),
  });
  // Through the wire: unset scalars then come from prototype defaults, which must read as absent.
  const node = onnx.NodeProto.decode(onnx.NodeProto.encode(built).finish());
  assert.equal(attrInt(node, 'group', 1), 0);
  assert.equal(attrInt(node, 'missing', 7), 7);
  assert.deepEqual(attrInts(node, 'pads'), [1, 1, 1, 1]);
  assert.equal(attrInts(node, 'strides'), undefined);
  assert.equal(attrString(node, 'auto_pad', 'NOTSET'), 'VALID');
  assert.equal(attrString(node, 'mode', 'nearest'), 'nearest');
  assert.equal(attrFloat(node, 'alpha', 1), 0);
  assert.deepEqual(attrFloats(node, 'scales'), [2, 3]);
  const vi = onnx.ValueInfoProto.decode(onnx.ValueInfoProto.encode(makeValueInfo('v', 'float32', [0, 'n', null])).finish());
  assert.deepEqual(typeShape(vi.type), [0, 'n', null]);
  const m = onnx.ModelProto.decode(onnx.ModelProto.encode(sample()).finish());
  assert.equal(opsetVersionOf(m), 17);
  assert.equal(opsetVersionOf(m, 'com.microsoft'), undefined);
});
