import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShrinkError } from '../errors.js';
import { decodeModel, encodeModel, prepareEncode } from './codec.js';
import { onnx } from './proto.js';

const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

function bytesOf(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    docString: `doc of ${name}`,
    type: {
      tensorType: {
        elemType: T.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** A model touching every part of the schema Shrink relies on, built from raw proto objects. */
function richModel(): onnx.ModelProto {
  const sub = onnx.GraphProto.create({
    name: 'then',
    node: [{ opType: 'Identity', input: ['W'], output: ['t_out'] }],
    output: [valueInfo('t_out', [2])],
  });
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'shrink-test',
    producerVersion: '0.1',
    domain: 'ai.shrink',
    modelVersion: 3,
    docString: 'a model',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
      { domain: 'local', version: 1 },
    ],
    metadataProps: [
      { key: 'author', value: 'me' },
      { key: 'license', value: 'MIT' },
    ],
    graph: {
      name: 'main',
      docString: 'graph doc',
      input: [valueInfo('X', ['batch', 2])],
      output: [valueInfo('Y', ['batch', 2])],
      valueInfo: [valueInfo('H', ['batch', 2])],
      initializer: [
        { name: 'W', dims: [2], dataType: T.FLOAT, rawData: bytesOf([1.5, -2]) },
        { name: 'F', dims: [3], dataType: T.FLOAT, floatData: [0.25, 0.5, 0.75] },
        { name: 'I', dims: [2], dataType: T.INT64, int64Data: [-3, 2 ** 40] },
        { name: 'D', dims: [1], dataType: T.DOUBLE, doubleData: [Math.PI] },
        { name: 'S', dims: [2], dataType: T.STRING, stringData: [new TextEncoder().encode('a'), new Uint8Array([0, 255])] },
      ],
      sparseInitializer: [
        {
          dims: [4],
          values: { name: 'sp', dims: [1], dataType: T.FLOAT, floatData: [9] },
          indices: { name: 'sp_idx', dims: [1], dataType: T.INT64, int64Data: [2] },
        },
      ],
      quantizationAnnotation: [{ tensorName: 'H', quantParameterTensorNames: [{ key: 'SCALE_TENSOR', value: 'W' }] }],
      node: [
        {
          name: 'n0',
          opType: 'Add',
          input: ['X', 'W'],
          output: ['H'],
          docString: 'add',
          attribute: [
            { name: 'f', type: A.FLOAT, f: 0.5 },
            { name: 'i', type: A.INT, i: -7 },
            { name: 's', type: A.STRING, s: new TextEncoder().encode('str') },
            { name: 't', type: A.TENSOR, t: { dims: [1], dataType: T.FLOAT, rawData: bytesOf([4]) } },
            { name: 'g', type: A.GRAPH, g: sub },
            { name: 'floats', type: A.FLOATS, floats: [1, 2.5] },
            { name: 'ints', type: A.INTS, ints: [1, -2, 3] },
            { name: 'strings', type: A.STRINGS, strings: [new TextEncoder().encode('x')] },
            { name: 'tensors', type: A.TENSORS, tensors: [{ dims: [1], dataType: T.INT32, int32Data: [5] }] },
            { name: 'graphs', type: A.GRAPHS, graphs: [sub] },
            { name: 'tp', type: A.TYPE_PROTO, tp: { sequenceType: { elemType: { tensorType: { elemType: T.FLOAT } } } } },
            { name: 'ref', type: A.FLOAT, refAttrName: 'alpha', docString: 'ref doc' },
          ],
        },
        { name: 'n1', opType: 'Custom', domain: 'com.microsoft', input: ['H'], output: ['Y'] },
      ],
    },
    functions: [
      {
        name: 'F1',
        domain: 'local',
        input: ['a'],
        output: ['b'],
        attribute: ['alpha'],
        node: [{ opType: 'Relu', input: ['a'], output: ['b'] }],
        opsetImport: [{ domain: '', version: 17 }],
        docString: 'function doc',
      },
    ],
    trainingInfo: [{ initialization: { name: 'init' }, algorithm: { name: 'algo' } }],
  });
}

const plain = (m: onnx.ModelProto): unknown =>
  onnx.ModelProto.toObject(m, { longs: String, enums: Number, bytes: Array, defaults: false, arrays: false });

