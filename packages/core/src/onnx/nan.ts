import { ShrinkError } from '../errors.js';
import { forEachTensor } from '../io/model-tensors.js';
import type { onnx } from './proto.js';
import { isExternalTensor, readTensor, toFloat32 } from './tensor.js';

const FLOAT_TYPES = new Set(['float32', 'float16', 'bfloat16', 'float64']);

export interface NonFinite {
  label: string;
  index: number;
  value: number;
}

/**
 * The first NaN (or, with `infinity`, also ±Infinity) in the model's floating-point tensors:
 * initializers, attribute tensors, subgraphs, functions.
 */
export function findNaN(model: onnx.IModelProto, opts: { infinity?: boolean } = {}): NonFinite | undefined {
  let found: NonFinite | undefined;
  forEachTensor(model, (t, label) => {
    if (found || isExternalTensor(t)) return;
    let v;
    try {
      v = readTensor(t);
    } catch {
      // Unreadable tensors are the loader's and the passes' business, with their own messages.
      return;
    }
    if (!FLOAT_TYPES.has(v.dtype)) return;
    const f = toFloat32(v);
    for (let i = 0; i < f.length; i++) {
      const x = f[i]!;
      if (x !== x || (opts.infinity && (x === Infinity || x === -Infinity))) {
        found = { label, index: i, value: x };
        return;
      }
    }
  });
  return found;
}

/**
 * Refuses a model holding a NaN weight (INVALID_MODEL naming the tensor): a pass would either copy it
 * into its output or turn it into a garbage code, and the output would compute NaN wherever it reaches.
 * With `infinity`, ±Infinity too (integer codes have no infinity: the range, and every scale, would be).
 */
export function refuseNaN(model: onnx.IModelProto, pass: string, opts: { infinity?: boolean } = {}): void {
  const bad = findNaN(model, opts);
  if (!bad) return;
  const why = Number.isNaN(bad.value)
    ? 'Shrink does not write NaN into a model (every output it reaches would be NaN)'
    : 'integer quantization needs finite weights (the range and its scale would be infinite)';
  throw new ShrinkError(
    'INVALID_MODEL',
    `${pass}: ${bad.label} holds ${bad.value} at flat index ${bad.index}; ${why} — fix or retrain the model`,
  );
}
