// A Gather whose data is computed at run time (Shape -> Gather, as every PyTorch export picks dims) holds
// no weight: it is not a candidate, so not counted in "N of M candidate nodes quantized".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { isCandidate, quantizeNotes } from './pass.js';
import { quantizeModel } from './runtime/quantize-model.js';
import { lcgValues } from './test-data.fixture.js';

test('q8: Shape -> Gather index ops are not candidates; the weight MatMul and the embedding table are', async () => {
  const model = makeModel(
    makeGraph({
      name: 'dims',
      nodes: [
        makeNode('Gather', ['table', 'ids'], ['emb'], {}, { name: 'embed' }),
        makeNode('MatMul', ['emb', 'W'], ['y'], {}, { name: 'mm' }),
        makeNode('Shape', ['y'], ['shape'], {}, { name: 'shape' }),
        makeNode('Gather', ['shape', 'zero'], ['batch'], { axis: 0 }, { name: 'pick_batch' }),
      ],
      inputs: [makeValueInfo('ids', 'int64', [2, 5])],
      outputs: [makeValueInfo('y', 'float32', [2, 5, 32]), makeValueInfo('batch', 'int64', [])],
      initializers: [
        makeTensor('table', 'float32', [100, 64], lcgValues(100 * 64, 1, 1)),
        makeTensor('W', 'float32', [64, 32], lcgValues(64 * 32, 2, 0.2)),
        makeTensor('zero', 'int64', [], new BigInt64Array([0n])),
      ],
    }),
    { opset: 17 },
  );
  const r = await quantizeModel(model, { dtype: 'q8' });
  const row = r.report.nodes.find((n) => n.name === 'pick_batch');
  assert.ok(row && row.action !== 'quantized', 'the index Gather keeps its row (with its reason) for --json');
  assert.equal(isCandidate(row), false);
  assert.deepEqual(
    r.report.nodes.filter(isCandidate).map((n) => [n.name, n.action]),
    [
      ['embed', 'quantized'],
      ['mm', 'quantized'],
    ],
  );
  assert.match(quantizeNotes(r.report, {}, {})[0]!, /^q8 dynamic: 2 of 2 candidate nodes quantized$/);
});
