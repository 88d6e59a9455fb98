import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from './builder.js';
import { onnx } from './proto.js';
import { readTensor } from './tensor.js';
import { withSubgraphs, type BodyScope } from './with-subgraphs.js';

/** If(flag) with then: x + A (A read by then only), else: x + B (B read by else and by an outer Identity); S read by both. */
function model(): onnx.ModelProto {
  const branch = (name: string, w: string) =>
    makeGraph({
      name,
      nodes: [
        makeNode('Add', ['x', w], [`${name}_a`], {}, { name: `${name}_add` }),
        makeNode('Mul', [`${name}_a`, 'S'], [`${name}_y`], {}, { name: `${name}_mul` }),
      ],
      inputs: [],
      outputs: [makeValueInfo(`${name}_y`, 'float32', [4])],
    });
  return makeModel(
    makeGraph({
      name: 'g',
      nodes: [
        makeNode(
          'If',
          ['flag'],
          ['y'],
          { then_branch: attr.graph(branch('then', 'A')), else_branch: attr.graph(branch('else', 'B')) },
          { name: 'if' },
        ),
        makeNode('Identity', ['B'], ['b_out'], {}, { name: 'outer_id' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [4]), makeValueInfo('flag', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', [4]), makeValueInfo('b_out', 'float32', [4])],
      initializers: [
        makeTensor('A', 'float32', [4], [1, 2, 3, 4]),
        makeTensor('B', 'float32', [4], [5, 6, 7, 8]),
        makeTensor('S', 'float32', [4], [2, 2, 2, 2]),
      ],
    }),
    { opset: 17 },
  );
}

const names = (ts: onnx.ITensorProto[] | null | undefined) => (ts ?? []).map((t) => t.name ?? '').sort();
const bodyOf = (m: onnx.IModelProto, a: string) => m.graph!.node![0]!.attribute!.find((x) => x.name === a)!.g!;

test('a pass that changes nothing: a weight read by one body moves in, one read by both bodies goes back out under its name', () => {
  const scopes: BodyScope[] = [];
  const r = withSubgraphs(
    model(),
    (m) => ({ model: onnx.ModelProto.create(m) }),
    (_b, s) => scopes.push(s),
  );
  assert.deepEqual(names(r.model.graph!.initializer), ['B', 'S']);
  assert.deepEqual(names(bodyOf(r.model, 'then_branch').initializer), ['A']);
  assert.deepEqual(names(bodyOf(r.model, 'else_branch').initializer), []);
  assert.deepEqual(scopes.map((s) => [s.where, [...s.outerWeights]]).sort(), [
    ['if/else_branch/', ['B']],
    ['if/then_branch/', []],
  ]);
});

test('each body rewrites its copy of a shared weight alike: the result is stored once, outside, and both bodies read it', () => {
  // Doubles every float initializer of the graph it sees, under a new name (as a quantizer writes codes).
  const pass = (m: onnx.IModelProto) => {
    const g = onnx.GraphProto.create(m.graph!);
    const renamed = new Map<string, string>();
    g.initializer = g.initializer.map((t) => {
      const v = readTensor(t).data as Float32Array;
      const name = `${t.name}_x2${m.graph!.valueInfo?.some((i) => i.name === `${t.name}_x2`) ? '_1' : ''}`;
      renamed.set(t.name ?? '', name);
      return makeTensor(
        name,
        'float32',
        readTensor(t).dims,
        Array.from(v, (x) => 2 * x),
      );
    });
    for (const n of g.node) n.input = (n.input ?? []).map((i) => renamed.get(i) ?? i);
    return { model: onnx.ModelProto.create({ ...m, graph: g }) };
  };
  const top = model();
  top.graph!.node!.pop(); // B is the else branch's own now; only S is shared
  top.graph!.output!.pop();
  const r = withSubgraphs(
    top,
    (m) => (m === top ? { model: onnx.ModelProto.create(m) } : pass(m)),
    () => {},
  );
  assert.deepEqual(names(r.model.graph!.initializer), ['S_x2']);
  for (const b of ['then_branch', 'else_branch']) {
    const body = bodyOf(r.model, b);
    assert.ok(!names(body.initializer).some((n) => n.startsWith('S')), `${b}: ${names(body.initializer).join(', ')}`);
    assert.ok(
      (body.node ?? []).some((n) => (n.input ?? []).includes('S_x2')),
      `${b} reads S_x2`,
    );
  }
  assert.deepEqual(Array.from(readTensor(r.model.graph!.initializer![0]!).data as Float32Array), [4, 4, 4, 4]);
});