test('decode(encode(m)) keeps every node, attribute, opset, metadata entry, value_info, tensor byte and function', () => {
  const m = richModel();
  const bytes = encodeModel(m);
  const back = decodeModel(bytes, 'rich.onnx');
  assert.deepEqual(plain(back), plain(m));
  const g = back.graph as onnx.GraphProto; // decoded messages are class instances all the way down
  // Spot checks in case toObject's view hid something.
  assert.equal((g.node[0] as onnx.NodeProto).attribute.length, 12);
  assert.equal((g.node[0] as onnx.NodeProto).attribute[11]!.refAttrName, 'alpha');
  assert.deepEqual(Array.from((g.initializer[0] as onnx.TensorProto).rawData), Array.from(bytesOf([1.5, -2])));
  assert.equal(String((g.initializer[2] as onnx.TensorProto).int64Data[1]), String(2 ** 40));
  assert.deepEqual(
    back.metadataProps.map((e) => `${e.key}=${e.value}`),
    ['author=me', 'license=MIT'],
  );
  assert.deepEqual(
    back.opsetImport.map((o) => `${o.domain}:${String(o.version)}`),
    [':17', 'com.microsoft:1', 'local:1'],
  );
  assert.equal((back.functions[0] as onnx.FunctionProto).node[0]!.opType, 'Relu');
  assert.equal(g.valueInfo[0]!.type!.tensorType!.shape!.dim![0]!.dimParam, 'batch');
  // And the bytes are stable from the first re-encode on.
  assert.deepEqual(encodeModel(back), bytes);
});

test('decodeModel keeps raw_data as views on the input, not copies', () => {
  const bytes = encodeModel(richModel());
  const w = (decodeModel(bytes).graph as onnx.GraphProto).initializer[0]!.rawData!;
  assert.equal(w.buffer, bytes.buffer);
});

function invalid(bytes: Uint8Array, why: RegExp): void {
  assert.throws(
    () => decodeModel(bytes, 'm.onnx'),
    (e: unknown) => {
      assert.ok(e instanceof ShrinkError);
      assert.equal(e.code, 'INVALID_MODEL');
      assert.match(e.message, /^m\.onnx: not an ONNX model \(.*\); expected a serialized onnx\.ModelProto$/);
      assert.match(e.message, why);
      return true;
    },
  );
}

test('garbage, truncated and empty input become INVALID_MODEL saying what is wrong', () => {
  const good = encodeModel(richModel());
  invalid(good.subarray(0, Math.floor(good.length / 2)), /truncated or corrupt protobuf/);
  invalid(new Uint8Array(0), /empty input/);
  invalid(new TextEncoder().encode('{"not": "onnx"}'), /corrupt protobuf|no /);
  // Deterministic pseudo-random inputs: every one must be refused, none may crash differently.
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 200; i++) {
    const junk = new Uint8Array(1 + (i % 64) * 5).map(next);
    invalid(junk, /./);
  }
});

test('messages that decode but are no model are refused: no graph, no opset_import, ir_version <= 0', () => {
  const base = richModel();
  invalid(encodeModel({ ...base, graph: null }), /no graph/);
  invalid(encodeModel({ ...base, opsetImport: [] }), /no opset_import/);
  invalid(encodeModel({ ...base, irVersion: 0 }), /no ir_version/);
  invalid(encodeModel({ ...base, irVersion: -2 }), /ir_version -2 is not positive/);
});

test('prepareEncode reports the size first; finish() and chunks() give the same bytes, once', () => {
  const big = richModel();
  // Tensor data past the direct-yield size, a string past the staging size, many small fields.
  big.graph!.initializer!.push({
    name: 'BIG',
    dims: [50_000],
    dataType: T.FLOAT,
    rawData: bytesOf(Array.from({ length: 50_000 }, (_, i) => i)),
  });
  big.docString = 'd'.repeat(1_500_000);
  big.metadataProps.push(...Array.from({ length: 5000 }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(i % 300) })));
  for (const m of [richModel(), big]) {
    const a = prepareEncode(m);
    const whole = a.finish();
    assert.equal(a.byteLength, whole.length);
    assert.throws(() => a.finish(), /already taken/);
    const b = prepareEncode(m);
    const pieces = [...b.chunks()];
    assert.ok(Buffer.concat(pieces).equals(whole));
    assert.throws(() => b.chunks(), /already taken/);
    if (m === big) assert.ok(pieces.length > 3);
  }
});
