import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ShrinkError } from '../errors.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { encodeModel } from '../onnx/codec.js';
import { onnx } from '../onnx/proto.js';
import { createSession, withSession } from './session.js';
import { elemTypes, exposeIntermediates, runWithIntermediates } from './intermediates.js';

// y = relu(x·W1 + b1)·W2, with hand-picked numbers.
const W1 = [1, -1, 0.5, 2, 0, -1, -1, 1, 0, 0.5, 0.5, 0.5]; // [4, 3] row-major
const B1 = [0.1, -0.2, 0.3];
const W2 = [1, 0, -1, 2, 0.5, 0.5]; // [3, 2]

function mlp(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('MatMul', ['x', 'W1'], ['mm1']),
        makeNode('Add', ['mm1', 'b1'], ['pre']),
        makeNode('Relu', ['pre'], ['h']),
        makeNode('MatMul', ['h', 'W2'], ['y']),
        makeNode('Shape', ['h'], ['h_shape']),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', 4])],
      outputs: [makeValueInfo('y', 'float32', ['N', 2])],
      initializers: [
        makeTensor('W1', 'float32', [4, 3], new Float32Array(W1)),
        makeTensor('b1', 'float32', [3], new Float32Array(B1)),
        makeTensor('W2', 'float32', [3, 2], new Float32Array(W2)),
      ],
    }),
  );
}

function matmul(a: number[], b: number[], n: number, k: number, m: number): number[] {
  const out = new Array<number>(n * m).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let t = 0; t < k; t++) out[i * m + j]! += a[i * k + t]! * b[t * m + j]!;
  return out;
}

const X = [1, 2, 3, 4, -1, 0.5, 0, 2];
function reference(x: number[], n: number) {
  const mm1 = matmul(x, W1, n, 4, 3);
  const pre = mm1.map((v, i) => v + B1[i % 3]!);
  const h = pre.map((v) => Math.max(0, v));
  return { mm1, pre, h, y: matmul(h, W2, n, 3, 2) };
}

function close(got: ArrayLike<number>, want: readonly number[], tol = 1e-5) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `[${i}] ${got[i]} vs ${want[i]}`);
}

const isCode = (code: string, re?: RegExp) => (e: unknown) =>
  e instanceof ShrinkError && e.code === code && (re === undefined || re.test(e.message)) && !e.message.includes('\n');

