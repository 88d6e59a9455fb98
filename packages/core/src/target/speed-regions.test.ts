import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGraph, makeNode, makeValueInfo } from '../onnx/builder.js';
import { attributeKernels, judgeRegions, speedRegions, type SpeedRegion } from './speed-regions.js';

const io = (names: string[]) => names.map((n) => makeValueInfo(n, 'float32', [1, 4]));

// fc1: Gemm + Relu in the float model; in the output, the Gemm became DynamicQuantizeLinear ->
// MatMulInteger -> Cast -> Mul (the Relu is the same node in both); logits: an unchanged Gemm.
const float = makeGraph({
  nodes: [
    makeNode('Gemm', ['x', 'w1', 'b1'], ['h'], {}, { name: 'fc1/Gemm' }),
    makeNode('Relu', ['h'], ['r'], {}, { name: 'fc1/Relu' }),
    makeNode('Gemm', ['r', 'w2', 'b2'], ['y'], {}, { name: 'logits/Gemm' }),
  ],
  inputs: io(['x']),
  outputs: io(['y']),
});
const candidate = makeGraph({
  nodes: [
    makeNode('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz'], {}, { name: 'x_QuantizeLinear' }),
    makeNode('MatMulInteger', ['xq', 'w1q', 'xz'], ['hi'], {}, { name: 'fc1/Gemm_quant' }),
    makeNode('Cast', ['hi'], ['hf'], { to: 1 }, { name: 'fc1/Gemm_cast' }),
    makeNode('Mul', ['hf', 'xs'], ['h'], {}, { name: 'fc1/Gemm_scale' }),
    makeNode('Relu', ['h'], ['r'], {}, { name: 'fc1/Relu' }),
    makeNode('Gemm', ['r', 'w2', 'b2'], ['y'], {}, { name: 'logits/Gemm' }),
  ],
  inputs: io(['x']),
  outputs: io(['y']),
});

test("attributeKernels ties onnxruntime's kernel names to nodes: fused, suffixed, tensor-named; the rest is unattributed", () => {
  const g = makeGraph({
    nodes: [
      makeNode('Conv', ['x', 'w'], ['c:0'], {}, { name: 'conv1/Conv' }),
      makeNode('Relu', ['c:0'], ['conv1/Relu:0'], {}, { name: 'conv1/Relu' }),
      makeNode('Gemm', ['conv1/Relu:0', 'w2'], ['y'], {}, { name: 'fc1/Gemm' }),
    ],
    inputs: io(['x']),
    outputs: io(['y']),
  });
  const { byNode, unattributed } = attributeKernels(g, [
    { name: 'conv1/Relu:0_nchwc', perRun: [10, 12] },
    { name: 'fused fc1/Gemm', perRun: [3, 3] },
    { name: 'fc1/Gemm_token_7', perRun: [1, 1] },
    { name: 'ReorderOutput', perRun: [2, 4] },
  ]);
  assert.deepEqual(byNode.get('conv1/Relu'), [10, 12]);
  assert.deepEqual(byNode.get('fc1/Gemm'), [4, 4]);
  assert.equal(byNode.has('conv1/Conv'), false);
  assert.equal(unattributed, 3);
});

test('speedRegions: changed nodes of both graphs sharing tensors form one region, with the activation fused after them', () => {
  const r = speedRegions(
    float,
    candidate,
    [
      { name: 'fused fc1/Gemm', perRun: [10, 10, 10, 10] },
      { name: 'logits/Gemm', perRun: [5, 5, 5, 5] },
    ],
    [
      { name: 'fc1/Gemm_quant', perRun: [12, 12, 12, 12] },
      { name: 'fc1/Relu', perRun: [3, 3, 3, 3] },
      { name: 'x_QuantizeLinear', perRun: [1, 1, 1, 1] },
      { name: 'logits/Gemm', perRun: [5, 5, 5, 5] },
    ],
    [{ name: 'fc1/Gemm' }],
  );
  assert.equal(r.regions.length, 1, 'the unchanged logits/Gemm is in no region');
  const [g] = r.regions;
  assert.deepEqual(g!.changed, ['fc1/Gemm']);
  assert.deepEqual([...g!.floatNodes].sort(), ['fc1/Gemm', 'fc1/Relu']);
  assert.deepEqual([...g!.candidateNodes].sort(), ['fc1/Gemm_cast', 'fc1/Gemm_quant', 'fc1/Gemm_scale', 'fc1/Relu', 'x_QuantizeLinear']);
  // The float side's Relu cost nothing of its own (fused); the output's runs alone.
  assert.deepEqual(g!.floatRuns, [10, 10, 10, 10]);
  assert.deepEqual(g!.candidateRuns, [16, 16, 16, 16]);
  const [v] = judgeRegions(r.regions);
  assert.equal(v!.slower, true);
  assert.equal(v!.ratio, 1.6);
});

const region = (floatRuns: number[], candidateRuns: number[]): SpeedRegion => ({
  changed: ['n'],
  floatNodes: ['n'],
  candidateNodes: ['n_quant'],
  floatRuns,
  candidateRuns,
});

test('judgeRegions: slower only when most paired runs, the median ratio and the median difference all say so', () => {
  const [clear, noisy, faster, tiny, fusedAway] = judgeRegions([
    region([10, 11, 10, 12, 10, 11, 10, 10], [14, 15, 13, 16, 14, 15, 14, 13]),
    // Alternating winners: noise, not a slowdown.
    region([10, 12, 10, 12, 10, 12, 10, 12], [12, 10, 12, 10, 12, 10, 12, 10]),
    region([20, 20, 21, 22, 20, 20, 21, 20], [9, 10, 9, 9, 10, 9, 9, 9]),
    // 1.25x, but 0.25 µs: below what the profiler resolves.
    region([1, 1, 1, 1], [1.25, 1.25, 1.25, 1.25]),
    region([0, 0, 0, 0], [5, 5, 5, 5]),
  ]);
  assert.equal(clear!.slower, true);
  assert.equal(noisy!.slower, false);
  assert.equal(faster!.slower, false);
  assert.ok(faster!.ratio < 0.5);
  assert.equal(tiny!.slower, false);
  assert.equal(fusedAway!.slower, true, 'a region the float graph fused away costs nothing there');
});
