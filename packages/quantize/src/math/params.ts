import { ShrinkError, tensorNumel } from '@shrink/core';
import { roundHalfEven } from './round.js';

export type IntType = 'int8' | 'uint8' | 'int4' | 'uint4';

const RANGES: Readonly<Record<IntType, { qmin: number; qmax: number }>> = {
  int8: { qmin: -128, qmax: 127 },
  uint8: { qmin: 0, qmax: 255 },
  int4: { qmin: -8, qmax: 7 },
  uint4: { qmin: 0, qmax: 15 },
};

/**
 * Code range of a type. With `symmetric`, int8 drops -128 so the grid is symmetric around 0, as
 * onnxruntime's quantizer does. uint8 keeps [0, 255] and so zero point 128 (this package's contract;
 * recent onnxruntime releases narrow symmetric uint8 to [0, 254], zero point 127).
 *
 * `reduceRange` is onnxruntime's reduce_range: 7-bit weights, int8 [-64, 64] and uint8 [0, 127]. With
 * uint8 activations (at most 255) a pair of int8 products then stays within int16 (2 x 255 x 64 =
 * 32640), so x86 u8s8 kernels without VNNI (VPMADDUBSW, which saturates its int16 pair sums) compute
 * exactly. 4-bit types have no reduced range.
 */
export function intRange(t: IntType, symmetric = false, reduceRange = false): { qmin: number; qmax: number } {
  if (reduceRange) {
    if (t === 'int8') return { qmin: -64, qmax: 64 };
    if (t === 'uint8') return { qmin: 0, qmax: 127 };
    throw new ShrinkError('INVALID_ARGUMENT', `a reduced (7-bit) range applies to 8-bit codes, not ${t}`);
  }
  if (symmetric && t === 'int8') return { qmin: -127, qmax: 127 };
  return RANGES[t];
}

const f32 = Math.fround;
const FLOAT32_TINY = 1.1754943508222875e-38; // numpy.finfo(float32).tiny

/**
 * Scale and zero point for values in [min, max], with onnxruntime's semantics (quant_utils.compute_scale_zp): the range is widened to include 0, so 0 is exactly representable; symmetric uses
 * [-max|x|, max|x|], which gives zero point 0 (int8, int4) or the mid code 128 (uint8) / 8 (uint4) and
 * scale = max|x| / ((qmax - qmin) / 2). A zero range gives scale 1 (never 0, which would divide by zero
 * in QuantizeLinear).
 */
export function chooseParams(
  min: number,
  max: number,
  type: IntType,
  symmetric: boolean,
  reduceRange = false,
): { scale: number; zeroPoint: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new ShrinkError('INVALID_ARGUMENT', `quantization range [${min}, ${max}] must be finite with min <= max`);
  }
  const { qmin, qmax } = intRange(type, symmetric, reduceRange);
  let rmin = f32(Math.min(min, 0));
  let rmax = f32(Math.max(max, 0));
  if (symmetric) {
    const absmax = Math.max(Math.abs(rmin), Math.abs(rmax));
    rmin = -absmax;
    rmax = absmax;
  }
  // As onnxruntime: the range difference in float32, the division in float64, the scale stored as float32.
  // A difference beyond float32's max (|x| > ~1.7e38 symmetric, max - min > 3.4e38) stays in float64,
  // where it is finite: float32 would make it Infinity, and every dequantized weight NaN or infinite.
  const range32 = f32(rmax - rmin);
  const scale64 = (Number.isFinite(range32) ? range32 : rmax - rmin) / (qmax - qmin);
  if (scale64 < FLOAT32_TINY) {
    // onnxruntime writes zero point 0 here; symmetric keeps its mid code so every channel of a
    // symmetric tensor shares one zero point.
    return { scale: 1, zeroPoint: symmetric ? midCode(qmin, qmax) : 0 };
  }
  // Symmetric: the mid code whatever the scale, so all channels share it (kernels such as per-channel
  // QLinearConv want that); float rounding of -rmin / scale could otherwise land one code off.
  const zeroPoint = symmetric ? midCode(qmin, qmax) : roundHalfEven(qmin - rmin / scale64);
  return { scale: f32(scale64), zeroPoint: Math.min(qmax, Math.max(qmin, zeroPoint)) };
}

