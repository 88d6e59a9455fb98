// Independent fidelity check for the corpus: runs a baseline and a candidate model in onnxruntime-node on
// the same realistic sample sets and returns the cosine of every output (all sample sets concatenated),
// without reading anything Shrink's own report says.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpz } from './npz.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ort = createRequire(path.join(here, '../../packages/core/package.json'))('onnxruntime-node');

/** cos(a, b); 1 when both are all zeros (nothing to disagree on), 0 when only one is. */
export function cosine(a, b) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 && bb === 0) return 1;
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

const ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/** A JSON feeds value (nested arrays) as the model input's dtype; the dims come from the nesting. */
function fromNested(value, dtype) {
  const dims = [];
  for (let v = value; Array.isArray(v); v = v[0]) dims.push(v.length);
  const flat = dims.length ? value.flat(dims.length) : [value];
  const Ctor = ARRAYS[dtype];
  if (!Ctor) throw new Error(`JSON feeds: input dtype ${dtype} is not handled here`);
  return { dtype, dims, data: Ctor === BigInt64Array ? BigInt64Array.from(flat, (x) => BigInt(x)) : Ctor.from(flat) };
}

/** The sample sets of a feeds file: an .npz (one), or a JSON object or array of objects (one each). */
function samplesOf(file, session) {
  if (!file.endsWith('.json')) return [readNpz(file)];
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const types = new Map(session.inputNames.map((n, i) => [n, session.inputMetadata?.[i]?.type ?? 'float32']));
  return (Array.isArray(doc) ? doc : [doc]).map(
    (rec) =>
      new Map(
        Object.entries(rec)
          .filter(([k]) => types.has(k))
          .map(([k, v]) => [k, fromNested(v, types.get(k))]),
      ),
  );
}

async function outputsOn(modelFile, files) {
  const session = await ort.InferenceSession.create(modelFile, { logSeverityLevel: 3 });
  const byOutput = new Map(session.outputNames.map((n) => [n, []]));
  for (const sample of files.flatMap((f) => samplesOf(f, session))) {
    const feeds = {};
    for (const [name, a] of sample) if (session.inputNames.includes(name)) feeds[name] = new ort.Tensor(a.dtype, a.data, a.dims);
    const out = await session.run(feeds);
    for (const n of session.outputNames) for (const v of out[n].data) byOutput.get(n).push(Number(v));
  }
  await session.release?.();
  return byOutput;
}

/**
 * Cosine of each output of `candidate` against `baseline` over the feeds files (.npz, or .json with
 * nested arrays), and the worst.
 * Throws (the candidate's own error) when the candidate does not load or run.
 */
export async function compareOutputs(baseline, candidate, samples) {
  const want = await outputsOn(baseline, samples);
  const got = await outputsOn(candidate, samples);
  const perOutput = {};
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) throw new Error(`candidate has no output '${name}'`);
    if (g.length !== w.length) throw new Error(`output '${name}': ${g.length} values, baseline ${w.length}`);
    perOutput[name] = cosine(g, w);
  }
  return { perOutput, worst: Math.min(...Object.values(perOutput)) };
}
