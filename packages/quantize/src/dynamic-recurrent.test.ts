// q8 of LSTM and GRU (issue #13): no default-domain integer kernel exists, so W and R are stored as int8
// codes per gate row and turned back to float by a Cast and a Mul (weight-only). Real onnxruntime; the
// recurrent op runs its float kernel on every CPU, so the tolerances hold on AVX2 and VNNI alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, Graph, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions, type onnx } from '@shrink/core';
import { createSession, tensorToFloat32 } from '@shrink/core/runtime';
import { quantizeDynamic } from './dynamic.js';
import { RECURRENT_WEIGHT_ONLY_NOTE } from './ops/dynamic-recurrent.js';
import { RECURRENT_SOURCE_NOTE } from './ops/recurrent-sources.js';
import { quantizeOptionsSchema } from './options.js';
import { lcgValues, relError } from './test-data.fixture.js';

const IN = 24;
const HIDDEN = 32;
const STEPS = 10;

/** x[STEPS, 1, IN] -> op (bidirectional, W, R, B constant; gate rows scaled differently, as trained gates are) -> Y, Y_h. */
function recurrent(op: 'LSTM' | 'GRU'): onnx.ModelProto {
  const gates = op === 'LSTM' ? 4 : 3;
  const rows = 2 * gates * HIDDEN;
  // One gate block per direction is 4x larger than the others: one scale per tensor would leave the others few codes.
  const scaled = (n: number, seed: number, k: number) => {
    const v = lcgValues(n, seed, 1 / Math.sqrt(k));
    for (let i = 0; i < n; i++) if (Math.floor(i / k / HIDDEN) % gates === 1) v[i]! *= 4;
    return v;
  };
  return makeModel(
    makeGraph({
      nodes: [makeNode(op, ['x', 'W', 'R', 'B'], ['Y', 'Y_h'], { hidden_size: HIDDEN, direction: 'bidirectional' }, { name: 'rnn' })],
      inputs: [makeValueInfo('x', 'float32', [STEPS, 1, IN])],
      outputs: [makeValueInfo('Y', 'float32', [STEPS, 2, 1, HIDDEN]), makeValueInfo('Y_h', 'float32', [2, 1, HIDDEN])],
      initializers: [
        makeTensor('W', 'float32', [2, gates * HIDDEN, IN], scaled(rows * IN, 1, IN)),
        makeTensor('R', 'float32', [2, gates * HIDDEN, HIDDEN], scaled(rows * HIDDEN, 2, HIDDEN)),
        makeTensor('B', 'float32', [2, 2 * gates * HIDDEN], lcgValues(2 * rows, 3, 0.1)),
      ],
    }),
    { opset: 14 },
  );
}

async function run(model: onnx.IModelProto): Promise<Float32Array[]> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run({ x: { data: lcgValues(STEPS * IN, 9), dims: [STEPS, 1, IN] } });
    return ['Y', 'Y_h'].map((n) => tensorToFloat32(out[n]!, n));
  } finally {
    await s.release();
  }
}

for (const op of ['LSTM', 'GRU'] as const) {
  test(`q8 ${op}: W and R become int8 codes with a scale per gate row (no zero point, no float copy), Y and Y_h within 1.5 % of float`, async () => {
    const model = recurrent(op);
    const before = encodeModel(model);
    const { model: q, report } = quantizeDynamic(model, parseOptions(quantizeOptionsSchema, { dtype: 'q8' }));
    const g = Graph.from(q);
    const gates = op === 'LSTM' ? 4 : 3;
    assert.equal(g.initializer('W_quantized')?.dataType, 3, 'W int8');
    assert.equal(g.initializer('R_quantized')?.dataType, 3, 'R int8');
    assert.deepEqual(g.shapeOf('W_scale'), [2 * gates * HIDDEN, 1], 'a scale per row of each direction');
    assert.deepEqual(g.shapeOf('R_scale'), [2 * gates * HIDDEN, 1]);
    assert.ok(!g.isInitializer('W') && !g.isInitializer('R') && !g.isInitializer('W_zero_point'), 'no float W/R, no zero point');
    assert.equal(g.initializer('B')?.dataType, 1, 'the bias stays float');
    const rnn = g.nodes.find((n) => n.opType === op)!;
    assert.equal(rnn.name, 'rnn', 'the op keeps its name');
    assert.equal(report.nodes[0]?.action, 'quantized');
    assert.ok(report.notes.includes(RECURRENT_WEIGHT_ONLY_NOTE));
    // int8 codes: 1/4 of the float bytes, plus a float scale per row and the float bias (measured 0.32x).
    const bytes = (m: onnx.IModelProto) => encodeModel(m).length;
    assert.ok(bytes(q) < 0.35 * bytes(model), `${bytes(q)} vs ${bytes(model)}`);
    const [want, got] = [await run(model), await run(q)];
    // Measured (Y, Y_h): LSTM 0.0044 / 0.0056, GRU 0.0038 / 0.0040: per-row int8 rounding only.
    for (let i = 0; i < 2; i++) assert.ok(relError(got[i]!, want[i]!) < 0.015, `output ${i}: ${relError(got[i]!, want[i]!)}`);
    assert.deepEqual(encodeModel(model), before, 'the input model is untouched');
  });
}

