import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShrinkError } from '../errors.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { encodeModel } from '../onnx/codec.js';
import type { onnx } from '../onnx/proto.js';
import { fidelityOnFeeds } from './feed-fidelity.js';
import { measureLatency } from './latency.js';
import { createSession, withSession, type Feeds, type Outputs, type Session } from './session.js';
import { createWebSession } from './web-session.js';

// createSession's ctx picks the runtime: what --target wasm uses.
const WASM = { runtime: 'onnxruntime-web-wasm' } as const;

// Deterministic values in [-1, 1): the tests must not depend on a seed that differs between runs.
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Both runtimes' outputs for the same feeds, each session released after its run. */
async function runBoth(model: onnx.ModelProto, feeds: Feeds): Promise<[Outputs, Outputs, Session, Session]> {
  const bytes = encodeModel(model);
  let nodeMeta: Session | undefined;
  let webMeta: Session | undefined;
  const a = await withSession(bytes, { threads: 1 }, async (s) => ((nodeMeta = s), s.run(feeds)));
  const b = await withSession(bytes, {}, async (s) => ((webMeta = s), s.run(feeds)), WASM);
  return [a, b, nodeMeta!, webMeta!];
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

const oneLineError = (code: string, re: RegExp) => (e: unknown) =>
  e instanceof ShrinkError && e.code === code && re.test(e.message) && !e.message.includes('\n');

// Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax, with the Relu map as a second output.
function smallCnn(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'W', 'B'], ['conv'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
        makeNode('Relu', ['conv'], ['feat']),
        makeNode('GlobalAveragePool', ['feat'], ['gap']),
        makeNode('Flatten', ['gap'], ['flat']),
        makeNode('Gemm', ['flat', 'G', 'g'], ['logits']),
        makeNode('Softmax', ['logits'], ['y'], { axis: -1 }),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 3, null, 8])],
      outputs: [makeValueInfo('y', 'float32', ['N', 5]), makeValueInfo('feat', 'float32', ['N', 4, 8, 8])],
      initializers: [
        makeTensor('W', 'float32', [4, 3, 3, 3], values(108, 1)),
        makeTensor('B', 'float32', [4], values(4, 2)),
        makeTensor('G', 'float32', [4, 5], values(20, 3)),
        makeTensor('g', 'float32', [5], values(5, 4)),
      ],
    }),
  );
}

test('a float model runs in onnxruntime-web WASM with the same outputs as onnxruntime-node (1e-5), the same metadata and a runtime named with its version', async () => {
  const feeds = { x: { data: values(2 * 3 * 8 * 8, 5), dims: [2, 3, 8, 8] } };
  const [a, b, nodeS, webS] = await runBoth(smallCnn(), feeds);
  assert.deepEqual(webS.inputs, nodeS.inputs);
  assert.deepEqual(webS.outputs, nodeS.outputs);
  assert.deepEqual(webS.outputNames, ['y', 'feat']);
  assert.equal(webS.threads, 1);
  assert.match((webS as { runtime?: string }).runtime ?? '', /^onnxruntime-web 1\.30\.0 WASM \(SIMD\), 1 thread$/);
  for (const name of ['y', 'feat']) {
    const x = a[name]!.data as Float32Array;
    const y = b[name]!.data as Float32Array;
    assert.deepEqual(b[name]!.dims, a[name]!.dims, name);
    assert.equal(y.length, x.length);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    assert.ok(worst <= 1e-5, `${name}: max |node - web| ${worst}`);
  }
  // The softmax rows sum to 1: the comparison above is not between two empty or zero outputs.
  const y = b['y']!.data as Float32Array;
  assert.ok(Math.abs(y[0]! + y[1]! + y[2]! + y[3]! + y[4]! - 1) < 1e-5);
  assert.ok((b['feat']!.data as Float32Array).some((v) => v > 0.1));
});

