import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from './builder.js';
import { constantTensor } from './constant-tensor.js';
import { Graph } from './graph.js';
import { onnx } from './proto.js';
import { inferShapes } from './shapes.js';
import { makeTensor, readTensor } from './tensor.js';

/** One Constant node per attribute form, one of them spelled in the 'ai.onnx' domain. */
function constants(): onnx.ModelProto {
  const enc = new TextEncoder();
  const AT = onnx.AttributeProto.AttributeType;
  const stringAttr = (name: string, a: Partial<onnx.IAttributeProto>) => onnx.AttributeProto.create({ name, ...a });
  const nodes = [
    makeNode('Constant', [], ['t'], { value: makeTensor('t', 'float32', [2], [1.5, -2]) }),
    makeNode('Constant', [], ['f'], { value_float: attr.float(0.25) }),
    makeNode('Constant', [], ['fs'], { value_floats: attr.floats([1, 2, 3]) }),
    makeNode('Constant', [], ['i'], { value_int: 7 }, { domain: 'ai.onnx' }),
    makeNode('Constant', [], ['is'], { value_ints: [2 ** 53 - 1, -4] }),
    makeNode('Constant', [], ['s'], {}),
    makeNode('Constant', [], ['ss'], {}),
  ];
  nodes[5]!.attribute = [stringAttr('value_string', { type: AT.STRING, s: enc.encode('hi') })];
  nodes[6]!.attribute = [stringAttr('value_strings', { type: AT.STRINGS, strings: [enc.encode('a'), enc.encode('b')] })];
  return makeModel(
    makeGraph({ nodes, inputs: [], outputs: ['t', 'f', 'fs', 'i', 'is', 's', 'ss'].map((o) => makeValueInfo(o, 'float32')) }),
  );
}

test('constantTensor reads every attribute form of a Constant, in either spelling of the default domain', () => {
  const nodes = constants().graph!.node!;
  const values = nodes.map((n) => readTensor(constantTensor(n)!));
  assert.deepEqual(
    values.map((v) => [v.dtype, v.dims]),
    [
      ['float32', [2]],
      ['float32', []],
      ['float32', [3]],
      ['int64', []],
      ['int64', [2]],
      ['string', []],
      ['string', [2]],
    ],
  );
  assert.deepEqual([...values[0]!.data], [1.5, -2]);
  assert.deepEqual([...values[1]!.data], [0.25]);
  assert.deepEqual([...values[2]!.data], [1, 2, 3]);
  assert.deepEqual([...values[3]!.data], [7n]);
  assert.deepEqual([...values[4]!.data], [2n ** 53n - 1n, -4n], 'int64 values stay exact');
  assert.deepEqual(values[5]!.strings, ['hi']);
  assert.deepEqual(values[6]!.strings, ['a', 'b']);
  assert.equal(constantTensor(makeNode('Identity', ['t'], ['u'])), undefined);
  assert.equal(constantTensor(makeNode('Constant', [], ['c'], { value_float: attr.float(1) }, { domain: 'custom' })), undefined);
});

test('Graph and inferShapes see Constant values through the same reader', () => {
  const model = constants();
  const g = Graph.from(model);
  assert.deepEqual([...g.constantValue('i')!.data], [7n], "a Constant in 'ai.onnx' is a constant");
  assert.equal(g.dtypeOf('fs'), 'float32');
  assert.deepEqual(g.shapeOf('is'), [2]);
  assert.deepEqual(g.constantValue('ss')!.strings, ['a', 'b']);
  const shapes = inferShapes(model);
  assert.deepEqual(
    ['t', 'f', 'fs', 'i', 'is'].map((n) => shapes.get(n)),
    [[2], [], [3], [], [2]],
  );
});