/**
 * As PyTorch exports an LSTM inside an If (silero VAD): W and R are Unsqueeze(Concat(Slice...)) of
 * [4H, K] constants of the main graph, reordering the gates inside the branch.
 */
function assembledInIf(): onnx.ModelProto {
  const gates = 4;
  const rows = gates * HIDDEN;
  const i64 = (name: string, v: number[]) => makeTensor(name, 'int64', [v.length], v);
  const branch = (tag: string): onnx.IGraphProto => {
    const nodes: onnx.NodeProto[] = [];
    const inits: onnx.TensorProto[] = [];
    for (const w of ['w_ih', 'w_hh']) {
      // Gate blocks [0, H), [3H, 4H), [H, 3H): PyTorch's i, f, g, o to ONNX's i, o, f, c order.
      const parts = [
        [0, HIDDEN],
        [3 * HIDDEN, rows],
        [HIDDEN, 3 * HIDDEN],
      ].map(([s, e], k) => {
        inits.push(i64(`${tag}${w}_s${k}`, [s!]), i64(`${tag}${w}_e${k}`, [e!]), i64(`${tag}${w}_a${k}`, [0]));
        nodes.push(makeNode('Slice', [w, `${tag}${w}_s${k}`, `${tag}${w}_e${k}`, `${tag}${w}_a${k}`], [`${tag}${w}_p${k}`]));
        return `${tag}${w}_p${k}`;
      });
      nodes.push(
        makeNode('Concat', parts, [`${tag}${w}_cat`], { axis: 0 }),
        makeNode('Unsqueeze', [`${tag}${w}_cat`, `${tag}axes`], [`${tag}${w}_3d`]),
      );
    }
    inits.push(i64(`${tag}axes`, [0]));
    nodes.push(
      makeNode('LSTM', ['x', `${tag}w_ih_3d`, `${tag}w_hh_3d`], [`${tag}Y`, `${tag}Y_h`], { hidden_size: HIDDEN }, { name: `${tag}lstm` }),
    );
    nodes.push(makeNode('Identity', [`${tag}Y_h`], [`${tag}out`]));
    return makeGraph({
      nodes,
      inputs: [],
      outputs: [makeValueInfo(`${tag}out`, 'float32', [1, 1, HIDDEN])],
      initializers: inits,
      name: tag,
    });
  };
  return makeModel(
    makeGraph({
      nodes: [makeNode('If', ['c'], ['Y_h'], { then_branch: branch('t_'), else_branch: branch('e_') }, { name: 'if' })],
      inputs: [makeValueInfo('x', 'float32', [STEPS, 1, IN]), makeValueInfo('c', 'bool', [])],
      outputs: [makeValueInfo('Y_h', 'float32', [1, 1, HIDDEN])],
      initializers: [
        makeTensor('w_ih', 'float32', [rows, IN], lcgValues(rows * IN, 4, 1 / Math.sqrt(IN))),
        makeTensor('w_hh', 'float32', [rows, HIDDEN], lcgValues(rows * HIDDEN, 5, 1 / Math.sqrt(HIDDEN))),
      ],
    }),
    { opset: 14 },
  );
}

test('q8 LSTM whose W and R are sliced and concatenated from constants in an If branch: the source constants become int8 codes per row + Cast + Mul, Y_h within 1.5 %', async () => {
  const model = assembledInIf();
  const { model: q, report } = quantizeDynamic(model, parseOptions(quantizeOptionsSchema, { dtype: 'q8' }));
  const g = Graph.from(q);
  assert.equal(g.initializer('w_ih_quantized')?.dataType, 3, 'w_ih int8');
  assert.equal(g.initializer('w_hh_quantized')?.dataType, 3, 'w_hh int8');
  assert.deepEqual(g.shapeOf('w_ih_scale'), [4 * HIDDEN, 1], 'a scale per row');
  assert.ok(!g.isInitializer('w_ih') && !g.isInitializer('w_hh'), 'no float copy');
  assert.ok(report.notes.includes(RECURRENT_SOURCE_NOTE));
  const x = { data: lcgValues(STEPS * IN, 9), dims: [STEPS, 1, IN] };
  for (const c of [true, false]) {
    const runOn = async (m: onnx.IModelProto) => {
      const s = await createSession(encodeModel(m));
      try {
        return tensorToFloat32((await s.run({ x, c: { data: new Uint8Array([c ? 1 : 0]), dims: [], type: 'bool' } }))['Y_h']!, 'Y_h');
      } finally {
        await s.release();
      }
    };
    const e = relError(await runOn(q), await runOn(model));
    // Measured: 0.0035 in both branches (they read the same constants): int8 rounding per row only.
    assert.ok(e < 0.015 && e > 0, `branch ${c}: relative L2 error ${e}`);
  }
});