test('createSession from a proto, from bytes and from a path gives the hand-computed output', async () => {
  const model = mlp();
  const want = reference(X, 2).y;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
  try {
    const file = path.join(dir, 'mlp.onnx');
    fs.writeFileSync(file, encodeModel(model));
    for (const src of [model, encodeModel(model), file]) {
      await withSession(src, { threads: 1 }, async (s) => {
        assert.deepEqual(s.inputNames, ['x']);
        assert.deepEqual(s.outputNames, ['y']);
        assert.deepEqual(s.inputs, [{ name: 'x', isTensor: true, type: 'float32', shape: ['N', 4] }]);
        assert.equal(s.threads, 1);
        const out = await s.run({ x: { data: new Float32Array(X), dims: [2, 4] } });
        assert.deepEqual(out['y']!.dims, [2, 2]);
        close(out['y']!.data as Float32Array, want);
        // an ort tensor works as a feed too
        const out2 = await s.run({ x: new ort.Tensor('float32', new Float32Array(X), [2, 4]) });
        close(out2['y']!.data as Float32Array, want);
      });
    }
    assert.equal((await createSession(file)).source, file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad feeds are refused with one line naming the input and what the model wants', async () => {
  await withSession(mlp(), { label: 'mlp' }, async (s) => {
    const f = (data: Float32Array | Int32Array, dims: number[]) => ({ x: { data, dims } });
    await assert.rejects(
      s.run(f(new Float32Array(6), [2, 3])),
      isCode('INVALID_ARGUMENT', /^mlp: input 'x' has dims \[2, 3\] but the model wants 'x' \(float32 \[N, 4\]\)/),
    );
    await assert.rejects(
      s.run(f(new Float32Array(7), [2, 4])),
      isCode('INVALID_ARGUMENT', /input 'x': dims \[2, 4\] need 8 values but the data holds 7/),
    );
    await assert.rejects(
      s.run({ x: new ort.Tensor('int32', new Int32Array(8), [2, 4]) }),
      isCode('INVALID_ARGUMENT', /input 'x' is int32 but the model wants/),
    );
    await assert.rejects(s.run({}), isCode('INVALID_ARGUMENT', /input 'x' \(float32 \[N, 4\]\) is missing from the feeds/));
    await assert.rejects(
      s.run({ ...f(new Float32Array(8), [2, 4]), z: { data: new Float32Array(1), dims: [1] } }),
      isCode('INVALID_ARGUMENT', /feed 'z' is not a model input; inputs: 'x'/),
    );
    await assert.rejects(s.run(f(new Float32Array(8), [2, 4]), ['nope']), isCode('INVALID_ARGUMENT', /'nope' is not a model output/));
  });
});

test('a failure inside onnxruntime becomes RUNTIME naming the feed shapes', async () => {
  const model = makeModel(
    makeGraph({
      nodes: [makeNode('Reshape', ['x', 'shape'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N'])],
      outputs: [makeValueInfo('y', 'float32', [3])],
      initializers: [makeTensor('shape', 'int64', [1], new BigInt64Array([3n]))],
    }),
  );
  await withSession(model, { label: 'reshape' }, async (s) => {
    await assert.rejects(
      s.run({ x: { data: new Float32Array(4), dims: [4] } }),
      isCode('RUNTIME', /^reshape: onnxruntime failed to run on x float32 \[4\]: /),
    );
  });
  const s = await createSession(model);
  await s.release();
  await assert.rejects(s.run({ x: { data: new Float32Array(3), dims: [3] } }), isCode('RUNTIME'));
});

test('models onnxruntime cannot load: INVALID_MODEL, UNSUPPORTED_OP, NOT_FOUND, external data in memory', async () => {
  await assert.rejects(
    createSession(new Uint8Array([1, 2, 3, 4]), { label: 'junk' }),
    isCode('INVALID_MODEL', /^junk: onnxruntime cannot load the model: /),
  );
  const custom = makeModel(
    makeGraph({
      nodes: [makeNode('Frobnicate', ['x'], ['y'], {}, { domain: 'my.ops' })],
      inputs: [makeValueInfo('x', 'float32', [1])],
      outputs: [makeValueInfo('y', 'float32', [1])],
    }),
  );
  await assert.rejects(createSession(custom), isCode('UNSUPPORTED_OP', /Frobnicate/));
  const dangling = makeModel(
    makeGraph({
      nodes: [makeNode('Relu', ['q'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', [1])],
      outputs: [makeValueInfo('y', 'float32', [1])],
    }),
  );
  await assert.rejects(createSession(dangling), isCode('INVALID_MODEL', /'q'/));
  await assert.rejects(createSession(path.join(os.tmpdir(), 'shrink-no-such-model.onnx')), isCode('NOT_FOUND', /does not exist/));
  const ext = mlp();
  ext.graph!.initializer![0] = onnx.TensorProto.create({
    name: 'W1',
    dataType: 1,
    dims: [4, 3],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [{ key: 'location', value: 'mlp.onnx_data' }],
  });
  await assert.rejects(
    createSession(ext),
    isCode('INVALID_ARGUMENT', /initializer 'W1' lives in an external data file; create the session from the model's path/),
  );
  await assert.rejects(createSession(mlp(), { threads: 0 }), isCode('INVALID_ARGUMENT', /threads/));
});

test('exposeIntermediates adds every float node output, leaves the input model alone, and the values match', async () => {
  const model = mlp();
  const before = encodeModel(model);
  const exposed = exposeIntermediates(model);
  assert.deepEqual(Buffer.from(encodeModel(model)), Buffer.from(before), 'input model unchanged');
  assert.deepEqual(
    exposed.graph!.output!.map((o) => o.name),
    ['y', 'mm1', 'pre', 'h'],
    'float intermediates added once each; the int64 Shape output left out',
  );
  const values = await runWithIntermediates(model, { x: { data: new Float32Array(X), dims: [2, 4] } });
  const ref = reference(X, 2);
  for (const name of ['mm1', 'pre', 'h', 'y'] as const) {
    const v = values.get(name);
    assert.ok(v, name);
    assert.deepEqual(v.dims, name === 'y' ? [2, 2] : [2, 3]);
    close(v.data, ref[name]);
  }
});

test('exposeIntermediates by name: untyped values are typed by onnxruntime; non-float values and graph inputs convert; unknown names refused', async () => {
  const model = mlp();
  const values = await runWithIntermediates(model, { x: { data: new Float32Array(X), dims: [2, 4] } }, { names: ['pre', 'h_shape', 'x'] });
  assert.deepEqual([...values.keys()], ['pre', 'h_shape', 'x']);
  close(values.get('x')!.data, X);
  close(values.get('pre')!.data, reference(X, 2).pre);
  close(values.get('h_shape')!.data, [2, 3]);
  assert.throws(() => exposeIntermediates(model, ['nope']), isCode('NOT_FOUND', /'nope'/));
  const types = elemTypes(model.graph!);
  assert.equal(types.get('h'), onnx.TensorProto.DataType.FLOAT);
  assert.equal(types.get('h_shape'), onnx.TensorProto.DataType.INT64);
});
