import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from './builder.js';
import { elemTypes, inferDtypes } from './elem-types.js';
import { Graph } from './graph.js';
import { onnx } from './proto.js';
import { makeTensor } from './tensor.js';

const T = onnx.TensorProto.DataType;

test('element types: declarations first, then op rules (default domain however spelled), else the first typed input', () => {
  const body = makeGraph({
    name: 'body',
    nodes: [makeNode('Identity', ['x'], ['bo'])],
    inputs: [],
    outputs: [makeValueInfo('bo', 'float32', [2])],
  });
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Shape', ['x'], ['shape']),
        makeNode('Cast', ['shape'], ['shape_f'], { to: T.FLOAT16 }),
        makeNode('Equal', ['x', 'x'], ['eq'], {}, { domain: 'ai.onnx' }),
        makeNode('Constant', [], ['k'], { value_ints: [1, 2] }, { domain: 'ai.onnx' }),
        makeNode('Constant', [], ['kf'], { value_float: attr.float(2) }),
        makeNode('TopK', ['x', 'k'], ['top', 'idx']),
        makeNode('QuantizeLinear', ['x', 'sc', 'zp'], ['xq']),
        makeNode('DequantizeLinear', ['xq', 'sc', 'zp'], ['xdq']),
        makeNode('NonMaxSuppression', ['x', 'x'], ['sel']),
        makeNode('If', ['eq'], ['branch'], { then_branch: body, else_branch: body }),
        makeNode('Mystery', ['i4', 'x'], ['m'], {}, { domain: 'custom' }),
        makeNode('Relu', ['x'], ['declared']),
      ],
      inputs: [makeValueInfo('x', 'float32', [2])],
      outputs: [makeValueInfo('top', 'float32'), makeValueInfo('declared', 'float64')],
      initializers: [
        makeTensor('sc', 'float32', [], [0.1]),
        makeTensor('zp', 'int8', [], [0]),
        onnx.TensorProto.create({ name: 'i4', dataType: 22, dims: [2], rawData: new Uint8Array([0x21]) }),
      ],
    }),
  );
  const codes = elemTypes(model.graph!);
  const expect: Record<string, number> = {
    shape: T.INT64,
    shape_f: T.FLOAT16,
    eq: T.BOOL,
    k: T.INT64,
    kf: T.FLOAT,
    top: T.FLOAT,
    idx: T.INT64,
    xq: T.INT8,
    xdq: T.FLOAT,
    sel: T.INT64,
    branch: T.FLOAT,
    m: 22,
    declared: T.DOUBLE,
  };
  for (const [name, code] of Object.entries(expect)) assert.equal(codes.get(name), code, name);
  const dtypes = inferDtypes(Graph.from(model));
  assert.equal(dtypes.get('shape_f'), 'float16');
  assert.equal(dtypes.get('xq'), 'int8');
  assert.equal(dtypes.has('m'), false, 'INT4 is not a DType: left out, not guessed');
  assert.equal(dtypes.get('declared'), 'float64', 'a declared type wins over the rule');
});
