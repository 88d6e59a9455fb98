import { float16ToFloat32, float32ToFloat16, parseOptions, ShrinkError, tensorNumel } from '@shrink/core';
import { z } from 'zod';
import { FLOAT16_MAX } from './fp16.js';
import { roundHalfEven } from './math/round.js';

/**
 * tfjs weight quantization: the `weightsManifest` `quantization` blocks that tfjs-core's decodeWeights
 * reads (io_utils.ts) and tensorflowjs_converter writes (quantization.py, write_weights.py). uint8/uint16
 * are affine per tensor, value = q * scale + min, with the range nudged so 0.0 is exact; float16 is
 * IEEE half. Only float32 weights are quantized, as in the converter; the rest pass through as bytes.
 * Works on a weights manifest and one ArrayBuffer only, so it runs in a browser as well.
 */

export const TFJS_WEIGHT_DTYPES = ['uint8', 'uint16', 'float16'] as const;
export type TfjsWeightDtype = (typeof TFJS_WEIGHT_DTYPES)[number];

export const tfjsQuantizeOptionsSchema = z.strictObject({
  dtype: z
    .enum(TFJS_WEIGHT_DTYPES)
    .default('uint8')
    .describe('uint8/uint16: affine per tensor (value = q * scale + min); float16: half precision'),
  include: z
    .array(z.string())
    .optional()
    .describe('Only quantize these weights: a name, a layer name (its weights), or a glob with * and ?'),
  exclude: z.array(z.string()).optional().describe('Never quantize these weights (same forms as include)'),
  minElements: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("Keep float32 weights with fewer elements (e.g. biases); 0 quantizes all, as tfjs's converter does"),
});
export type TfjsQuantizeOptions = z.input<typeof tfjsQuantizeOptionsSchema>;
export type ResolvedTfjsQuantizeOptions = z.output<typeof tfjsQuantizeOptionsSchema>;

/** tfjs-core's io WeightsManifestEntry, restated so this entry needs no tfjs; `original_dtype` is what the converter adds. */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  group?: 'model' | 'optimizer';
  quantization?: { dtype: TfjsWeightDtype; scale?: number; min?: number; original_dtype?: string };
}

export interface TfjsWeightOutcome {
  name: string;
  elements: number;
  from: 'float32';
  to: TfjsWeightDtype;
  bytesBefore: number;
  bytesAfter: number;
  /** Largest |decoded - original| over the tensor, decoded the way tfjs does (to float32). */
  maxAbsError: number;
  /** uint8/uint16 only. */
  scale?: number;
  min?: number;
}

export interface TfjsQuantizeReport {
  dtype: TfjsWeightDtype;
  weights: TfjsWeightOutcome[];
  /** Weights left as they were, with why. */
  skipped: Array<{ name: string; reason: string }>;
  /** Weight bytes of the whole manifest, before and after. */
  bytesBefore: number;
  bytesAfter: number;
}

export interface TfjsWeightsResult {
  weightSpecs: TfjsWeightSpec[];
  weightData: ArrayBuffer;
  report: TfjsQuantizeReport;
}

const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};
const QMAX = { uint8: 255, uint16: 65535 } as const;

/**
 * Quantizes the float32 weights of a tfjs manifest to `options.dtype`. Returns new specs and bytes (the
 * inputs are not touched) and a per-weight report. Non-finite weights -> INVALID_MODEL; float16 overflow
 * -> INVALID_ARGUMENT; include/exclude entries that match no weight -> INVALID_ARGUMENT.
 */
