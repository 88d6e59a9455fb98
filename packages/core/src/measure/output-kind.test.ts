import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { decideOutputKind, onnxFinalOp, onnxOutputKind } from './output-kind.js';

/** x -> Gemm -> [the given ops in a row] -> the output, over 4 features and 3 classes. */
function classifier(tail: Array<{ op: string; attrs?: Record<string, number> }>) {
  const nodes = [makeNode('Gemm', ['x', 'W', 'b'], ['v0'], undefined, { name: 'fc' })];
  tail.forEach((t, i) => nodes.push(makeNode(t.op, [`v${i}`], [`v${i + 1}`], t.attrs, { name: `${t.op.toLowerCase()}${i}` })));
  return makeModel(
    makeGraph({
      nodes,
      inputs: [makeValueInfo('x', 'float32', ['N', 4])],
      outputs: [makeValueInfo(`v${tail.length}`, 'float32', ['N', 3])],
      initializers: [
        makeTensor('W', 'float32', [4, 3], new Float32Array(12).fill(0.1)),
        makeTensor('b', 'float32', [3], new Float32Array(3)),
      ],
    }),
  );
}

const distributions = { values: new Float32Array([0.2, 0.3, 0.5, 1, 0, 0]), width: 3 };
const scores = { values: new Float32Array([2.5, -1, 0.3, 0.1, 0.2, 0.3]), width: 3 };

test('the final op decides when it can: Softmax -> probabilities; Gemm, MatMul+Add, LogSoftmax -> logits; Sigmoid -> probabilities', () => {
  const softmax = onnxOutputKind(classifier([{ op: 'Softmax' }]));
  assert.deepEqual([softmax.kind, softmax.by], ['probabilities', 'model']);
  assert.match(softmax.reason, /Softmax node \('softmax0'\)/);
  // Rows never overrule the graph: a Softmax's rows are distributions by construction, a Gemm's are scores.
  assert.equal(onnxOutputKind(classifier([{ op: 'Softmax', attrs: { axis: -1 } }]), scores).kind, 'probabilities');
  const gemm = onnxOutputKind(classifier([]), distributions);
  assert.deepEqual([gemm.kind, gemm.by], ['logits', 'model']);
  assert.match(gemm.reason, /Gemm node \('fc'\), which is linear: logits/);
  assert.equal(onnxOutputKind(classifier([{ op: 'LogSoftmax', attrs: { axis: 1 } }])).kind, 'logits');
  assert.equal(onnxOutputKind(classifier([{ op: 'Sigmoid' }])).kind, 'probabilities');
  const matmulAdd = makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['h']), makeNode('Add', ['h', 'b'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 4])],
      outputs: [makeValueInfo('y', 'float32', ['N', 3])],
      initializers: [makeTensor('W', 'float32', [4, 3], new Float32Array(12)), makeTensor('b', 'float32', [3], new Float32Array(3))],
    }),
  );
  assert.equal(onnxOutputKind(matmulAdd).kind, 'logits');
});

test('ops that settle nothing (Identity after Softmax, Relu, a Softmax over the batch) leave it to sample rows', () => {
  const identity = classifier([{ op: 'Softmax' }, { op: 'Identity' }]);
  assert.equal(onnxFinalOp(identity)?.activation, 'other');
  assert.deepEqual(onnxOutputKind(identity, distributions), {
    kind: 'probabilities',
    by: 'outputs',
    reason: 'every row is non-negative and sums to 1: probabilities',
  });
  assert.deepEqual(onnxOutputKind(identity, scores), {
    kind: 'logits',
    by: 'outputs',
    reason: 'rows are not probability distributions: logits',
  });
  assert.equal(onnxOutputKind(classifier([{ op: 'Relu' }]), scores).kind, 'logits');
  const overBatch = classifier([{ op: 'Softmax', attrs: { axis: 0 } }]);
  assert.equal(onnxFinalOp(overBatch)?.activation, 'other');
  assert.equal(onnxOutputKind(overBatch, scores).kind, 'logits');
  // Nothing to go on: logits, the guess that cannot ruin a model (probabilities trained as logits still learn).
  const guess = onnxOutputKind(identity);
  assert.deepEqual([guess.kind, guess.by], ['logits', 'assumed']);
  assert.match(guess.reason, /Identity node .* no outputs were sampled: assumed logits/);
  assert.equal(decideOutputKind(undefined).by, 'assumed');
});
