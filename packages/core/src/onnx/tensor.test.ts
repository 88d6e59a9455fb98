import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onnx } from './proto.js';
import {
  DTYPES,
  bfloat16ToFloat32,
  bytesPerElement,
  dtypeFromOnnx,
  dtypeToOnnx,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  makeStringTensor,
  makeTensor,
  readTensor,
  tensorNumel,
  toFloat32,
  type DType,
  type TensorData,
} from './tensor.js';

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

/** Encodes and decodes, so raw_data comes back as a (possibly unaligned) view into the message bytes. */
function viaWire(t: onnx.ITensorProto): onnx.TensorProto {
  // A leading string field shifts raw_data to an odd offset inside the buffer.
  const withName = { ...t, docString: 'x' };
  return onnx.TensorProto.decode(onnx.TensorProto.encode(withName).finish());
}

test('dtype codes round-trip and match onnx.TensorProto.DataType', () => {
  const DT = onnx.TensorProto.DataType;
  assert.equal(dtypeToOnnx('float32'), DT.FLOAT);
  assert.equal(dtypeToOnnx('float16'), DT.FLOAT16);
  assert.equal(dtypeToOnnx('bfloat16'), DT.BFLOAT16);
  assert.equal(dtypeToOnnx('int64'), DT.INT64);
  assert.equal(dtypeToOnnx('bool'), DT.BOOL);
  for (const d of DTYPES) assert.equal(dtypeFromOnnx(dtypeToOnnx(d)), d);
  assert.equal(DTYPES.length, 14);
  assert.throws(
    () => dtypeFromOnnx(22),
    (e) => codeOf(e) === 'UNSUPPORTED_MODEL' && /INT4/.test(String(e)),
  );
  assert.throws(
    () => dtypeFromOnnx(0),
    (e) => codeOf(e) === 'UNSUPPORTED_MODEL' && /UNDEFINED/.test(String(e)),
  );
  assert.equal(bytesPerElement('float16'), 2);
  assert.equal(bytesPerElement('uint64'), 8);
  assert.equal(bytesPerElement('bool'), 1);
  assert.throws(
    () => bytesPerElement('string'),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
  assert.equal(tensorNumel([2, 3, 4]), 24);
  assert.equal(tensorNumel([]), 1);
  assert.equal(tensorNumel([3, 0]), 0);
});

const samples: Record<Exclude<DType, 'string'>, TensorData> = {
  float32: new Float32Array([1.5, -2.25, 3e38, -1e-40, 0, Infinity]),
  float16: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00]),
  bfloat16: new Uint16Array([0x3f80, 0xc000, 0x7f7f, 0x0001, 0x8000, 0xff80]),
  float64: new Float64Array([Math.PI, -1e300, 5e-324, 0, -0, 1]),
  int8: new Int8Array([-128, 127, 0, -1, 5, 1]),
  uint8: new Uint8Array([0, 255, 128, 1, 2, 3]),
  int16: new Int16Array([-32768, 32767, 0, -1, 300, 1]),
  uint16: new Uint16Array([0, 65535, 1, 2, 3, 4]),
  int32: new Int32Array([-2147483648, 2147483647, 0, -1, 7, 1]),
  uint32: new Uint32Array([0, 4294967295, 1, 2, 3, 4]),
  int64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 40n, 1n]),
  uint64: new BigUint64Array([0n, 2n ** 64n - 1n, 1n, 2n ** 53n + 1n, 3n, 4n]),
  bool: new Uint8Array([1, 0, 1, 1, 0, 0]),
};

test('makeTensor -> wire -> readTensor round-trips every numeric dtype (raw_data, unaligned views)', () => {
  for (const [dtype, data] of Object.entries(samples) as [Exclude<DType, 'string'>, TensorData][]) {
    const t = viaWire(makeTensor(`t_${dtype}`, dtype, [2, 3], data));
    assert.equal(t.dataType, dtypeToOnnx(dtype), dtype);
    const v = readTensor(t);
    assert.equal(v.dtype, dtype);
    assert.equal(v.name, `t_${dtype}`);
    assert.deepEqual(v.dims, [2, 3]);
    assert.equal(v.data.constructor, data.constructor, dtype);
    assert.deepEqual([...v.data], [...data], dtype);
    // Aligned raw_data is viewed in place, unaligned raw_data copied.
    const aligned = t.rawData.byteOffset % bytesPerElement(dtype) === 0;
    assert.equal(v.data.buffer === t.rawData.buffer, aligned, dtype);
  }
});