export function quantizeTfjsWeights(
  artifacts: { weightSpecs: readonly TfjsWeightSpec[]; weightData: ArrayBuffer | readonly ArrayBuffer[] },
  options: TfjsQuantizeOptions = {},
): TfjsWeightsResult {
  const opts = parseOptions(tfjsQuantizeOptionsSchema, options, 'quantize');
  const { weightSpecs } = artifacts;
  const weightData = joinBuffers(artifacts.weightData);
  const names = weightSpecs.map((s) => s.name);
  const include = opts.include && compilePatterns(opts.include, names, 'include');
  const exclude = opts.exclude && compilePatterns(opts.exclude, names, 'exclude');

  const parts: Uint8Array[] = [];
  const specs: TfjsWeightSpec[] = [];
  const report: TfjsQuantizeReport = { dtype: opts.dtype, weights: [], skipped: [], bytesBefore: 0, bytesAfter: 0 };
  let offset = 0;
  for (const spec of weightSpecs) {
    const elements = elementCount(spec);
    const stored = spec.quantization?.dtype ?? spec.dtype;
    const length = stored === 'string' ? stringBytes(weightData, offset, elements, spec.name) : elements * byteSize(stored, spec.name);
    if (offset + length > weightData.byteLength) {
      throw new ShrinkError(
        'INVALID_MODEL',
        `weight '${spec.name}' needs bytes ${offset}..${offset + length} of the weight data, which holds ${weightData.byteLength}; the manifest and the weight files disagree`,
      );
    }
    const bytes = new Uint8Array(weightData, offset, length);
    offset += length;
    report.bytesBefore += length;

    const reason = skipReason(spec, elements, opts.minElements, include, exclude);
    if (reason !== undefined) {
      report.skipped.push({ name: spec.name, reason });
      specs.push(copySpec(spec));
      parts.push(bytes);
      report.bytesAfter += length;
      continue;
    }
    // A copy: the bytes may sit at an offset that is not a multiple of 4.
    const values = new Float32Array(bytes.slice().buffer);
    const q = opts.dtype === 'float16' ? toFloat16(values, spec.name) : toAffine(values, opts.dtype, spec.name);
    const out = new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength);
    specs.push({ ...copySpec(spec), quantization: q.block });
    parts.push(out);
    report.bytesAfter += out.byteLength;
    report.weights.push({
      name: spec.name,
      elements,
      from: 'float32',
      to: opts.dtype,
      bytesBefore: length,
      bytesAfter: out.byteLength,
      maxAbsError: q.maxAbsError,
      ...(q.block.scale === undefined ? {} : { scale: q.block.scale, min: q.block.min }),
    });
  }

  return { weightSpecs: specs, weightData: concat(parts), report };
}

/** tfjs's WeightData may come as several buffers laid end to end. */
function joinBuffers(data: ArrayBuffer | readonly ArrayBuffer[]): ArrayBuffer {
  if (data instanceof ArrayBuffer) return data;
  return concat(data.map((b) => new Uint8Array(b)));
}

function concat(parts: readonly Uint8Array[]): ArrayBuffer {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.buffer;
}

interface Quantized {
  codes: Uint8Array | Uint16Array;
  block: NonNullable<TfjsWeightSpec['quantization']>;
  maxAbsError: number;
}

/**
 * tensorflowjs_converter's affine scheme: scale = (max - min) / qmax over the tensor's own range; when
 * the range holds 0 it is shifted by under half a step so 0 decodes exactly (TF-Lite's nudging); a
 * constant tensor stores zeros with scale 1 and min = the constant. Codes round half to even, as numpy.
 */
function toAffine(values: Float32Array, dtype: 'uint8' | 'uint16', name: string): Quantized {
  const qmax = QMAX[dtype];
  const { min, max } = finiteRange(values, name);
  let scale = 1;
  let lo = min;
  let hi = max;
  if (min !== max) {
    scale = (max - min) / qmax;
    if (min <= 0 && max >= 0) {
      lo = -roundHalfEven(-min / scale) * scale;
      hi = qmax * scale + lo;
    }
  }
  const codes = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  let maxAbsError = 0;
  if (min !== max) {
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      const c = Math.min(qmax, Math.max(0, roundHalfEven((Math.min(hi, Math.max(lo, x)) - lo) / scale)));
      codes[i] = c;
      // Decoded exactly as tfjs-core's decodeWeights does: a double, stored in a Float32Array.
      maxAbsError = Math.max(maxAbsError, Math.abs(Math.fround(c * scale + lo) - x));
    }
  }
  return { codes, block: { dtype, scale, min: lo, original_dtype: 'float32' }, maxAbsError };
}

