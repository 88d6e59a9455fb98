import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import * as ort from 'onnxruntime-node';
import { loadModel, saveModel } from '../io/index.js';
import { encodeModel } from './codec.js';
import { onnx, toNumber } from './proto.js';

// Hand-written wire bytes, independent of onnx-proto's encoders: fields in number order, repeated
// scalars packed (what protobufjs writes), so a lossless decode -> encode must reproduce them exactly.
type W = protobuf.Writer;
const str = (w: W, field: number, s: string): W => w.uint32((field << 3) | 2).string(s);
const varint = (w: W, field: number, n: number): W => w.uint32((field << 3) | 0).int64(n);
const msg = (w: W, field: number, body: (w: W) => void): W => {
  w.uint32((field << 3) | 2).fork();
  body(w);
  return w.ldelim();
};
const entry = (w: W, field: number, key: string, value: string): W =>
  msg(w, field, (e) => {
    str(e, 1, key);
    str(e, 2, value);
  });
const floatTensorType = (w: W, field: number, dim: number): W =>
  msg(w, field, (t) =>
    msg(t, 1, (tt) => {
      varint(tt, 1, 1); // elem_type FLOAT
      msg(tt, 2, (shape) => msg(shape, 1, (d) => varint(d, 1, dim)));
    }),
  );

const W_VALUES = new Float32Array([0.5, -1.25, 2]);

/**
 * An IR 10 / opset 21 model: Y = X + W, Z = local.MyRelu(Y) (a model-local function with an overload),
 * carrying every field newer than onnx-proto's IR 8 schema that onnxruntime accepts.
 */
function ir10Model(): Uint8Array {
  const w = protobuf.Writer.create();
  varint(w, 1, 10); // ir_version
  str(w, 2, 'handwritten');
  msg(w, 7, (g) => {
    msg(g, 1, (n) => {
      str(n, 1, 'X');
      str(n, 1, 'W');
      str(n, 2, 'Y');
      str(n, 3, 'add0');
      str(n, 4, 'Add');
      entry(n, 9, 'node.meta', 'a'); // NodeProto.metadata_props (IR 10)
      entry(n, 9, 'node.meta2', 'b');
    });
    msg(g, 1, (n) => {
      str(n, 1, 'Y');
      str(n, 2, 'Z');
      str(n, 3, 'relu0');
      str(n, 4, 'MyRelu');
      str(n, 7, 'local');
      str(n, 8, 'v2'); // NodeProto.overload (IR 10)
    });
    str(g, 2, 'g');
    msg(g, 5, (t) => {
      t.uint32((1 << 3) | 2)
        .fork()
        .int64(3)
        .ldelim(); // dims, packed
      t.uint32((2 << 3) | 0).int32(1); // data_type FLOAT
      str(t, 8, 'W');
      t.uint32((9 << 3) | 2).bytes(new Uint8Array(W_VALUES.buffer));
      entry(t, 16, 'tensor.meta', 'c'); // TensorProto.metadata_props (IR 10)
    });
    msg(g, 11, (vi) => {
      str(vi, 1, 'X');
      floatTensorType(vi, 2, 3);
      entry(vi, 4, 'vi.meta', 'd'); // ValueInfoProto.metadata_props (IR 10)
    });
    msg(g, 12, (vi) => {
      str(vi, 1, 'Z');
      floatTensorType(vi, 2, 3);
    });
    entry(g, 16, 'graph.meta', 'e'); // GraphProto.metadata_props (IR 10)
  });
  msg(w, 8, (o) => varint(o, 2, 21));
  msg(w, 8, (o) => {
    str(o, 1, 'local');
    varint(o, 2, 1);
  });
  entry(w, 14, 'model.meta', 'f');
  // Two overloads of local.MyRelu: only a model that keeps `overload` runs the Relu one.
  for (const [overload, op] of [
    ['v2', 'Relu'],
    ['v1', 'Neg'],
  ] as const) {
    msg(w, 25, (f) => {
      str(f, 1, 'MyRelu');
      str(f, 4, 'x');
      str(f, 5, 'y');
      msg(f, 7, (n) => {
        str(n, 1, 'x');
        str(n, 2, 'y');
        str(n, 4, op);
      });
      msg(f, 9, (o) => varint(o, 2, 21));
      str(f, 10, 'local');
      msg(f, 12, (vi) => {
        str(vi, 1, 'y');
        floatTensorType(vi, 2, 3);
      }); // FunctionProto.value_info (IR 10)
      str(f, 13, overload); // FunctionProto.overload (IR 10)
      entry(f, 14, 'fn.meta', op); // FunctionProto.metadata_props (IR 10)
    });
  }
  return w.finish();
}