test('readTensor views aligned raw_data in place (read-only, shared) and copies unaligned raw_data', () => {
  const values = new Float32Array([1.5, -2, 3.25, 0]);
  const src = new Uint8Array(values.buffer);
  const buf = new Uint8Array(4 + src.length + 1);
  for (const offset of [4, 1]) {
    buf.set(src, offset);
    const raw = buf.subarray(offset, offset + src.length);
    const t = onnx.TensorProto.create({ name: 'w', dataType: dtypeToOnnx('float32'), dims: [4], rawData: raw });
    const v = readTensor(t);
    assert.ok(v.data instanceof Float32Array);
    assert.deepEqual([...v.data], [...values], `offset ${offset}`);
    if (offset === 4) {
      assert.equal(v.data.buffer, buf.buffer, 'an aligned tensor is a view');
      assert.equal(v.data.byteOffset, 4);
      buf[offset + 3]! ^= 0x80; // flips the sign of element 0 in the model's bytes: the view sees it
      assert.equal(v.data[0], -1.5);
    } else {
      assert.notEqual(v.data.buffer, buf.buffer, 'an unaligned tensor is a copy');
      assert.equal(v.data.byteOffset, 0);
    }
  }
  // 1-byte elements are always aligned; 8-byte ones need offset % 8 === 0.
  const bytes = new Uint8Array(17);
  const i8 = readTensor(onnx.TensorProto.create({ dataType: dtypeToOnnx('int8'), dims: [3], rawData: bytes.subarray(3, 6) }));
  assert.equal(i8.data.buffer, bytes.buffer);
  const f64 = readTensor(onnx.TensorProto.create({ dataType: dtypeToOnnx('float64'), dims: [1], rawData: bytes.subarray(4, 12) }));
  assert.notEqual(f64.data.buffer, bytes.buffer);
});

