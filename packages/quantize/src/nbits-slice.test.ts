// Learned positions sliced by row (GPT-2's wpe[p : p + t]) -> GatherBlockQuantized over the rows Slice
// would take, run in onnxruntime for bounds in range, past the end, negative and empty, int32 and int64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions, type onnx } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { quantizeOptionsSchema } from './options.js';
import { quantizeWeightOnly } from './nbits.js';
import { dequantizeBlockwise, quantizeBlockwise } from './ops/nbits-blocks.js';
import { lcgValues } from './test-data.fixture.js';

const V = 24;
const D = 64;
const P = lcgValues(V * D, 5, 0.3);

/** starts, ends [1] -> Slice(P [V, D], starts, ends, axes [0]) -> rows. */
function positions(boundType: 'int32' | 'int64', withAxes = true, opset = 17): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'wpe',
      nodes: [makeNode('Slice', ['P', 'starts', 'ends', ...(withAxes ? ['axes'] : [])], ['rows'], {}, { name: 'take' })],
      inputs: [makeValueInfo('starts', boundType, [1]), makeValueInfo('ends', boundType, [1])],
      outputs: [makeValueInfo('rows', 'float32', ['t', D])],
      initializers: [
        makeTensor('P', 'float32', [V, D], P),
        boundType === 'int64'
          ? makeTensor('axes', 'int64', [1], new BigInt64Array([0n]))
          : makeTensor('axes', 'int32', [1], new Int32Array([0])),
      ],
    }),
    { opset },
  );
}

const q4 = () => ({ ...parseOptions(quantizeOptionsSchema, { dtype: 'q4' }), bits: 4 as const });

async function slice(
  model: onnx.IModelProto,
  type: 'int32' | 'int64',
  s: number,
  e: number,
): Promise<{ dims: readonly number[]; data: Float32Array }> {
  const sess = await createSession(encodeModel(model));
  try {
    const bound = (v: number) => ({ data: type === 'int64' ? new BigInt64Array([BigInt(v)]) : new Int32Array([v]), dims: [1] });
    const out = (await sess.run({ starts: bound(s), ends: bound(e) }))['rows']!;
    return { dims: out.dims, data: out.data as Float32Array };
  } finally {
    await sess.release();
  }
}

test('a row Slice of a float table reads GatherBlockQuantized rows, exactly the dequantized table sliced as Slice would', async () => {
  // The table as blocks along D: planned as P^T [K = D, N = V], rows are columns.
  const pt = new Float32Array(D * V);
  for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) pt[d * V + v] = P[v * D + d]!;
  const deq = dequantizeBlockwise(quantizeBlockwise(pt, D, V, { bits: 4, blockSize: 32, symmetric: true }));
  for (const type of ['int64', 'int32'] as const) {
    const model = positions(type);
    const r = quantizeWeightOnly(model, q4());
    assert.ok(r.model.graph!.node!.some((n) => n.opType === 'GatherBlockQuantized'));
    assert.ok(!r.model.graph!.node!.some((n) => n.opType === 'Slice'));
    assert.ok(!r.model.graph!.initializer!.some((t) => t.name === 'P'), 'the float table is gone');
    for (const [s, e] of [
      [0, 5],
      [3, 9],
      [20, 100],
      [-4, V],
      [-100, 2],
      [7, 7],
      [9, 3],
      [0, -1],
    ] as const) {
      const want = await slice(model, type, s, e);
      const got = await slice(r.model, type, s, e);
      assert.deepEqual(got.dims, want.dims, `${type} [${s}, ${e})`);
      // Slice's own rows of the float table, to check which rows were taken; the values are the dequantized ones.
      const from = want.data.length ? Math.round(P.indexOf(want.data[0]!) / D) : 0;
      for (let i = 0; i < got.data.length; i++) {
        const row = from + Math.floor(i / D);
        assert.equal(got.data[i], deq[(i % D) * V + row], `${type} [${s}, ${e}) element ${i}`);
      }
    }
  }
});

test('Slices that are not row lookups of a float table stay as they are', () => {
  const noAxes = quantizeWeightOnly(positions('int64', false), q4());
  // starts is a graph input of shape [1]: one value, rows only, so it is still a lookup.
  assert.ok(noAxes.model.graph!.node!.some((n) => n.opType === 'GatherBlockQuantized'));
  const old = quantizeWeightOnly(positions('int64', true, 11), q4());
  assert.ok(old.model.graph!.node!.some((n) => n.opType === 'Slice'));
  assert.match(old.report.nodes.find((n) => n.opType === 'Slice')?.reason ?? '', /needs opset 12/);
});
