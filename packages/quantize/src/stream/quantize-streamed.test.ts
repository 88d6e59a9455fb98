import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  attr,
  decodeModel,
  encodeModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  isShrinkError,
  type onnx,
} from '@shrink/core';
import { loadModel, saveModel } from '@shrink/core/io';
import { createSession } from '@shrink/core/runtime';
import { quantizeModel } from '../runtime/quantize-model.js';
import type { QuantizeOptions } from '../options.js';
import { lcgValues } from '../test-data.fixture.js';
import { quantizeStreamed } from './quantize-streamed.js';

const [V, D, H, H2, C] = [500, 256, 1024, 200, 96];

/**
 * Decoder-shaped: ids -> Gather (embedding: GatherBlockQuantized) -> MatMul W1 -> Relu -> Gemm (W2 stored [H2, H],
 * transB, alpha 0.5, beta 2, bias) -> Relu -> MatMul W3 (K = 200: a partial last block) and a second
 * MatMul reading W3 too (stored once) -> Add -> y. Weights of 1 KiB and more are external (~2.5 MB).
 */
function decoder(): onnx.ModelProto {
  const g = (fanIn: number, fanOut: number) => Math.sqrt(6 / (fanIn + fanOut));
  return makeModel(
    makeGraph({
      name: 'decoder',
      nodes: [
        makeNode('Gather', ['E', 'ids'], ['x'], { axis: 0 }, { name: 'embed' }),
        makeNode('MatMul', ['x', 'W1'], ['h1'], {}, { name: 'fc1' }),
        makeNode('Relu', ['h1'], ['a1'], {}, { name: 'relu1' }),
        makeNode('Gemm', ['a1', 'W2', 'b2'], ['h2'], { transB: 1, alpha: attr.float(0.5), beta: attr.float(2) }, { name: 'fc2' }),
        makeNode('Relu', ['h2'], ['a2'], {}, { name: 'relu2' }),
        makeNode('MatMul', ['a2', 'W3'], ['y1'], {}, { name: 'head_a' }),
        makeNode('MatMul', ['a2', 'W3'], ['y2'], {}, { name: 'head_b' }),
        makeNode('Add', ['y1', 'y2'], ['y'], {}, { name: 'sum' }),
      ],
      inputs: [makeValueInfo('ids', 'int64', ['tokens'])],
      outputs: [makeValueInfo('y', 'float32', ['tokens', C])],
      initializers: [
        makeTensor('E', 'float32', [V, D], lcgValues(V * D, 7, 1)),
        makeTensor('W1', 'float32', [D, H], lcgValues(D * H, 1, g(D, H))),
        makeTensor('W2', 'float32', [H2, H], lcgValues(H2 * H, 3, 2 * g(H, H2))),
        makeTensor('b2', 'float32', [H2], lcgValues(H2, 4, 0.05)),
        makeTensor('W3', 'float32', [H2, C], lcgValues(H2 * C, 5, g(H2, C))),
      ],
    }),
  );
}

async function outputOf(file: string): Promise<Float32Array> {
  const ids = BigInt64Array.from({ length: 12 }, (_, i) => BigInt((i * 37) % V));
  const s = await createSession(file, { threads: 1 });
  try {
    return (await s.run({ ids: { data: ids, dims: [12] } }))['y']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Nodes (all fields) and initializers (name, type, dims, bytes) of two loaded models, compared exactly. */
function assertSameModel(got: onnx.ModelProto, want: onnx.ModelProto): void {
  const nodes = (m: onnx.ModelProto) => (m.graph!.node as onnx.NodeProto[]).map((n) => JSON.stringify(n.toJSON()));
  assert.deepEqual(nodes(got), nodes(want));
  assert.ok(nodes(got).some((n) => n.includes('MatMulNBits')));
  assert.deepEqual(
    (got.graph!.valueInfo ?? []).map((v) => JSON.stringify(v.toJSON())),
    (want.graph!.valueInfo ?? []).map((v) => JSON.stringify(v.toJSON())),
  );
  const inits = (m: onnx.ModelProto) =>
    new Map(
      m.graph!.initializer!.map((t) => [
        t.name ?? '',
        { type: t.dataType, dims: (t.dims ?? []).map(Number), bytes: Buffer.from(t.rawData ?? []) },
      ]),
    );
  const [a, b] = [inits(got), inits(want)];
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, t] of b) {
    const g = a.get(name)!;
    assert.equal(g.type, t.type, name);
    assert.deepEqual(g.dims, t.dims, name);
    assert.ok(g.bytes.equals(t.bytes), `initializer '${name}' differs`);
  }
  assert.deepEqual(
    got.opsetImport.map((o) => [o.domain, Number(o.version)]),
    want.opsetImport.map((o) => [o.domain, Number(o.version)]),
  );
}

const CASES: Array<{ label: string; options: QuantizeOptions; threads: number; pieceBytes: number }> = [
  // 64 KiB pieces cut every weight into several column stripes (W1: 16 of 64 columns), on 2 workers.
  { label: 'rtn symmetric, block 32, stripes on workers', options: { dtype: 'q4' }, threads: 2, pieceBytes: 64 << 10 },
  {
    label: 'rtn with zero points, block 64, in this thread',
    options: { dtype: 'q4', symmetric: false, blockSize: 64 },
    threads: 0,
    pieceBytes: 1 << 20,
  },
  { label: 'hqq, block 32', options: { dtype: 'q4', algo: 'hqq' }, threads: 1, pieceBytes: 100 << 10 },
  { label: 'rtn 8-bit, block 128', options: { dtype: 'q4', bits: 8, blockSize: 128, accuracyLevel: 0 }, threads: 2, pieceBytes: 1 << 20 },
];