test('makeTensor with { copy: false } takes the array over: raw_data is a view of its bytes', () => {
  const codes = new Int8Array([-128, 0, 5, 127]);
  const t = makeTensor('q', 'int8', [2, 2], codes, { copy: false });
  assert.equal(t.rawData.buffer, codes.buffer);
  assert.equal(t.rawData.byteOffset, codes.byteOffset);
  assert.equal(t.rawData.byteLength, codes.byteLength);
  const scales = new Float32Array([0.5, 1, 2]).subarray(1);
  const s = makeTensor('s', 'float32', [2], scales, { copy: false });
  assert.equal(s.rawData.byteOffset, 4);
  assert.deepEqual([...readTensor(viaWire(s)).data], [1, 2]);
  assert.deepEqual([...readTensor(viaWire(t)).data], [-128, 0, 5, 127]);
  // The default still copies; so does copy: true.
  assert.notEqual(makeTensor('c', 'int8', [4], codes).rawData.buffer, codes.buffer);
  assert.notEqual(makeTensor('c', 'int8', [4], codes, { copy: true }).rawData.buffer, codes.buffer);
  assert.throws(
    () => makeTensor('q', 'int8', [3], codes, { copy: false }),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
});

test('makeTensor converts plain numbers (float16 values to bits) and checks its arguments', () => {
  assert.deepEqual([...readTensor(makeTensor('h', 'float16', [3], [1, -2, 65520])).data], [0x3c00, 0xc000, 0x7c00]);
  assert.deepEqual([...readTensor(makeTensor('b', 'bfloat16', [1], [1])).data], [0x3f80]);
  assert.deepEqual([...readTensor(makeTensor('i', 'int64', [2], [-3, 2 ** 40])).data], [-3n, 2n ** 40n]);
  assert.deepEqual([...readTensor(makeTensor('q', 'bool', [2], [0, 7])).data], [0, 1]);
  assert.deepEqual(readTensor(makeTensor('s', 'float32', [], [4])).dims, []);
  assert.throws(
    () => makeTensor('w', 'float32', [2, 2], [1, 2, 3]),
    (e) => codeOf(e) === 'INVALID_ARGUMENT' && /'w'.*4 elements.*3/.test(String(e)),
  );
  assert.throws(
    () => makeTensor('w', 'float32', [2], new Int32Array(2)),
    (e) => codeOf(e) === 'INVALID_ARGUMENT' && /Float32Array/.test(String(e)),
  );
  assert.throws(
    () => makeTensor('w', 'int64', [1], [1.5]),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
  assert.throws(
    () => makeTensor('w', 'float32', [-1], []),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
  // The tensor keeps its own copy: later writes to the source array do not reach it.
  const src = new Float32Array([1, 2]);
  const t = makeTensor('c', 'float32', [2], src);
  src[0] = 9;
  assert.deepEqual([...readTensor(t).data], [1, 2]);
});

test('string tensors round-trip through string_data', () => {
  const v = readTensor(viaWire(makeStringTensor('s', [2], ['héllo', ''])));
  assert.equal(v.dtype, 'string');
  assert.deepEqual(v.strings, ['héllo', '']);
  assert.throws(
    () => makeTensor('s', 'string', [1], [1]),
    (e) => codeOf(e) === 'INVALID_ARGUMENT',
  );
});

test('readTensor decodes the typed (non-raw) fields, including int64 Longs', () => {
  const DT = onnx.TensorProto.DataType;
  const cases: { t: onnx.ITensorProto; want: unknown[]; dtype: DType }[] = [
    { t: { dataType: DT.FLOAT, dims: [2], floatData: [1.5, -2] }, want: [1.5, -2], dtype: 'float32' },
    { t: { dataType: DT.INT8, dims: [3], int32Data: [-128, 127, -1] }, want: [-128, 127, -1], dtype: 'int8' },
    { t: { dataType: DT.UINT8, dims: [2], int32Data: [255, 0] }, want: [255, 0], dtype: 'uint8' },
    { t: { dataType: DT.FLOAT16, dims: [2], int32Data: [0x3c00, 0xfc00] }, want: [0x3c00, 0xfc00], dtype: 'float16' },
    { t: { dataType: DT.BOOL, dims: [2], int32Data: [1, 0] }, want: [1, 0], dtype: 'bool' },
    { t: { dataType: DT.INT32, dims: [1], int32Data: [-7] }, want: [-7], dtype: 'int32' },
    { t: { dataType: DT.INT64, dims: [3], int64Data: [-1, 2 ** 40, -(2 ** 50)] }, want: [-1n, 2n ** 40n, -(2n ** 50n)], dtype: 'int64' },
    { t: { dataType: DT.DOUBLE, dims: [1], doubleData: [Math.E] }, want: [Math.E], dtype: 'float64' },
    { t: { dataType: DT.UINT32, dims: [1], uint64Data: [4294967295] }, want: [4294967295], dtype: 'uint32' },
    { t: { dataType: DT.UINT64, dims: [1], uint64Data: [2 ** 52] }, want: [2n ** 52n], dtype: 'uint64' },
  ];
  for (const c of cases) {
    // Through the wire, so int64 fields come back as Long objects as they do from a model file.
    const decoded = viaWire({ name: 'x', ...c.t });
    const v = readTensor(decoded);
    assert.equal(v.dtype, c.dtype);
    assert.deepEqual([...v.data], c.want, c.dtype);
  }
  const longs = viaWire({ name: 'x', dataType: DT.INT64, dims: [1], int64Data: [-5] });
  assert.equal(typeof longs.int64Data[0], 'object', 'int64_data decodes as Long');
});

test('readTensor refuses external data and inconsistent payloads with named errors', () => {
  const DT = onnx.TensorProto.DataType;
  const ext: onnx.ITensorProto = {
    name: 'big',
    dataType: DT.FLOAT,
    dims: [4],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [{ key: 'location', value: 'm.onnx_data' }],
  };
  assert.throws(
    () => readTensor(ext),
    (e) => codeOf(e) === 'UNSUPPORTED_MODEL' && /'big'.*external/.test(String(e)),
  );
  assert.throws(
    () => readTensor({ name: 'r', dataType: DT.FLOAT, dims: [3], rawData: new Uint8Array(8) }),
    (e) => codeOf(e) === 'INVALID_MODEL' && /'r'.*8 bytes.*12/.test(String(e)),
  );
  assert.throws(
    () => readTensor({ name: 'f', dataType: DT.FLOAT, dims: [3], floatData: [1] }),
    (e) => codeOf(e) === 'INVALID_MODEL' && /'f'.*float_data/.test(String(e)),
  );
  assert.deepEqual([...readTensor({ name: 'e', dataType: DT.FLOAT, dims: [0] }).data], []);
});

function h(x: number): number {
  return float32ToFloat16(new Float32Array([x]))[0]!;
}

test('float32ToFloat16 rounds to nearest even, with subnormals, overflow, ±inf and NaN', () => {
  assert.equal(h(1), 0x3c00);
  assert.equal(h(-2), 0xc000);
  assert.equal(h(65504), 0x7bff); // largest half
  assert.equal(h(65519), 0x7bff); // below the rounding midpoint
  assert.equal(h(65520), 0x7c00); // midpoint rounds to even: inf
  assert.equal(h(1e6), 0x7c00);
  assert.equal(h(-1e6), 0xfc00);
  assert.equal(h(Infinity), 0x7c00);
  assert.equal(h(-Infinity), 0xfc00);
  const nan = h(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  assert.equal(h(-0), 0x8000);
  assert.equal(h(1 + 2 ** -11), 0x3c00); // tie -> even (down)
  assert.equal(h(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  assert.equal(h(1 + 2 ** -11 + 2 ** -20), 0x3c01); // above the tie
  assert.equal(h(2 ** -14), 0x0400); // smallest normal
  assert.equal(h(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(h(2 ** -25), 0x0000); // tie -> even zero
  assert.equal(h(2 ** -25 * 1.5), 0x0001);
  assert.equal(h(3 * 2 ** -25), 0x0002); // 1.5 ulp ties to even 2
  assert.equal(h(1023 * 2 ** -24), 0x03ff); // largest subnormal
  assert.equal(h(1023.5 * 2 ** -24), 0x0400); // tie rounds up into the normals
  assert.equal(h(1e-10), 0);
  assert.equal(h(-1e-10), 0x8000);
});

test('every half bit pattern survives float16 -> float32 -> float16', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const f = float16ToFloat32(all);
  const back = float32ToFloat16(f);
  for (let i = 0; i < 65536; i++) {
    const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
    if (isNaN16) assert.ok(Number.isNaN(f[i]), `0x${i.toString(16)} decodes to NaN`);
    else assert.equal(back[i], i, `0x${i.toString(16)}`);
  }
  assert.equal(f[0x0001], 2 ** -24);
  assert.equal(f[0x3555], 0.333251953125);
  assert.equal(f[0xfbff], -65504);
});

test('bfloat16 conversion rounds to nearest even and decodes exactly', () => {
  const bits = float32ToBfloat16(new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -Infinity, NaN, 3.140625]));
  assert.deepEqual([...bits.slice(0, 4)], [0x3f80, 0x3f80, 0x3f82, 0xff80]);
  assert.ok(Number.isNaN(bfloat16ToFloat32(bits.slice(4, 5))[0]));
  assert.equal(bfloat16ToFloat32(bits.slice(5))[0], 3.140625);
  const v = readTensor(makeTensor('b', 'bfloat16', [2], new Uint16Array([0x3f80, 0xc040])));
  assert.deepEqual([...toFloat32(v)], [1, -3]);
  assert.deepEqual([...toFloat32(readTensor(makeTensor('i', 'int8', [2], [-3, 4])))], [-3, 4]);
});
