// q8's Conv formats (issue #13): weight-only by default (int8 codes, float compute), ConvInteger when
// asked. Real onnxruntime. ConvInteger here has uint8 weights (u8u8 kernels) and weight-only Convs run
// the float kernels, so neither can saturate int16 pair sums: the tolerances hold on AVX2 and VNNI alike.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { attrInt, decodeModel, encodeModel, Graph, parseOptions, type onnx } from '@shrink/core';
import { createSession, tensorToFloat32, type Feeds } from '@shrink/core/runtime';
import { quantizeDynamic } from './dynamic.js';
import { convertToFloat16 } from './fp16.js';
import { DEEP_CHANNELS, DEEP_LAYERS, deepConvChain } from './fixtures/deep-conv-chain.fixture.js';
import { CONV_WEIGHT_ONLY_NOTE } from './ops/dynamic-conv-weight-only.js';
import { quantizeOptionsSchema, type QuantizeOptions } from './options.js';
import { lcgValues, relError } from './test-data.fixture.js';

const castTo = (n: onnx.NodeProto) => attrInt(n, 'to', 0);
const opts = (o: QuantizeOptions = {}) => parseOptions(quantizeOptionsSchema, o);
const OUTPUTS = ['side', 'y'] as const;
const x = { data: lcgValues(2 * DEEP_CHANNELS * 144, 7).map(Math.abs), dims: [2, DEEP_CHANNELS, 12, 12] };

async function run(model: onnx.IModelProto, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(OUTPUTS.map((n) => [n, tensorToFloat32(out[n]!, n)]));
  } finally {
    await s.release();
  }
}

/** Relative L2 error of each output against the float model's. */
async function errors(model: onnx.IModelProto, ref: Record<string, Float32Array>): Promise<Record<string, number>> {
  const got = await run(model, { x });
  return Object.fromEntries(OUTPUTS.map((n) => [n, relError(got[n]!, ref[n]!)]));
}

test('q8 Conv by default: int8 codes per output channel, no zero point, Cast and Mul into the unchanged Conv; every output of a deep chain within 4 %, ConvInteger over twice as far off', async () => {
  const model = deepConvChain();
  const before = encodeModel(model);
  const ref = await run(model, { x });
  const { model: q, report } = quantizeDynamic(model, opts({ dtype: 'q8' }));
  const g = Graph.from(q);
  const count = (op: string) => g.nodes.filter((n) => n.opType === op).length;
  assert.deepEqual(
    [count('Conv'), count('Cast'), count('Mul'), count('ConvInteger'), count('DynamicQuantizeLinear')],
    [DEEP_LAYERS, DEEP_LAYERS, DEEP_LAYERS, 0, 0],
  );
  const convNames = g.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name);
  assert.deepEqual(
    convNames,
    Array.from({ length: DEEP_LAYERS }, (_, l) => `conv${l}`),
    'each Conv keeps its name',
  );
  const codes = g.initializer('w0_quantized')!;
  assert.equal(codes.dataType, 3, 'int8');
  assert.deepEqual(g.shapeOf('w0_scale'), [DEEP_CHANNELS, 1, 1, 1]);
  assert.ok(!g.isInitializer('w0_zero_point') && !g.isInitializer('w0'), 'no zero point, no float weight');
  // Symmetric full range: some code of each channel reaches +-127 (no CPU multiplies these codes in integers).
  const q0 = g.constantValue('w0_quantized')!.data as Int8Array;
  assert.equal(Math.max(...Array.from(q0, Math.abs)), 127);
  assert.equal(report.nodes.length, DEEP_LAYERS);
  for (const n of report.nodes) {
    assert.equal(n.action, 'quantized');
    assert.match(n.reason!, /weight-only Conv; convFormat auto/);
    assert.deepEqual(
      n.weights!.map((w) => w.dtype),
      ['int8', 'float32'],
    );
  }
  assert.ok(report.notes.includes(CONV_WEIGHT_ONLY_NOTE));
  // Measured: side 0.027, y 0.0045 (per-channel int8 rounding only).
  const weightOnly = await errors(q, ref);
  for (const n of OUTPUTS) assert.ok(weightOnly[n]! < 0.04, `${n}: relative L2 error ${weightOnly[n]}`);

  const integer = quantizeDynamic(model, opts({ dtype: 'q8', convFormat: 'integer' }));
  assert.equal(integer.model.graph!.node!.filter((n) => n.opType === 'ConvInteger').length, DEEP_LAYERS);
  assert.ok(integer.report.nodes.every((n) => /ConvInteger/.test(n.reason!)));
  // Measured: side 0.105, y 0.013: run-time activation codes per tensor, the large channel taking most.
  const int = await errors(integer.model, ref);
  const worst = (e: Record<string, number>) => Math.max(...Object.values(e));
  assert.ok(worst(int) > 2 * worst(weightOnly), `ConvInteger ${JSON.stringify(int)} vs weight-only ${JSON.stringify(weightOnly)}`);
  assert.deepEqual(encodeModel(model), before, 'the input model is untouched');
});

