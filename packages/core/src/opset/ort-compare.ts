// Test and sweep helper (not exported): runs a model in onnxruntime-node and compares outputs.
import * as ort from 'onnxruntime-node';
import type { TensorValue } from '../onnx/tensor.js';
import { float16ToFloat32 } from '../onnx/tensor.js';

export interface Output {
  readonly dims: readonly number[];
  readonly values: readonly (number | string | boolean)[];
}

const ORT_TYPE: Record<string, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
  string: 'string',
};

export function toOrt(v: TensorValue): ort.Tensor {
  const type = ORT_TYPE[v.dtype];
  if (!type) throw new Error(`no onnxruntime type for ${v.dtype}`);
  if (v.dtype === 'string') return new ort.Tensor('string', v.strings ?? [], [...v.dims]);
  const data = v.dtype === 'bool' ? Uint8Array.from(v.data as Uint8Array, (x) => (x ? 1 : 0)) : v.data;
  return new ort.Tensor(type, data as never, [...v.dims]);
}

/** Runs the model once; outputs as plain numbers (int64 as numbers, float16 decoded). */
export async function runOnce(model: Uint8Array, feeds: Record<string, TensorValue>): Promise<Record<string, Output>> {
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 4,
  });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = toOrt(v);
    const res = await session.run(inputs);
    const out: Record<string, Output> = {};
    for (const name of session.outputNames) {
      const t = res[name]!;
      const raw = t.type === 'float16' ? float16ToFloat32(t.data as Uint16Array) : t.data;
      out[name] = {
        dims: [...t.dims],
        values: Array.from(raw as ArrayLike<number | bigint | string | boolean>, (x) => (typeof x === 'bigint' ? Number(x) : x)),
      };
    }
    return out;
  } finally {
    await session.release();
  }
}

export interface Comparison {
  readonly ok: boolean;
  /** The worst element, for a failure message. */
  readonly detail: string;
  readonly maxAbs: number;
  readonly cosine: number;
}

/** Element-wise |a - b| ≤ atol + rtol·|b| (onnx's backend-test rule), same dims, over every output. */
export function compareOutputs(
  actual: Record<string, Output>,
  expected: Record<string, Output>,
  tol = { rtol: 1e-3, atol: 1e-4 },
): Comparison {
  let maxAbs = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name];
    if (!a) return { ok: false, detail: `output '${name}' missing`, maxAbs: Infinity, cosine: 0 };
    if (a.dims.join(',') !== e.dims.join(','))
      return { ok: false, detail: `output '${name}' dims [${a.dims.join(',')}] vs [${e.dims.join(',')}]`, maxAbs: Infinity, cosine: 0 };
    for (let i = 0; i < e.values.length; i++) {
      const x = a.values[i];
      const y = e.values[i];
      if (typeof x !== 'number' || typeof y !== 'number') {
        if (x !== y) return { ok: false, detail: `output '${name}'[${i}] ${String(x)} vs ${String(y)}`, maxAbs: Infinity, cosine: 0 };
        continue;
      }
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      if (x === y) {
        dot += x * y;
        na += x * x;
        nb += y * y;
        continue;
      }
      const d = Math.abs(x - y);
      if (!(d <= tol.atol + tol.rtol * Math.abs(y)))
        return { ok: false, detail: `output '${name}'[${i}] ${x} vs ${y}`, maxAbs: d, cosine: 0 };
      maxAbs = Math.max(maxAbs, d);
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
  }
  const cosine = na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
  return { ok: true, detail: '', maxAbs, cosine };
}
