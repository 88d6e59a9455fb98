import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { attr, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { decodeModel } from '../onnx/codec.js';
import { modelInfo } from './model-info.js';
import { modelInfoRows } from './model-info-rows.js';

const table = (rows: ReturnType<typeof modelInfoRows>) => Object.fromEntries(rows.map((r) => [r.label, r.value]));

/**
 * x[batch, 4] · dequantized int8 W[4, 3] (one code zero), then If(flag): then adds a body-held T, else
 * passes the product on. So every optional row has something to say.
 */
function builtModel() {
  const branch = (name: string, nodes: ReturnType<typeof makeNode>[], initializers: ReturnType<typeof makeTensor>[]) =>
    makeGraph({ name, nodes, inputs: [], outputs: [makeValueInfo(`${name}_y`, 'float32', ['batch', 3])], initializers });
  const then = branch('then', [makeNode('Add', ['h', 'T'], ['then_y'])], [makeTensor('T', 'float32', [3], [0, 1, 2])]);
  const otherwise = branch('else', [makeNode('Identity', ['h'], ['else_y'])], []);
  return makeModel(
    makeGraph({
      name: 'g',
      nodes: [
        makeNode('DequantizeLinear', ['Wq', 'Ws', 'Wz'], ['W'], {}, { name: 'dq' }),
        makeNode('MatMul', ['x', 'W'], ['h'], {}, { name: 'mm' }),
        makeNode('If', ['flag'], ['y'], { then_branch: attr.graph(then), else_branch: attr.graph(otherwise) }, { name: 'if' }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['batch', 4]), makeValueInfo('flag', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', ['batch', 3])],
      initializers: [
        makeTensor('Wq', 'int8', [4, 3], [1, -2, 3, 0, 5, -6, 7, 8, -9, 10, 11, 12]),
        makeTensor('Ws', 'float32', [], [0.1]),
        makeTensor('Wz', 'int8', [], [0]),
      ],
    }),
    { opset: 17, producerName: 'unit', producerVersion: '1' },
  );
}

test('modelInfoRows of a built model: every row the CLI prints, the quantized-weight and subgraph rows included', () => {
  const info = modelInfo(builtModel(), { sizeBytes: 2048, gzipBytes: 1024 });
  const rows = modelInfoRows(info, { name: 'built.onnx', format: 'onnx' });
  assert.deepEqual(
    rows.map((r) => r.label),
    ['model', 'opsets', 'inputs', 'outputs', 'parameters', 'params by dtype', 'quantized weights', 'subgraphs', 'size', 'MACs', 'ops'],
  );
  const t = table(rows);
  assert.equal(t.model, 'built.onnx (onnx, IR 8, unit 1)');
  assert.equal(t.opsets, 'ai.onnx 17');
  assert.equal(t.inputs, 'x: float32 [batch, 4]\nflag: bool []');
  assert.equal(t.outputs, 'y: float32 [batch, 3]');
  // 12 int8 codes (one zero) + T's 3 floats (one zero); the scale and zero point are not parameters.
  assert.equal(t.parameters, '15 (non-zero 13)');
  assert.equal(t['params by dtype'], 'int8 12, float32 3');
  assert.equal(t['quantized weights'], '1 QDQ (int8); 2 scales and zero points (not parameters)');
  assert.equal(t.subgraphs, '2 (If/Loop/Scan bodies): 3 parameters in 1 stored tensors');
  assert.equal(t.size, '2.05 KB (gzip 1.02 KB)');
  // One sample's x[1, 4] · W[4, 3]: 12 multiply-accumulates.
  assert.match(t.MACs!, /^12: /);
  assert.equal(t.ops, 'DequantizeLinear x1, MatMul x1, If x1');
});

test('modelInfoRows of a real PyTorch export, as the page shows it: no format, no gzip, no rows with nothing to say', () => {
  const bytes = readFileSync(new URL('../opset/fixtures/cnn-opset7.onnx', import.meta.url));
  const rows = modelInfoRows(modelInfo(decodeModel(new Uint8Array(bytes)), { sizeBytes: bytes.length }), { name: 'cnn-opset7.onnx' });
  assert.deepEqual(
    rows.map((r) => r.label),
    ['model', 'opsets', 'inputs', 'outputs', 'parameters', 'params by dtype', 'size', 'MACs', 'ops'],
  );
  const t = table(rows);
  assert.equal(t.model, 'cnn-opset7.onnx (IR 3, pytorch 1.13.0)');
  assert.equal(t.inputs, 'x: float32 [1, 3, 8, 8]');
  assert.equal(t.outputs!.split('\n').length, 6);
  assert.equal(t.parameters, '930 (non-zero 922)');
  assert.equal(t.size, '6.90 KB');
  assert.equal(t.MACs, '50.8 k: MatMul/Gemm/Conv per sample at x [1, 3, 8, 8]');
  assert.match(t.ops!, /^Conv x2, Clip x1, /);
});
