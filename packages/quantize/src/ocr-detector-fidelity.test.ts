// The two root causes found on the PP-OCRv4 text detector (issue #13), each on a small fixture that fails
// without its fix. Real onnxruntime; uint8 Conv weights run on u8u8 kernels, exact on AVX2 and VNNI alike
// (scripts/test-avx2.mjs checks it), so the tolerances hold on both.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, Graph, parseOptions, type onnx } from '@shrink/core';
import { createSession, exposeIntermediates, tensorToFloat32, type Feeds } from '@shrink/core/runtime';
import { quantizeDynamic } from './dynamic.js';
import { CHANNELS, channelSpreadNet, wideBatchNormHead } from './fixtures/ocr-detector-like.fixture.js';
import { convertToFloat16 } from './fp16.js';
import { MAX_FLOAT_CONV_REDUCTION } from './ops/dynamic-conv.js';
import { quantizeOptionsSchema } from './options.js';
import { lcgValues, relError } from './test-data.fixture.js';

async function run(model: onnx.IModelProto, feeds: Feeds): Promise<Float32Array>;
async function run(model: onnx.IModelProto, feeds: Feeds, names: string[]): Promise<Record<string, Float32Array>>;
async function run(model: onnx.IModelProto, feeds: Feeds, names?: string[]): Promise<Float32Array | Record<string, Float32Array>> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run(feeds);
    if (!names) return out['y']!.data as Float32Array;
    return Object.fromEntries(names.map((n) => [n, tensorToFloat32(out[n]!, n)]));
  } finally {
    await s.release();
  }
}

/** Relative L2 error of each output channel of y[N, C, H, W], worst first. */
function channelErrors(got: Float32Array, want: Float32Array, channels: number, plane: number): number[] {
  const errs: number[] = [];
  for (let c = 0; c < channels; c++) {
    let e = 0;
    let r = 0;
    for (let n = 0; n < want.length / (channels * plane); n++) {
      for (let i = 0; i < plane; i++) {
        const k = (n * channels + c) * plane + i;
        e += (got[k]! - want[k]!) ** 2;
        r += want[k]! ** 2;
      }
    }
    errs.push(Math.sqrt(e / r));
  }
  return errs.sort((a, b) => b - a);
}

test('q8 Conv, convFormat integer: a scale per output channel keeps channels of small weights (per tensor they got a few codes); tiny reductions stay float', async () => {
  const model = channelSpreadNet();
  const { model: q, report } = quantizeDynamic(model, parseOptions(quantizeOptionsSchema, { dtype: 'q8', convFormat: 'integer' }));
  const g = Graph.from(q);
  // ConvInteger takes one weight zero point: the codes are symmetric around 128, the scale is per channel.
  assert.deepEqual(g.shapeOf('w1_scale'), [CHANNELS, 1, 1]);
  assert.deepEqual(g.shapeOf('w1_zero_point'), []);
  assert.deepEqual([...(g.constantValue('w1_zero_point')!.data as Uint8Array)], [128]);
  assert.deepEqual(g.shapeOf('w2_scale'), [CHANNELS, 1, 1]);
  const dw = report.nodes.find((n) => n.name === 'conv_dw')!;
  assert.equal(dw.action, 'skipped');
  assert.match(dw.reason!, new RegExp(`sums 9 values per output .* at most ${MAX_FLOAT_CONV_REDUCTION}`));
  assert.equal(g.producer('d1')?.opType, 'Conv', 'the depthwise Conv stays float');

  const x = { data: lcgValues(2 * 4 * 12 * 12, 5, 2), dims: [2, 4, 12, 12] };
  const [want, got] = [await run(model, { x }), await run(q, { x })];
  // Measured 0.008 (all channels within 0.013); one scale per tensor gave 0.23, and 1.2 in the smallest channel.
  const rel = relError(got, want);
  assert.ok(rel < 0.02, `relative L2 error ${rel}`);
  const worst = channelErrors(got, want, CHANNELS, 144)[0]!;
  assert.ok(worst < 0.05, `worst channel's relative L2 error ${worst}`);
});

test('fp16: the Conv feeding a BatchNormalization with variance ~1e8 stays float32, so a black page does not overflow it to infinity', async () => {
  const model = wideBatchNormHead();
  const r = convertToFloat16(model, parseOptions(quantizeOptionsSchema, { dtype: 'fp16' }));
  const conv = r.report.nodes.find((n) => n.name === 'head_conv')!;
  assert.equal(conv.action, 'kept-float');
  assert.match(conv.reason!, /feeds BatchNormalization 'head_bn'.*up to 79400 \(\|mean\| \+ 8 sigma\), beyond float16's ±65504/);
  assert.equal(r.report.nodes.find((n) => n.name === 'head_bn')!.action, 'kept-float');

  // A black page after PaddleOCR's normalization ((0 - 0.485) / 0.229), and a mid-gray one. The Conv's
  // output is read as a graph output too, so onnxruntime materializes the value the file says (float16
  // before the fix): its x86 CPU provider would otherwise run the Conv in float32 and drop the Casts,
  // which ARM and GPU providers with float16 kernels do not.
  const exposed = exposeIntermediates(r.model, ['c']);
  for (const v of [-2.1179, 0.3]) {
    const x = { data: new Float32Array(2 * 8 * 8).fill(v), dims: [1, 2, 8, 8] };
    const want = await run(exposeIntermediates(model, ['c']), { x }, ['y', 'c']);
    const got = await run(exposed, { x }, ['y', 'c']);
    for (const name of ['y', 'c']) {
      assert.ok(
        got[name]!.every((g) => Number.isFinite(g)),
        `input ${v}: '${name}' of the fp16 model holds non-finite values`,
      );
      // Measured 0 (both kept ops compute in float32 on float32 values); before, c was infinity at -2.1.
      const rel = relError(got[name]!, want[name]!);
      assert.ok(!(rel > 1e-3), `input ${v}: '${name}' relative L2 error ${rel}`);
    }
  }
});