// y = dequant(DynamicQuantizeLinear(x) · Wq): what a dynamic q8 MatMul is, built by hand because core's
// tests cannot import the quantizer. Weights within ±63, so AVX2's saturating u8s8 kernel is exact too.
const K = 32;
const M = 16;
const WS = 0.01;
function q8MatMul(): { model: onnx.ModelProto; wq: Int8Array } {
  const wq = Int8Array.from(values(K * M, 6), (v) => Math.round(v * 63));
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        makeNode('MatMulInteger', ['xq', 'Wq', 'xz', 'wz'], ['acc']),
        makeNode('Cast', ['acc'], ['accf'], { to: 1 }),
        makeNode('Mul', ['xs', 'ws'], ['scale']),
        makeNode('Mul', ['accf', 'scale'], ['y']),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', K])],
      outputs: [makeValueInfo('y', 'float32', ['N', M])],
      initializers: [
        makeTensor('Wq', 'int8', [K, M], wq),
        makeTensor('wz', 'int8', [], new Int8Array([0])),
        makeTensor('ws', 'float32', [], new Float32Array([WS])),
      ],
    }),
  );
  return { model, wq };
}

test('a q8 (DynamicQuantizeLinear + MatMulInteger) model runs in both runtimes: fidelity of web against node >= 0.999 on every output, both near the float product', async () => {
  const { model, wq } = q8MatMul();
  const N = 8;
  const samples = [0, 1, 2].map((i) => ({ x: { data: values(N * K, 10 + i), dims: [N, K] } }));
  const bytes = encodeModel(model);
  const node = await createSession(bytes, { threads: 1, label: 'node' });
  const web = await createWebSession(bytes, { label: 'web' });
  try {
    const f = await fidelityOnFeeds(node, web, { name: '3 samples', samples, synthetic: true });
    assert.equal(f.n, 3);
    assert.ok(f.cosineSimilarity >= 0.999, `cosine ${f.cosineSimilarity}`);
    assert.equal(f.baselineSilent, false);
    // Each runtime against the float product x · (Wq * ws): both really computed the MatMul.
    const x = samples[0]!.x.data;
    const want = new Float32Array(N * M);
    for (let n = 0; n < N; n++)
      for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) want[n * M + m]! += x[n * K + k]! * wq[k * M + m]! * WS;
    for (const s of [node, web]) {
      const got = (await s.run(samples[0]!))['y']!.data as Float32Array;
      assert.ok(cosine(got, want) >= 0.99, `${s.source}: cosine to the float product ${cosine(got, want)}`);
    }
    // The latency code runs on a web session as on a node one.
    const lat = await measureLatency(web, samples[0]!, { warmup: 1, runs: 3 });
    assert.equal(lat.runs, 3);
    assert.ok(lat.p50 > 0);
  } finally {
    await node.release();
    await web.release();
  }
});

test('int64 and bool inputs and int64, bool and float outputs agree exactly between the runtimes and with a hand computation', async () => {
  // pooled = sum over unmasked tokens of E[id]; best = argmax(pooled); padding = not(mask).
  const E = values(10 * 4, 7);
  const model = makeModel(
    makeGraph({
      nodes: [
        makeNode('Gather', ['E', 'ids'], ['emb']),
        makeNode('Cast', ['mask'], ['maskf'], { to: 1 }),
        makeNode('Unsqueeze', ['maskf', 'last'], ['mask3']),
        makeNode('Mul', ['emb', 'mask3'], ['kept']),
        makeNode('ReduceSum', ['kept', 'seq'], ['pooled'], { keepdims: 0 }),
        makeNode('ArgMax', ['pooled'], ['best'], { axis: 1, keepdims: 0 }),
        makeNode('Not', ['mask'], ['padding']),
      ],
      inputs: [makeValueInfo('ids', 'int64', ['N', 'T']), makeValueInfo('mask', 'bool', ['N', 'T'])],
      outputs: [
        makeValueInfo('pooled', 'float32', ['N', 4]),
        makeValueInfo('best', 'int64', ['N']),
        makeValueInfo('padding', 'bool', ['N', 'T']),
      ],
      initializers: [
        makeTensor('E', 'float32', [10, 4], E),
        makeTensor('last', 'int64', [1], new BigInt64Array([-1n])),
        makeTensor('seq', 'int64', [1], new BigInt64Array([1n])),
      ],
    }),
  );
  const ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
  const mask = [1, 1, 1, 0, 0, 1, 1, 1, 1, 0];
  const feeds = {
    ids: { data: BigInt64Array.from(ids, BigInt), dims: [2, 5] },
    mask: { data: Uint8Array.from(mask), dims: [2, 5], type: 'bool' as const },
  };
  const [a, b] = await runBoth(model, feeds);
  const pooled = new Float32Array(8);
  for (let n = 0; n < 2; n++)
    for (let t = 0; t < 5; t++) if (mask[n * 5 + t]) for (let d = 0; d < 4; d++) pooled[n * 4 + d]! += E[ids[n * 5 + t]! * 4 + d]!;
  const best = [0, 1].map((n) => [0, 1, 2, 3].reduce((bi, d) => (pooled[n * 4 + d]! > pooled[n * 4 + bi]! ? d : bi), 0));
  for (const out of [a, b]) {
    const p = out['pooled']!.data as Float32Array;
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(p[i]! - pooled[i]!) <= 1e-5, `pooled[${i}] ${p[i]} vs ${pooled[i]}`);
    assert.equal(out['best']!.type, 'int64');
    assert.deepEqual([...(out['best']!.data as BigInt64Array)], best.map(BigInt));
    assert.equal(out['padding']!.type, 'bool');
    assert.deepEqual(
      [...(out['padding']!.data as Uint8Array)],
      mask.map((m) => 1 - m),
    );
  }
  // A feed of the wrong type is refused before onnxruntime-web sees it, as by the node session.
  await withSession(
    encodeModel(model),
    {},
    async (s) => {
      await assert.rejects(
        s.run({ ids: { data: new Int32Array(10), dims: [2, 5], type: 'int32' }, mask: feeds.mask }),
        oneLineError('INVALID_ARGUMENT', /'ids' is int32 but the model wants 'ids' \(int64 \[N, T\]\)/),
      );
    },
    WASM,
  );
});

