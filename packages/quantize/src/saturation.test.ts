// onnxruntime's u8s8 kernels on x86 without VNNI (AVX2, AVX-512 before VNNI) add each pair of
// uint8 x int8 products into a saturating int16 (VPMADDUBSW). These tests build the worst case — every
// activation code 255, every weight code at the top of its range — and check what each weight format
// computes: full-range int8 clips to about half the true sum there; uint8 weights (u8u8 kernels) and
// 7-bit int8 (2 x 255 x 64 = 32640 fits in int16) stay exact on every CPU. The native tests run where the
// CPU has the matching kernels and skip elsewhere with the reason; the emulated ones run anywhere
// qemu-x86_64 is installed, so a VNNI machine checks the AVX2 path too.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions, type onnx } from '@shrink/core';
import { createSession, int8KernelPath } from '@shrink/core/runtime';
import { quantizeDynamic } from './dynamic.js';
import { quantizeOptionsSchema, type QuantizeOptions } from './options.js';
import { quantizeStatic } from './static.js';
import { emulationUnavailable, runOnEmulatedAvx2 } from './emulate/emulated-avx2.fixture.js';

const K = 64;
const N = 8;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-saturation-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** y = x · W with W all ones: on x = ones every output is exactly K. */
function onesMatMul(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'ones',
      nodes: [makeNode('MatMul', ['x', 'w'], ['y'], {}, { name: 'mm' })],
      inputs: [makeValueInfo('x', 'float32', ['batch', K])],
      outputs: [makeValueInfo('y', 'float32', ['batch', N])],
      initializers: [makeTensor('w', 'float32', [K, N], new Float32Array(K * N).fill(1))],
    }),
    { opset: 17 },
  );
}

const FORMATS: ReadonlyArray<{ name: string; opts: QuantizeOptions; saturates: boolean }> = [
  { name: 'int8 full range', opts: { weightType: 'int8', reduceRange: false }, saturates: true },
  { name: 'int8 7-bit', opts: { weightType: 'int8', reduceRange: true }, saturates: false },
  { name: 'uint8', opts: { weightType: 'uint8' }, saturates: false },
  { name: 'q8 default', opts: {}, saturates: false },
];

function variants(): Array<{ label: string; saturates: boolean; model: onnx.ModelProto }> {
  const base = onesMatMul();
  const out: Array<{ label: string; saturates: boolean; model: onnx.ModelProto }> = [];
  for (const f of FORMATS) {
    const o = parseOptions(quantizeOptionsSchema, { dtype: 'q8', ...f.opts });
    out.push({ label: `dynamic ${f.name}`, saturates: f.saturates, model: quantizeDynamic(base, o).model });
    const ranges = new Map<string, readonly [number, number]>([
      ['x', [0, 1]],
      ['y', [0, K]],
    ]);
    out.push({ label: `static ${f.name}`, saturates: f.saturates, model: quantizeStatic(base, { ...o, mode: 'static' }, ranges).model });
  }
  return out;
}

const X = { data: new Float32Array(4 * K).fill(1), dims: [4, K] };

/** Mean of the outputs over the exact value K: 1 when exact, about 0.5 when the pair sums clip at 32767. */
const ratioToExact = (y: Float32Array) => y.reduce((s, v) => s + v, 0) / y.length / K;

function check(label: string, saturates: boolean, r: number, where: string): void {
  if (saturates) assert.ok(r > 0.4 && r < 0.6, `${label} on ${where}: expected the clipped sum (~0.5 of exact), got ${r.toFixed(4)}`);
  // Exact up to the activation and weight scales' rounding (1/255 of the range at most).
  else assert.ok(Math.abs(r - 1) < 0.01, `${label} on ${where}: expected the exact sum, got ${r.toFixed(4)} of it`);
}

async function runNative(model: onnx.ModelProto): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    const out = await s.run({ x: X });
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

const here = int8KernelPath();

test(
  `this CPU saturates full-range int8 weights and no other format (x86 without VNNI)`,
  {
    skip:
      here.int8Saturates === true
        ? false
        : `this CPU (${here.isa}) sums int8 products as ${here.instruction}: the saturation cannot be forced here; the emulated test below covers it`,
  },
  async () => {
    for (const v of variants()) check(v.label, v.saturates, ratioToExact(await runNative(v.model)), here.isa);
  },
);

test(
  `this CPU computes every weight format exactly (VNNI, AMX, ARM, SSE)`,
  { skip: here.int8Saturates === false ? false : `this CPU (${here.isa}) saturates full-range int8: the test above covers it` },
  async () => {
    for (const v of variants()) check(v.label, false, ratioToExact(await runNative(v.model)), here.isa);
  },
);

test(
  'an emulated AVX2 CPU (qemu -cpu Haswell) saturates full-range int8 weights and no other format',
  { skip: emulationUnavailable() ?? false, timeout: 600_000 },
  async () => {
    const vs = variants();
    const files = vs.map((v, i) => {
      const f = path.join(tmp, `${i}.onnx`);
      fs.writeFileSync(f, encodeModel(v.model));
      return f;
    });
    const outs = await runOnEmulatedAvx2(files, X);
    vs.forEach((v, i) => check(v.label, v.saturates, ratioToExact(outs[i]!), 'emulated AVX2'));
  },
);