function toFloat16(values: Float32Array, name: string): Quantized {
  finiteRange(values, name);
  const codes = float32ToFloat16(values);
  const back = float16ToFloat32(codes);
  let maxAbsError = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (Math.abs(x) > FLOAT16_MAX && !Number.isFinite(back[i]!)) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `weight '${name}' element ${i} is ${x}, beyond float16's ±${FLOAT16_MAX}; exclude it (exclude: ['${name}']) or use uint16`,
      );
    }
    maxAbsError = Math.max(maxAbsError, Math.abs(back[i]! - x));
  }
  return { codes, block: { dtype: 'float16', original_dtype: 'float32' }, maxAbsError };
}

function finiteRange(values: Float32Array, name: string): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!Number.isFinite(x)) {
      throw new ShrinkError('INVALID_MODEL', `weight '${name}' element ${i} is ${x}; only finite float32 weights can be quantized`);
    }
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max };
}

function skipReason(
  spec: TfjsWeightSpec,
  elements: number,
  minElements: number,
  include: ((name: string) => boolean) | undefined,
  exclude: ((name: string) => boolean) | undefined,
): string | undefined {
  if (spec.quantization) return `already stored as ${spec.quantization.dtype}`;
  if (spec.dtype !== 'float32') return `${spec.dtype} weights are kept (only float32 is quantized)`;
  if (include && !include(spec.name)) return 'not in include';
  if (exclude?.(spec.name)) return 'excluded';
  if (elements === 0) return 'empty';
  if (elements < minElements) return `${elements} elements < minElements ${minElements}`;
  return undefined;
}

/**
 * An entry matches a weight by its name, by the layer that owns it ('dense_1' for 'dense_1/kernel') or
 * as a glob (* and ?, which also cross '/', like the converter's fnmatch). Entries matching nothing are
 * refused, since a typo would otherwise silently quantize everything.
 */
function compilePatterns(entries: readonly string[], names: readonly string[], key: string): (name: string) => boolean {
  const tests = entries.map((entry) => {
    const glob = new RegExp(
      `^${entry
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
    const t = (name: string) => name === entry || name.startsWith(`${entry}/`) || glob.test(name);
    if (!names.some(t)) {
      const some = names
        .slice(0, 6)
        .map((n) => `'${n}'`)
        .join(', ');
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `quantize.${key}: no weight named or matching '${entry}'; weights are ${some}${names.length > 6 ? `, ... (${names.length})` : ''}`,
      );
    }
    return t;
  });
  return (name) => tests.some((t) => t(name));
}

function elementCount(spec: TfjsWeightSpec): number {
  if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShrinkError('INVALID_MODEL', `weight '${spec.name}' has shape ${JSON.stringify(spec.shape)}; expected non-negative integers`);
  }
  return tensorNumel(spec.shape);
}

function byteSize(dtype: string, name: string): number {
  const per = BYTES_PER_ELEMENT[dtype];
  if (per === undefined) {
    throw new ShrinkError(
      'INVALID_MODEL',
      `weight '${name}' has dtype '${dtype}'; expected float32, int32, bool, complex64, string, uint8, uint16 or float16`,
    );
  }
  return per;
}

/** String tensors: each element is a little-endian uint32 byte length and then the bytes (tfjs io_utils). */
function stringBytes(data: ArrayBuffer, offset: number, elements: number, name: string): number {
  const view = new DataView(data);
  let at = offset;
  for (let i = 0; i < elements; i++) {
    if (at + 4 > data.byteLength) {
      throw new ShrinkError('INVALID_MODEL', `string weight '${name}' runs past the end of the weight data (${data.byteLength} bytes)`);
    }
    at += 4 + view.getUint32(at, true);
  }
  return at - offset;
}

/** A copy that keeps any fields this file does not know. */
function copySpec(spec: TfjsWeightSpec): TfjsWeightSpec {
  return { ...spec, shape: [...spec.shape], ...(spec.quantization ? { quantization: { ...spec.quantization } } : {}) };
}
