import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, onnx, readTensor, subgraphsOf } from '@shrink/core';
import { createSession, type FeedTensor } from '@shrink/core/runtime';
import { pruneMagnitude } from './magnitude.js';
import { pruneNM } from './nm.js';
import { pruneOptionsSchema, type PruneOptions } from './options.js';
import { randn, zerosOf } from './unstructured.fixture.js';

const D = 16;
const H = 8;

/**
 * y = If(flag, then: x W_t + x W_s, else: x W_s), W_t the then branch's own, W_s an outer weight both
 * branches read; z = Loop 2 trips of h <- tanh(h W_loop) on y's width, W_loop read only by the body.
 */
function controlFlowModel(): onnx.ModelProto {
  const thenG = makeGraph({
    name: 'then',
    nodes: [
      makeNode('MatMul', ['x', 'W_t'], ['t1'], {}, { name: 'mm_t' }),
      makeNode('MatMul', ['x', 'W_s'], ['t2'], {}, { name: 'mm_s' }),
      makeNode('Add', ['t1', 't2'], ['yt'], {}, { name: 'add_t' }),
    ],
    inputs: [],
    outputs: [makeValueInfo('yt', 'float32', [2, H])],
    initializers: [makeTensor('W_t', 'float32', [D, H], randn(1, D * H))],
  });
  const elseG = makeGraph({
    name: 'else',
    nodes: [makeNode('MatMul', ['x', 'W_s'], ['ye'], {}, { name: 'mm_s_else' })],
    inputs: [],
    outputs: [makeValueInfo('ye', 'float32', [2, H])],
  });
  const body = makeGraph({
    name: 'body',
    nodes: [
      makeNode('Identity', ['cond_in'], ['cond_out'], {}, { name: 'keep_going' }),
      makeNode('MatMul', ['h', 'W_loop'], ['m'], {}, { name: 'loop_mm' }),
      makeNode('Tanh', ['m'], ['h_out'], {}, { name: 'loop_tanh' }),
    ],
    inputs: [makeValueInfo('i', 'int64', []), makeValueInfo('cond_in', 'bool', []), makeValueInfo('h', 'float32', [2, H])],
    outputs: [makeValueInfo('cond_out', 'bool', []), makeValueInfo('h_out', 'float32', [2, H])],
  });
  return makeModel(
    makeGraph({
      name: 'cf',
      nodes: [
        makeNode('If', ['flag'], ['y'], { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) }, { name: 'branch' }),
        makeNode('Loop', ['trips', '', 'y'], ['z'], { body: attr.graph(body) }, { name: 'loop' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, D]), makeValueInfo('flag', 'bool', [])],
      outputs: [makeValueInfo('z', 'float32', [2, H])],
      initializers: [
        makeTensor('W_s', 'float32', [D, H], randn(2, D * H)),
        makeTensor('trips', 'int64', [], [2]),
        makeTensor('W_loop', 'float32', [H, H], randn(3, H * H, 0.5)),
      ],
    }),
    { opset: 17 },
  );
}

/** Float32 initializers anywhere in the model, by name, with the graph holding each. */
function weights(g: onnx.IGraphProto, into = new Map<string, { t: onnx.ITensorProto; in: string }>()) {
  for (const t of g.initializer ?? []) if (t.dataType === 1) into.set(t.name ?? '', { t, in: g.name ?? '' });
  for (const n of g.node ?? []) for (const s of subgraphsOf(n)) weights(s, into);
  return into;
}

async function run(model: onnx.IModelProto, flag: boolean): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    const feeds: Record<string, FeedTensor> = {
      x: { data: randn(9, 2 * D), dims: [2, D] },
      flag: { data: Uint8Array.of(flag ? 1 : 0), dims: [], type: 'bool' },
    };
    return (await s.run(feeds))['z']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** The original model with each weight replaced by the pruned model's tensor of that name: what the pruned model must compute. */
function withWeightsOf(original: onnx.IModelProto, pruned: onnx.IModelProto): onnx.ModelProto {
  const copy = onnx.ModelProto.decode(encodeModel(original));
  const by = weights(pruned.graph!);
  const swap = (g: onnx.IGraphProto): void => {
    g.initializer = (g.initializer ?? []).map((t) => (by.has(t.name ?? '') ? by.get(t.name ?? '')!.t : t));
    for (const n of g.node ?? []) subgraphsOf(n).forEach(swap);
  };
  swap(copy.graph!);
  return copy;
}

const opts = (o: PruneOptions) => pruneOptionsSchema.parse(o);

for (const [label, prune, check] of [
  [
    'magnitude 0.5',
    (m: onnx.IModelProto) => pruneMagnitude(m, opts({ method: 'magnitude', sparsity: 0.5 })),
    (v: Float32Array) => zerosOf(v) === v.length / 2,
  ],
  [
    'N:M 2:4',
    (m: onnx.IModelProto) => pruneNM(m, opts({ method: 'nm', n: 2, m: 4 })),
    // Every run of 4 along K (axis 0 of a MatMul's B [K, N]) keeps 2.
    (v: Float32Array, dims: number[]) => {
      const [k, n] = dims as [number, number];
      for (let c = 0; c < n; c++)
        for (let g = 0; g < k; g += 4) if ([0, 1, 2, 3].filter((r) => v[(g + r) * n + c] === 0).length !== 2) return false;
      return true;
    },
  ],
] as const) {
  test(`${label}: weights inside If branches and a Loop body are pruned; a weight both branches read is pruned once and stays shared; onnxruntime runs it`, async () => {
    const model = controlFlowModel();
    const r = prune(model);
    assert.deepEqual(r.report.layers.map((l) => [l.name, l.action]).sort(), [
      ['branch/else_branch/mm_s_else', 'pruned'],
      ['branch/then_branch/mm_s', 'pruned'],
      ['branch/then_branch/mm_t', 'pruned'],
      ['loop/body/loop_mm', 'pruned'],
    ]);
    const w = weights(r.model.graph!);
    assert.deepEqual([...w.keys()].sort(), ['W_loop', 'W_s', 'W_t']);
    assert.equal(w.get('W_s')!.in, 'cf', 'W_s stays one tensor in the outer graph');
    for (const [name, { t }] of w) {
      const v = readTensor(t);
      assert.ok(check(v.data as Float32Array, v.dims), `${name}: zeros ${zerosOf(v.data as Float32Array)} of ${v.data.length}`);
    }
    assert.ok(Math.abs(r.report.sparsity - 0.5) < 1e-9, `sparsity ${r.report.sparsity}`);
    for (const flag of [true, false]) {
      const [got, want, before] = [await run(r.model, flag), await run(withWeightsOf(model, r.model), flag), await run(model, flag)];
      assert.deepEqual(Array.from(got), Array.from(want), `flag=${flag}: the pruned model computes with its pruned weights`);
      assert.notDeepEqual(Array.from(got), Array.from(before), `flag=${flag}: and they differ from the original's`);
    }
  });
}