/** ModelProto.configuration (26, IR 11) and an unknown group and fixed32/64 fields, for the codec only. */
function withExoticFields(bytes: Uint8Array): Uint8Array {
  const w = protobuf.Writer.create();
  msg(w, 26, (c) => {
    str(c, 1, 'cfg');
    varint(c, 2, 2);
  });
  w.uint32((27 << 3) | 3)
    .uint32((1 << 3) | 0)
    .uint32(7)
    .uint32((2 << 3) | 3)
    .uint32((2 << 3) | 4)
    .uint32((27 << 3) | 4);
  w.uint32((28 << 3) | 5).fixed32(0xdeadbeef);
  w.uint32((29 << 3) | 1).fixed64(12345);
  const tail = w.finish();
  const out = new Uint8Array(bytes.length + tail.length);
  out.set(bytes);
  out.set(tail, bytes.length);
  return out;
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
const metaOf = (raw: Uint8Array[] | undefined): string[] =>
  (raw ?? []).map((f) => {
    const r = protobuf.Reader.create(f);
    r.uint32(); // tag
    const e = onnx.StringStringEntryProto.decode(r, r.uint32());
    return `${e.key}=${e.value}`;
  });

test('fields newer than IR 8 are kept on the message they belong to', () => {
  const m = onnx.ModelProto.decode(ir10Model());
  const g = m.graph as onnx.GraphProto;
  assert.deepEqual(metaOf(g.node[0]!.$unknown), ['node.meta=a', 'node.meta2=b']);
  assert.equal(g.node[1]!.$unknown?.length, 1); // overload
  assert.deepEqual(metaOf(g.initializer[0]!.$unknown), ['tensor.meta=c']);
  assert.deepEqual(metaOf(g.input[0]!.$unknown), ['vi.meta=d']);
  assert.equal(g.output[0]!.$unknown, undefined);
  assert.deepEqual(metaOf(g.$unknown), ['graph.meta=e']);
  assert.equal(m.functions[0]!.$unknown?.length, 3);
  assert.equal(m.$unknown, undefined);
  assert.deepEqual(Array.from(new Float32Array(new Uint8Array(g.initializer[0]!.rawData!).buffer)), Array.from(W_VALUES));
});

test('encode(decode(b)) reproduces canonical IR 10/11 bytes exactly, groups and fixed widths included', () => {
  for (const b of [ir10Model(), withExoticFields(ir10Model())]) {
    const again = onnx.ModelProto.encode(onnx.ModelProto.decode(b)).finish();
    assert.equal(again.length, b.length);
    assert.ok(eq(again, b));
  }
  const m = onnx.ModelProto.decode(withExoticFields(ir10Model()));
  assert.equal(m.$unknown?.length, 4);
});

test('unknown fields survive spread-and-create edits and fromObject', () => {
  const m = onnx.ModelProto.decode(ir10Model());
  const g = m.graph as onnx.GraphProto;
  const node = g.node[0]!;
  const edited = onnx.NodeProto.create({ ...node, name: 'renamed' });
  const back = onnx.NodeProto.decode(onnx.NodeProto.encode(edited).finish());
  assert.equal(back.name, 'renamed');
  assert.deepEqual(metaOf(back.$unknown), ['node.meta=a', 'node.meta2=b']);
  const viaObject = onnx.ValueInfoProto.fromObject({ name: 'X', $unknown: g.input[0]!.$unknown });
  assert.deepEqual(metaOf(viaObject.$unknown), ['vi.meta=d']);
  assert.throws(() => onnx.NodeProto.encode({ $unknown: ['x' as unknown as Uint8Array] }), /\$unknown must be an array of Uint8Array/);
});

test('a caller-supplied Reader is left uninstrumented, also when decoding fails', () => {
  const reader = protobuf.Reader.create(ir10Model());
  onnx.ModelProto.decode(reader);
  assert.equal(Object.hasOwn(reader, 'uint32'), false);
  const bad = protobuf.Reader.create(ir10Model().subarray(0, 40));
  assert.throws(() => onnx.ModelProto.decode(bad), RangeError);
  assert.equal(Object.hasOwn(bad, 'skipType'), false);
});

test('onnxruntime runs the re-encoded IR 10 model like the original', async () => {
  const original = ir10Model();
  const reencoded = onnx.ModelProto.encode(onnx.ModelProto.decode(original)).finish();
  const x = new ort.Tensor('float32', new Float32Array([1, 1, -3]), [3]);
  const outputs: Float32Array[] = [];
  for (const bytes of [original, reencoded]) {
    const session = await ort.InferenceSession.create(bytes);
    const { Z } = await session.run({ X: x });
    outputs.push(Z!.data as Float32Array);
    await session.release();
  }
  // Relu(X + W) = Relu([1.5, -0.25, -1]); exact in float32.
  assert.deepEqual(Array.from(outputs[0]!), [1.5, 0, 0]);
  assert.deepEqual(Array.from(outputs[1]!), Array.from(outputs[0]!));
});

test('IR 10 fields survive loadModel -> saveModel (inline and external data) -> loadModel through files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
  try {
    const original = ir10Model();
    const input = path.join(dir, 'in.onnx');
    fs.writeFileSync(input, original);
    const loaded = await loadModel(input);
    await saveModel(loaded, path.join(dir, 'inline.onnx'), { inputs: [input] });
    assert.ok(eq(fs.readFileSync(path.join(dir, 'inline.onnx')), original));
    const res = await saveModel(loaded, path.join(dir, 'ext.onnx'), { externalData: { threshold: 1 } });
    assert.ok(res.externalDataPath);
    const back = await loadModel(path.join(dir, 'ext.onnx'));
    assert.deepEqual(metaOf((back.graph as onnx.GraphProto).initializer[0]!.$unknown), ['tensor.meta=c']);
    assert.ok(eq(encodeModel(back), original));
    const session = await ort.InferenceSession.create(path.join(dir, 'ext.onnx'));
    const { Z } = await session.run({ X: new ort.Tensor('float32', new Float32Array([1, 1, -3]), [3]) });
    await session.release();
    assert.deepEqual(Array.from(Z!.data as Float32Array), [1.5, 0, 0]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('toNumber converts Longs and refuses values a number would round', () => {
  const m = onnx.ModelProto.decode(ir10Model());
  assert.equal(toNumber(m.irVersion), 10);
  assert.equal(toNumber(null), 0);
  assert.equal(toNumber(-5), -5);
  const neg = onnx.TensorProto.decode(onnx.TensorProto.encode({ dims: [-7, 2 ** 40] }).finish());
  assert.deepEqual(
    neg.dims.map((d) => toNumber(d)),
    [-7, 2 ** 40],
  );
  const big = onnx.TensorProto.decode(onnx.TensorProto.encode({ dims: ['9007199254740993'] }).finish());
  assert.throws(() => toNumber(big.dims[0], 'dim'), /dim 9007199254740993 does not fit/);
});