test('onnxruntime folds the weight Cast and Mul at session load: the optimized graph has the Convs reading float initializers', async () => {
  const { model: q } = quantizeDynamic(deepConvChain(), opts({ convFormat: 'weight-only' }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-conv-fold-'));
  try {
    const out = path.join(dir, 'optimized.onnx');
    // basic = constant folding and other rewrites every CPU gets (no NCHWc layout), so the check is CPU-independent.
    const s = await ort.InferenceSession.create(encodeModel(q), { graphOptimizationLevel: 'basic', optimizedModelFilePath: out });
    await s.release();
    const g = Graph.from(decodeModel(fs.readFileSync(out), out));
    const ops = g.nodes.map((n) => n.opType);
    assert.ok(!ops.includes('Cast') && !ops.includes('Mul'), ops.join(','));
    for (const conv of g.nodes.filter((n) => n.opType === 'Conv')) {
      assert.equal(g.initializer(conv.input[1]!)?.dataType, 1, `${conv.name} reads a float32 initializer`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('q8 of a model computing in float16: the weight-only Convs read a float16 weight and keep their float16 activations; half the size, every output close to the float16 model', async () => {
  const half = convertToFloat16(deepConvChain(), opts({ dtype: 'fp16' })).model;
  const ref = await run(half, { x });
  const { model: q, report } = quantizeDynamic(half, opts({ dtype: 'q8' }));
  const g = Graph.from(q);
  for (const conv of g.nodes.filter((n) => n.opType === 'Conv')) {
    const from = g.producer(conv.input[0]!)!;
    assert.ok(!(from.opType === 'Cast' && castTo(from) === 1), `${conv.name} reads ${from.name}, a Cast to float32`);
    const weightCast = g.producer(conv.input[1]!)!;
    assert.equal(weightCast.opType, 'Cast', `${conv.name} weight`);
    assert.equal(castTo(weightCast), 10);
  }
  // No activation is cast to float32 around a Conv: only the input and the outputs cross float16 (fp16.ts' Casts).
  const toFloat32 = g.nodes.filter((n) => n.opType === 'Cast' && castTo(n) === 1);
  assert.equal(toFloat32.length, DEEP_LAYERS + 2, toFloat32.map((n) => n.name).join(','));
  assert.ok(report.nodes.every((n) => /computed in float16 as before/.test(n.reason!)));
  // Float16 tensors left: the biases only. The file is 0.59x (the three weight nodes per Conv weigh on a
  // 40 KB model; the 88 MB ISNet is 0.503x).
  const halves = g.initializers.filter((t) => t.dataType === 10);
  assert.deepEqual([...new Set(halves.map((t) => t.dims.length))], [1], halves.map((t) => t.name).join(','));
  const ratio = encodeModel(q).length / encodeModel(half).length;
  assert.ok(ratio < 0.62, `q8 is ${ratio.toFixed(3)}x the float16 model`);
  // Measured: side 0.026, y 0.006.
  const e = await errors(q, ref);
  for (const n of OUTPUTS) assert.ok(e[n]! < 0.04, `${n}: relative L2 error ${e[n]}`);
});
