import { ShrinkError } from '../errors.js';
import { onnx, toNumber, type Long } from './proto.js';

/**
 * Element types Shrink reads and writes. float16 and bfloat16 travel as Uint16Array of raw bits,
 * bool as Uint8Array of 0/1, int64/uint64 as BigInt64Array/BigUint64Array.
 */
export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface TensorValue {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
  /** Only for dtype 'string' (then `data` is empty). */
  strings?: string[];
}

const ONNX_CODE: Readonly<Record<DType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};

const FROM_CODE: ReadonlyMap<number, DType> = new Map(Object.entries(ONNX_CODE).map(([d, c]) => [c, d as DType]));

/** Names of ONNX element types Shrink does not carry, for error messages. */
const OTHER_CODE_NAMES: Readonly<Record<number, string>> = {
  0: 'UNDEFINED',
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  17: 'FLOAT8E4M3FN',
  18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2',
  20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4',
  22: 'INT4',
  23: 'FLOAT4E2M1',
};

const BYTES: Readonly<Record<Exclude<DType, 'string'>, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
};

type TypedCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TensorData;
  readonly name: string;
};

const CTOR: Readonly<Record<Exclude<DType, 'string'>, TypedCtor>> = {
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

export const DTYPES: readonly DType[] = Object.keys(ONNX_CODE) as DType[];

/** Smallest and largest value of each integer type (the 64-bit bounds as the nearest doubles). */
export const INT_DTYPE_RANGE: Readonly<Partial<Record<DType, readonly [number, number]>>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-(2 ** 63), 2 ** 63 - 1],
  uint64: [0, 2 ** 64 - 1],
};

export function isFloatDType(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
}

/** onnx.TensorProto.DataType value of `d`. */
export function dtypeToOnnx(d: DType): number {
  const code = ONNX_CODE[d];
  if (code === undefined) throw new ShrinkError('INVALID_ARGUMENT', `unknown dtype '${String(d)}'; valid: ${DTYPES.join(', ')}`);
  return code;
}

export function dtypeFromOnnx(code: number): DType {
  const d = FROM_CODE.get(code);
  if (d === undefined) {
    const name = OTHER_CODE_NAMES[code] ?? `unknown code ${code}`;
    throw new ShrinkError('UNSUPPORTED_MODEL', `ONNX element type ${name} (${code}) is not supported; supported: ${DTYPES.join(', ')}`);
  }
  return d;
}

/** Bytes one element takes in raw_data. Strings have no fixed width, so they are refused. */
export function bytesPerElement(d: DType): number {
  if (d === 'string') throw new ShrinkError('INVALID_ARGUMENT', `dtype 'string' has no fixed element size`);
  const b = BYTES[d];
  if (b === undefined) throw new ShrinkError('INVALID_ARGUMENT', `unknown dtype '${String(d)}'; valid: ${DTYPES.join(', ')}`);
  return b;
}