/**
 * Refuses (INVALID_MODEL, naming the tensor, its range and what would work) parameters under which the
 * weights in [lo, hi] would dequantize to ±Infinity: a finite scale can still overflow float32 at the
 * ends of a range near ±3.4e38 (codes times scale round past FLT_MAX), and the model would compute NaN.
 */
export function refuseOverflow(
  label: string,
  lo: number,
  hi: number,
  scale: number,
  zeroPoint: number,
  type: IntType,
  symmetric: boolean,
  reduceRange = false,
): void {
  const { qmin, qmax } = intRange(type, symmetric, reduceRange);
  // Scale 0 (MatMulNBits' all-zero block) writes every code as the zero point: nothing to overflow.
  for (const v of scale === 0 ? [] : [lo, hi]) {
    const code = Math.min(qmax, Math.max(qmin, roundHalfEven(f32(v / scale)) + zeroPoint));
    if (Number.isFinite(f32((code - zeroPoint) * scale))) continue;
    throw new ShrinkError(
      'INVALID_MODEL',
      `${label}: range [${lo}, ${hi}] cannot be quantized to ${type}${symmetric ? ' (symmetric)' : ''}: scale ${scale} would dequantize ${v} to a non-finite value; ` +
        'leave that layer float (--exclude NODE) or use a symmetric int8 type, or fix the weights',
    );
  }
}

function midCode(qmin: number, qmax: number): number {
  return roundHalfEven((qmin + qmax) / 2);
}

type Codes = Int8Array | Uint8Array;

function codeArray(type: IntType, n: number): Codes {
  return type === 'int8' || type === 'int4' ? new Int8Array(n) : new Uint8Array(n);
}

/** Splits `dims` at `axis` into (outer, channels, inner) so element (o, c, i) is at (o*C + c)*inner + i. */
function split(dims: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= dims[d]!;
  for (let d = axis + 1; d < dims.length; d++) inner *= dims[d]!;
  return { outer, channels: dims[axis]!, inner };
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ShrinkError('INVALID_ARGUMENT', `${what}: axis ${axis} is out of range for rank ${rank}; expected -${rank}..${rank - 1}`);
  }
  return a;
}

/** 1.5 * 2^52: adding and subtracting it rounds a double to an integer, ties to even (the FPU's mode). */
const ROUND_MAGIC = 6755399441055744;

/**
 * roundHalfEven for the hot loop, without its call and `%`: exact for |x| < 2^51. Beyond that it
 * stays huge with x's sign, so the clamp to [qmin, qmax] after it gives the same code. Never -0.
 */
function roundHalfEvenSmall(x: number): number {
  return x + ROUND_MAGIC - ROUND_MAGIC;
}

function nonFinite(data: Float32Array, label: string): ShrinkError {
  const i = data.findIndex((v) => !Number.isFinite(v));
  return new ShrinkError(
    'INVALID_MODEL',
    `${label} holds ${data[i]} at flat index ${i}; integer quantization needs finite weights (the range and its scale would be infinite)`,
  );
}

/**
 * Quantizes a float tensor per tensor (`axis` undefined) or per channel along `axis`, like
 * onnxruntime's quantize_data / quantize_weight_per_channel: code = clamp(round(x / scale) + zp).
 * int4/uint4 codes come one per byte (unpacked). NaN or infinite weights are refused (INVALID_MODEL,
 * naming `opts.name`): a NaN would poison the range and be written as a silent garbage code.
 */