test('streamed q4 writes what the in-memory q4 writes: same nodes, same code/scale/zero-point bytes, same onnxruntime output', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-streamed-'));
  try {
    const src = path.join(dir, 'model.onnx');
    await saveModel(decoder(), src, { externalData: true });
    const fp32 = await outputOf(src);
    for (const c of CASES) {
      const inMemory = path.join(dir, `mem-${CASES.indexOf(c)}.onnx`);
      // The embedding becomes GatherBlockQuantized on both sides (hqq: rounded to nearest on both, a note says so).
      const q = await quantizeModel(await loadModel(src), c.options);
      await saveModel(q.model, inMemory, { externalData: true });
      const out = path.join(dir, `streamed-${CASES.indexOf(c)}.onnx`);
      const r = await quantizeStreamed(src, out, c.options, { threads: c.threads, pieceBytes: c.pieceBytes });
      assert.equal(r.report.nodes.filter((n) => n.action === 'quantized').length, 5, c.label);
      assert.ok(
        r.report.nodes.some((n) => n.opType === 'Gather' && n.action === 'quantized'),
        c.label,
      );
      if (c.options.algo === 'hqq')
        assert.ok(
          r.report.notes.some((n) => /1 embedding table\(s\) rounded to nearest/.test(n)),
          c.label,
        );
      assert.ok(r.saved.externalDataPath && existsSync(r.saved.externalDataPath), c.label);
      assertSameModel(await loadModel(out), await loadModel(inMemory));
      const [a, b] = [await outputOf(out), await outputOf(inMemory)];
      assert.deepEqual(a, b, `${c.label}: outputs differ`);
      // And it is a quantized model of the float one, not a copy.
      let num = 0;
      let den = 0;
      for (let i = 0; i < fp32.length; i++) {
        num += (a[i]! - fp32[i]!) ** 2;
        den += fp32[i]! ** 2;
      }
      const err = Math.sqrt(num / den);
      assert.ok(err > 0 && err < 0.2, `${c.label}: relative error ${err}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streamed q4 with inline weights (no external data) matches too, and never writes over its input', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-streamed-'));
  try {
    const src = path.join(dir, 'inline.onnx');
    writeFileSync(src, encodeModel(decoder()));
    const mem = path.join(dir, 'mem.onnx');
    await saveModel((await quantizeModel(await loadModel(src), { dtype: 'q4' })).model, mem, { externalData: true });
    const out = path.join(dir, 'out.onnx');
    await quantizeStreamed(src, out, { dtype: 'q4' }, { threads: 0 });
    assertSameModel(await loadModel(out), await loadModel(mem));
    await assert.rejects(quantizeStreamed(src, src, { dtype: 'q4' }), /refusing to overwrite input file/);
    const before = readFileSync(src);
    assert.ok(readFileSync(src).equals(before));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad inputs are one line naming the file or tensor: missing data file, a location outside the folder, truncated data', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-streamed-'));
  try {
    const src = path.join(dir, 'model.onnx');
    const saved = await saveModel(decoder(), src, { externalData: true });
    const data = saved.externalDataPath!;
    const expectFail = async (file: string, code: string, re: RegExp): Promise<void> => {
      await assert.rejects(quantizeStreamed(file, path.join(dir, 'out.onnx'), { dtype: 'q4' }, { threads: 0 }), (e: unknown) => {
        assert.ok(isShrinkError(e), String(e));
        assert.equal(e.code, code);
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
      assert.ok(!existsSync(path.join(dir, 'out.onnx')));
    };
    // A location outside the model's folder.
    const m = decodeModel(readFileSync(src));
    const outside = path.join(dir, 'outside.onnx');
    for (const t of m.graph!.initializer!) for (const e of t.externalData ?? []) if (e.key === 'location') e.value = '../secret.bin';
    writeFileSync(outside, encodeModel(m));
    await expectFail(outside, 'UNSAFE_PATH', /tensor '(E|W1|W2|b2|W3)' has external data location '\.\.\/secret\.bin'/);
    // Truncated data.
    truncateSync(data, 1000);
    await expectFail(src, 'INVALID_MODEL', /tensor '\w+' wants bytes \d+\.\.\d+ of .*model\.onnx_data, which has only 1000 bytes/);
    // Missing data file.
    rmSync(data);
    await expectFail(src, 'INVALID_MODEL', /external data file .*model\.onnx_data of tensor '\w+' does not exist/);
    assert.deepEqual(readdirSync(dir).sort(), ['model.onnx', 'outside.onnx']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streamed q4 refuses what it cannot stream in one line: gptq, q4f16', async () => {
  await assert.rejects(quantizeStreamed('x.onnx', 'y.onnx', { dtype: 'q4', algo: 'gptq' }), /gptq needs calibration activations/);
  await assert.rejects(quantizeStreamed('x.onnx', 'y.onnx', { dtype: 'q4f16' }), /q4f16 converts every tensor to float16/);
});
