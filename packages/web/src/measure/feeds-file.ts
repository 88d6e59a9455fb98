/**
 * A dropped feeds file, in the formats the CLI's --data takes for feeds: .npz (one array per input name),
 * .npy (the one input), or JSON keyed by input name (nested arrays; a list of such objects is several
 * samples). Parsed with core's readers; inputs it leaves out are refused by name.
 */
import { ShrinkError, type TensorData } from '@shrink/core';
import { parseNpy, parseNpz } from '../../../core/src/data/npy.js';
import type { ValueMeta } from '../../../core/src/runtime/session.js';

export type NamedFeeds = Record<string, { type: string; data: TensorData; dims: readonly number[] }>;

const NPY_TYPE: Readonly<Record<string, string>> = { float16: 'float16', bool: 'bool' };

const ARRAYS: Readonly<Record<string, (n: number[]) => TensorData>> = {
  float32: (v) => Float32Array.from(v),
  float64: (v) => Float64Array.from(v),
  int32: (v) => Int32Array.from(v),
  int64: (v) => BigInt64Array.from(v, (x) => BigInt(Math.trunc(x))),
  int8: (v) => Int8Array.from(v),
  uint8: (v) => Uint8Array.from(v),
  bool: (v) => Uint8Array.from(v, (x) => (x ? 1 : 0)),
};

/** Nested arrays of numbers as one input: dims from the nesting, the element type the model declares. */
function fromJson(value: unknown, m: ValueMeta, source: string): NamedFeeds[string] {
  const dims: number[] = [];
  for (let v = value; Array.isArray(v); v = (v as unknown[])[0]) dims.push(v.length);
  const flat = (Array.isArray(value) ? (value as unknown[]).flat(Infinity) : [value]).map((x) => (typeof x === 'boolean' ? Number(x) : x));
  if (flat.some((x) => typeof x !== 'number'))
    throw new ShrinkError('INVALID_ARGUMENT', `${source}: ${m.name} holds values that are not numbers`);
  const type = m.type ?? 'float32';
  const make = ARRAYS[type];
  if (!make) throw new ShrinkError('INVALID_ARGUMENT', `${source}: ${m.name} is ${type}; JSON feeds give float, int and bool inputs`);
  return { type, data: make(flat as number[]), dims };
}

export async function readFeedsFile(file: File, inputs: readonly ValueMeta[]): Promise<NamedFeeds[]> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const name = file.name.toLowerCase();
  const need = (got: Record<string, unknown>) => {
    const missing = inputs.filter((m) => !(m.name in got)).map((m) => m.name);
    if (missing.length > 0) throw new ShrinkError('INVALID_ARGUMENT', `${file.name} has no values for input(s) ${missing.join(', ')}`);
  };
  if (name.endsWith('.npz') || name.endsWith('.npy')) {
    const arrays = name.endsWith('.npz') ? parseNpz(bytes, file.name) : new Map([[inputs[0]?.name ?? 'input', parseNpy(bytes, file.name)]]);
    need(Object.fromEntries(arrays));
    const feeds: NamedFeeds = {};
    for (const m of inputs) {
      const a = arrays.get(m.name)!;
      feeds[m.name] = { type: NPY_TYPE[a.dtype] ?? a.dtype, data: a.data, dims: a.dims };
    }
    return [feeds];
  }
  if (name.endsWith('.json')) {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    const list = Array.isArray(parsed) ? (parsed as Record<string, unknown>[]) : [parsed as Record<string, unknown>];
    return list.map((rec) => {
      need(rec);
      const feeds: NamedFeeds = {};
      for (const m of inputs) {
        feeds[m.name] = fromJson(rec[m.name], m, file.name);
      }
      return feeds;
    });
  }
  throw new ShrinkError('INVALID_ARGUMENT', `${file.name}: feeds are .npz, .npy or .json keyed by input name`);
}