export function quantizeTensor(
  data: Float32Array,
  dims: readonly number[],
  opts: { type: IntType; symmetric: boolean; reduceRange?: boolean; axis?: number; name?: string },
): { q: Int8Array | Uint8Array; scale: Float32Array; zeroPoint: Int8Array | Uint8Array; axis?: number } {
  const label = opts.name ? `tensor '${opts.name}'` : 'weight tensor';
  if (tensorNumel(dims) !== data.length) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `${label}: dims [${dims.join(', ')}] hold ${tensorNumel(dims)} values but ${data.length} were given`,
    );
  }
  const axis = opts.axis === undefined ? undefined : normAxis(opts.axis, dims.length, label);
  const { outer, channels, inner } = axis === undefined ? { outer: 1, channels: 1, inner: data.length } : split(dims, axis);
  const reduce = opts.reduceRange === true;
  const { qmin, qmax } = intRange(opts.type, opts.symmetric, reduce);
  // Both passes walk the data in memory order (o, c, i), whatever the axis: for a per-column [K, N]
  // weight a channel-by-channel walk would stride through memory and miss the cache on every element.
  const lo = new Float64Array(channels).fill(Infinity);
  const hi = new Float64Array(channels).fill(-Infinity);
  for (let o = 0, k = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let l = lo[c]!;
      let h = hi[c]!;
      for (let end = k + inner; k < end; k++) {
        const v = data[k]!;
        // v - v is NaN for NaN and ±Infinity, 0 otherwise.
        if (v - v !== 0) throw nonFinite(data, label);
        if (v < l) l = v;
        if (v > h) h = v;
      }
      lo[c] = l;
      hi[c] = h;
    }
  }
  const q = codeArray(opts.type, data.length);
  const scale = new Float32Array(channels);
  const zeroPoint = codeArray(opts.type, channels);
  for (let c = 0; c < channels; c++) {
    const empty = lo[c]! > hi[c]!;
    const p = chooseParams(empty ? 0 : lo[c]!, empty ? 0 : hi[c]!, opts.type, opts.symmetric, reduce);
    if (!empty)
      refuseOverflow(
        channels > 1 ? `${label} channel ${c}` : label,
        lo[c]!,
        hi[c]!,
        p.scale,
        p.zeroPoint,
        opts.type,
        opts.symmetric,
        reduce,
      );
    scale[c] = p.scale; // the float32 value actually stored is what the codes divide by
    zeroPoint[c] = p.zeroPoint;
  }
  for (let o = 0, k = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scale[c]!;
      const zp = zeroPoint[c]!;
      for (let end = k + inner; k < end; k++) {
        const code = roundHalfEvenSmall(f32(data[k]! / s)) + zp;
        q[k] = code < qmin ? qmin : code > qmax ? qmax : code;
      }
    }
  }
  return axis === undefined ? { q, scale, zeroPoint } : { q, scale, zeroPoint, axis };
}

/** (q - zeroPoint) * scale in float32, as DequantizeLinear computes it; per tensor or per channel along `axis`. */
export function dequantizeTensor(
  q: Int8Array | Uint8Array,
  dims: readonly number[],
  scale: Float32Array,
  zeroPoint: ArrayLike<number>,
  axis?: number,
): Float32Array {
  if (tensorNumel(dims) !== q.length) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `dequantizeTensor: dims [${dims.join(', ')}] hold ${tensorNumel(dims)} values but ${q.length} codes were given`,
    );
  }
  const a = axis === undefined ? undefined : normAxis(axis, dims.length, 'dequantizeTensor');
  const { outer, channels, inner } = a === undefined ? { outer: 1, channels: 1, inner: q.length } : split(dims, a);
  if (scale.length !== channels || zeroPoint.length !== channels) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `dequantizeTensor: ${channels} channel(s) need as many scales and zero points; got ${scale.length} and ${zeroPoint.length}`,
    );
  }
  const out = new Float32Array(q.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scale[c]!;
      const z = zeroPoint[c]!;
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) out[base + i] = (q[base + i]! - z) * s;
    }
  }
  return out;
}