export function tensorNumel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function toBigInt(v: number | Long, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  const b = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? BigInt.asUintN(64, b) : BigInt.asIntN(64, b);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each element's bytes in place; raw_data is little-endian, so big-endian hosts need it. */
function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

function typedName(data: unknown): string {
  return (data as { constructor?: { name?: string } })?.constructor?.name ?? typeof data;
}

/** Typed array for `dtype` from plain numbers; float16/bfloat16 numbers are values, converted to bits. */
function fromNumbers(name: string, dtype: Exclude<DType, 'string'>, values: readonly number[]): TensorData {
  switch (dtype) {
    case 'float16':
      return float32ToFloat16(Float32Array.from(values));
    case 'bfloat16':
      return float32ToBfloat16(Float32Array.from(values));
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'int64':
    case 'uint64': {
      const out = dtype === 'int64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
      values.forEach((v, i) => {
        if (!Number.isSafeInteger(v)) {
          throw new ShrinkError('INVALID_ARGUMENT', `makeTensor '${name}': ${dtype} element ${i} is ${v}, expected a safe integer`);
        }
        out[i] = BigInt(v);
      });
      return out;
    }
    default: {
      const Ctor = CTOR[dtype] as unknown as { from(v: readonly number[]): TensorData };
      return Ctor.from(values);
    }
  }
}

export interface MakeTensorOptions {
  /**
   * false: the tensor takes ownership of a typed-array `data` — raw_data becomes a byte view over
   * `data`'s memory instead of a copy, so the caller must not touch `data` afterwards. Only on
   * little-endian hosts (raw_data is little-endian); elsewhere it is copied and byte-swapped anyway.
   * Default true.
   */
  copy?: boolean;
}

/**
 * A TensorProto with little-endian raw_data (a copy of `data`, unless `opts.copy` is false). Plain
 * numbers are converted to `dtype`; typed arrays must already be the array type of `dtype`
 * (Uint16Array bits for float16).
 */
export function makeTensor(
  name: string,
  dtype: DType,
  dims: readonly number[],
  data: TensorData | readonly number[],
  opts: MakeTensorOptions = {},
): onnx.TensorProto {
  if (dtype === 'string') {
    throw new ShrinkError('INVALID_ARGUMENT', `makeTensor '${name}': use makeStringTensor for dtype 'string'`);
  }
  const Ctor = CTOR[dtype];
  if (Ctor === undefined) throw new ShrinkError('INVALID_ARGUMENT', `makeTensor '${name}': unknown dtype '${String(dtype)}'`);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShrinkError('INVALID_ARGUMENT', `makeTensor '${name}': dims [${dims.join(', ')}] must be non-negative integers`);
    }
  }
  let typed: TensorData;
  if (Array.isArray(data)) typed = fromNumbers(name, dtype, data as readonly number[]);
  else if (data instanceof Ctor) typed = data;
  else {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `makeTensor '${name}': ${dtype} data must be a ${Ctor.name} or number[], got ${typedName(data)}`,
    );
  }
  const numel = tensorNumel(dims);
  if (typed.length !== numel) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `makeTensor '${name}': dims [${dims.join(', ')}] hold ${numel} elements but data has ${typed.length}`,
    );
  }
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  // Numbers were converted into a fresh array above, so that one is owned already.
  const owned = opts.copy === false || typed !== data;
  let raw = bytes;
  if (!owned || !LITTLE_ENDIAN_HOST) {
    raw = new Uint8Array(typed.byteLength);
    raw.set(bytes);
    if (!LITTLE_ENDIAN_HOST) swapBytes(raw, BYTES[dtype]);
  }
  return onnx.TensorProto.create({ name, dataType: ONNX_CODE[dtype], dims: [...dims], rawData: raw });
}

/** A string tensor (string_data, UTF-8). */
export function makeStringTensor(name: string, dims: readonly number[], values: readonly string[]): onnx.TensorProto {
  const numel = tensorNumel(dims);
  if (values.length !== numel) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `makeStringTensor '${name}': dims [${dims.join(', ')}] hold ${numel} elements but got ${values.length} strings`,
    );
  }
  const enc = new TextEncoder();
  return onnx.TensorProto.create({
    name,
    dataType: ONNX_CODE.string,
    dims: [...dims],
    stringData: values.map((s) => enc.encode(s)),
  });
}

export function isExternalTensor(t: onnx.ITensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0;
}

export function tensorDims(t: onnx.ITensorProto): number[] {
  return (t.dims ?? []).map((d) => toNumber(d as number | Long, `dim of tensor '${t.name ?? ''}'`));
}

function countMismatch(t: onnx.ITensorProto, field: string, got: number, numel: number): ShrinkError {
  return new ShrinkError(
    'INVALID_MODEL',
    `tensor '${t.name ?? ''}': ${field} holds ${got} values but dims [${tensorDims(t).join(', ')}] need ${numel}`,
  );
}

/**
 * Decodes a TensorProto into a typed array. Reads raw_data or whichever typed field the dtype uses.
 *
 * Treat the returned `data` as READ-ONLY: when raw_data sits at an offset aligned for the element
 * type (and the host is little-endian, as raw_data is), `data` is a view over raw_data's bytes,
 * shared with the model, so writing into it would change the model. Copying every weight out cost
 * as much time and memory as the rest of a quantization pass. Unaligned raw_data (e.g. a view into
 * a decoded model file) is copied. Callers that need to modify the values must copy them first.
 */