test('a model onnxruntime-web cannot load gives one ShrinkError line naming the runtime; threads are fixed for the process', async () => {
  // No op is known to be missing from the 1.30 WASM build but present in the native one (the same
  // kernels are compiled for both), so these models fail on both: an unknown op and a kernel neither has.
  const unknownOp = makeModel(
    makeGraph({
      nodes: [makeNode('NoSuchOp', ['x'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', [2])],
      outputs: [makeValueInfo('y', 'float32', [2])],
    }),
  );
  await assert.rejects(
    createWebSession(unknownOp, { label: 'unknown.onnx' }),
    oneLineError('UNSUPPORTED_OP', /^unknown\.onnx: onnxruntime-web 1\.30\.0 \(WASM\) cannot load the model: .*NoSuchOp/),
  );
  // QLinearMatMul with int8 A and uint8 B has no kernel in 1.30.
  const qlinear = makeModel(
    makeGraph({
      nodes: [makeNode('QLinearMatMul', ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], ['y'])],
      inputs: [makeValueInfo('a', 'int8', [2, 4])],
      outputs: [makeValueInfo('y', 'int8', [2, 3])],
      initializers: [
        makeTensor('as', 'float32', [], [0.1]),
        makeTensor('az', 'int8', [], [0]),
        makeTensor('b', 'uint8', [4, 3], new Uint8Array(12).fill(3)),
        makeTensor('bs', 'float32', [], [0.1]),
        makeTensor('bz', 'uint8', [], [0]),
        makeTensor('ys', 'float32', [], [0.1]),
        makeTensor('yz', 'int8', [], [0]),
      ],
    }),
  );
  await assert.rejects(
    createWebSession(qlinear),
    oneLineError('UNSUPPORTED_OP', /onnxruntime-web 1\.30\.0 \(WASM\) cannot load the model: .*QLinearMatMul/),
  );
  await assert.rejects(
    createWebSession(new Uint8Array([1, 2, 3, 4]), { label: 'junk.onnx' }),
    oneLineError('INVALID_MODEL', /^junk\.onnx: onnxruntime-web 1\.30\.0 \(WASM\) cannot load the model: .*protobuf/),
  );
  await assert.rejects(createWebSession('/nonexistent/m.onnx'), oneLineError('NOT_FOUND', /\/nonexistent\/m\.onnx does not exist/));
  await assert.rejects(
    createWebSession(smallCnn(), { threads: 2 }),
    oneLineError('INVALID_ARGUMENT', /already runs with 1 thread\(s\) in this process and cannot change to 2/),
  );
});
