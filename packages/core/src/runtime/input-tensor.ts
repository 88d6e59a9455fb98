/**
 * A value the user gave for one model input (a number, a nested JSON array, a NumPy array) as the feed
 * the model declares: converted to its element type and shaped to its rank.
 */
import { ShrinkError } from '../errors.js';
import { float16ToFloat32, float32ToFloat16, tensorNumel, type DType, type TensorData } from '../onnx/tensor.js';
import { formatShape, type FeedTensor, type TypedArray, type ValueMeta } from './session.js';

/** Raw values before conversion: from JSON (numbers) or from a NumPy array (any numeric type). */
export interface RawArray {
  readonly dtype: DType | 'number';
  readonly dims: readonly number[];
  readonly data: TensorData | readonly number[];
}

/** A nested JSON array (or a number) as flat values and dims; refuses ragged arrays. */
export function fromNested(value: unknown, source: string): RawArray {
  const dims: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    dims.push(probe.length);
    probe = probe[0];
  }
  const out: number[] = [];
  const walk = (v: unknown, depth: number, where: string): void => {
    if (depth === dims.length) {
      const n = typeof v === 'boolean' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) {
        throw new ShrinkError(
          'INVALID_DATA',
          `${source}${where}: ${JSON.stringify(v)} is not a finite number; expected nested arrays of numbers`,
        );
      }
      out.push(n);
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) {
      throw new ShrinkError(
        'INVALID_DATA',
        `${source}${where}: ragged array (expected ${dims[depth]} elements at depth ${depth}); every row must have the same length`,
      );
    }
    v.forEach((x, i) => walk(x, depth + 1, `${where}[${i}]`));
  };
  walk(value, 0, '');
  return { dtype: 'number', dims, data: out };
}

function asNumbers(raw: RawArray): ArrayLike<number> {
  if (raw.dtype === 'float16') return float16ToFloat32(raw.data as Uint16Array);
  if (raw.data instanceof BigInt64Array || raw.data instanceof BigUint64Array) return Array.from(raw.data, Number);
  return raw.data;
}

function convert(raw: RawArray, type: string, source: string): TypedArray {
  const bigint = raw.data instanceof BigInt64Array || raw.data instanceof BigUint64Array;
  switch (type) {
    case 'float32':
      return raw.data instanceof Float32Array ? raw.data : Float32Array.from(asNumbers(raw));
    case 'float64':
      return Float64Array.from(asNumbers(raw));
    case 'float16':
      return raw.dtype === 'float16' ? (raw.data as Uint16Array) : float32ToFloat16(Float32Array.from(asNumbers(raw)));
    case 'int64':
      return bigint
        ? BigInt64Array.from(raw.data as BigInt64Array, (v) => BigInt.asIntN(64, v))
        : BigInt64Array.from(asNumbers(raw), (v) => BigInt(Math.round(v)));
    case 'int32':
      return Int32Array.from(asNumbers(raw), Math.round);
    case 'int8':
      return Int8Array.from(asNumbers(raw), Math.round);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(asNumbers(raw), (v) => (type === 'bool' ? Number(v !== 0) : Math.round(v)));
    default:
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `${source}: cannot feed values to a ${type} input; inputs of numbers and booleans can be given`,
      );
  }
}

/**
 * `raw` as a feed for `meta`: converted to the input's element type; a single number fills an input of
 * one element (`--input sr=16000` for an int64 scalar or [1]); an array without the batch axis gets one.
 */
export function toInputTensor(meta: ValueMeta, raw: RawArray, source: string): FeedTensor {
  const type = meta.type;
  if (!meta.isTensor || type === undefined) throw new ShrinkError('UNSUPPORTED_MODEL', `${source}: input '${meta.name}' is not a tensor`);
  const shape = meta.shape ?? [];
  let dims = [...raw.dims];
  const n = tensorNumel(dims);
  if (n === 1 && dims.length !== shape.length && shape.every((d) => d === 1 || typeof d !== 'number' || d < 0)) dims = shape.map(() => 1);
  else if (shape.length > 0 && dims.length === shape.length - 1) dims = [1, ...dims];
  const fits =
    shape.length === 0 || (dims.length === shape.length && shape.every((d, i) => typeof d !== 'number' || d < 0 || d === dims[i]));
  if (!fits) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${source}: input '${meta.name}' wants ${formatShape(shape)} but the value given is ${formatShape(raw.dims)}`,
    );
  }
  return { data: convert(raw, type, source), dims, type };
}