export function readTensor(t: onnx.ITensorProto): TensorValue {
  const name = t.name ?? '';
  if (isExternalTensor(t)) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `tensor '${name}' keeps its data in an external file; load the model through @shrink/core/io so external data is resolved first`,
    );
  }
  const dtype = dtypeFromOnnx(t.dataType ?? 0);
  const dims = tensorDims(t);
  const numel = tensorNumel(dims);
  if (dtype === 'string') {
    const dec = new TextDecoder();
    const strings = (t.stringData ?? []).map((b) => dec.decode(b));
    if (strings.length !== numel) throw countMismatch(t, 'string_data', strings.length, numel);
    return { name, dtype, dims, data: new Uint8Array(0), strings };
  }
  const Ctor = CTOR[dtype];
  const width = BYTES[dtype];
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== numel * width) {
      throw new ShrinkError(
        'INVALID_MODEL',
        `tensor '${name}': raw_data has ${raw.length} bytes but ${dtype} dims [${dims.join(', ')}] need ${numel * width}`,
      );
    }
    if (LITTLE_ENDIAN_HOST && raw.byteOffset % width === 0) {
      return { name, dtype, dims, data: new Ctor(raw.buffer, raw.byteOffset, numel) };
    }
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    if (!LITTLE_ENDIAN_HOST) swapBytes(copy, width);
    return { name, dtype, dims, data: new Ctor(copy.buffer, 0, numel) };
  }
  let field: string;
  let values: readonly (number | Long)[];
  switch (dtype) {
    case 'float32':
      field = 'float_data';
      values = t.floatData ?? [];
      break;
    case 'float64':
      field = 'double_data';
      values = t.doubleData ?? [];
      break;
    case 'int64':
      field = 'int64_data';
      values = (t.int64Data ?? []) as (number | Long)[];
      break;
    case 'uint32':
    case 'uint64':
      field = 'uint64_data';
      values = (t.uint64Data ?? []) as (number | Long)[];
      break;
    default:
      // int8/uint8/int16/uint16/int32/bool and the bits of float16/bfloat16 all live in int32_data.
      field = 'int32_data';
      values = t.int32Data ?? [];
  }
  if (values.length !== numel) throw countMismatch(t, field, values.length, numel);
  const out = new Ctor(numel);
  if (dtype === 'int64' || dtype === 'uint64') {
    const big = out as BigInt64Array | BigUint64Array;
    values.forEach((v, i) => (big[i] = toBigInt(v, dtype === 'uint64')));
  } else {
    const num = out as Exclude<TensorData, BigInt64Array | BigUint64Array>;
    values.forEach((v, i) => (num[i] = typeof v === 'number' ? v : Number(toBigInt(v, dtype === 'uint32'))));
  }
  return { name, dtype, dims, data: out };
}

/**
 * Float values of any numeric tensor as float32 (float16/bfloat16 bits are decoded). A float32
 * tensor's own `data` is returned, so it is read-only whenever readTensor's data is.
 */
export function toFloat32(v: TensorValue): Float32Array {
  switch (v.dtype) {
    case 'float32':
      return v.data as Float32Array;
    case 'float16':
      return float16ToFloat32(v.data as Uint16Array);
    case 'bfloat16':
      return bfloat16ToFloat32(v.data as Uint16Array);
    case 'string':
      throw new ShrinkError('INVALID_ARGUMENT', `tensor '${v.name}' holds strings, not numbers`);
    default: {
      const out = new Float32Array(v.data.length);
      for (let i = 0; i < out.length; i++) out[i] = Number(v.data[i]!);
      return out;
    }
  }
}

/** Round-to-nearest-even float32 -> IEEE half bits, with subnormals, ±inf, NaN; overflow gives inf. */
export function float32ToFloat16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i]!;
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
      continue;
    }
    const e = exp - 112; // rebias 127 -> 15
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e > 0) {
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry may roll into inf: correct
      out[i] = sign | h;
    } else if (e >= -10) {
      // Half subnormal: value = m * 2^-24, m = (1.mant) * 2^(exp-126) shifted into place.
      const m = mant | 0x800000;
      const shift = 14 - e;
      let h = m >>> shift;
      const rem = m & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && (h & 1) !== 0)) h++;
      out[i] = sign | h;
    } else {
      out[i] = sign; // below half the smallest subnormal
    }
  }
  return out;
}

export function float16ToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = (h & 0x8000) << 16;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) {
      out[i] = (sign ? -1 : 1) * m * 2 ** -24;
    } else if (e === 0x1f) {
      bits[i] = (sign | 0x7f800000 | (m << 13)) >>> 0;
    } else {
      bits[i] = (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
    }
  }
  return out;
}

/** Round-to-nearest-even float32 -> bfloat16 bits (NaN stays NaN). */
export function float32ToBfloat16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) out[i] = (b >>> 16) | 0x40;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

export function bfloat16ToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = (src[i]! << 16) >>> 0;
  return out;
}
