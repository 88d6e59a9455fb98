import {
  ShrinkError,
  decideOutputKind,
  encodeModel,
  onnxFinalOp,
  progressOf,
  rowsAreDistributions,
  type Ctx,
  type onnx,
} from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { createSession, exposeIntermediates, feedsFor, planInput, outputRows } from '@shrink/core/runtime';
import { concatFloat32, readCache, teacherCacheKey, writeCache } from './teacher-cache.js';

export type TeacherOutputKind = 'auto' | 'logits' | 'probs';

export interface TeacherRequest {
  /** What the teacher's output is: detected, or declared by the user. */
  output: TeacherOutputKind;
  /** Teacher values (node outputs) to match hidden layers against. */
  hidden: readonly string[];
  /** Cache folder, or false. */
  cacheDir: string | false;
  batch?: number;
}

export interface TeacherOutputs {
  /** [n, k]: logits for classifiers (log-probabilities when the teacher gives probabilities), outputs for regression. */
  values: Float32Array;
  k: number;
  /** The ONNX value read for `values`. */
  outputName: string;
  /** How the output kind was decided, for the report. */
  kind: 'logits' | 'log-probabilities' | 'regression';
  detectedBy: string;
  /** [n, d_j] per hidden name. */
  hidden: Float32Array[];
  hiddenDims: number[];
  cache: 'hit' | 'miss' | 'off';
  seconds: number;
}

/** The value feeding the model's final Softmax (its logits), when the first output comes from one. */
function softmaxInput(model: onnx.IModelProto): string | undefined {
  const final = onnxFinalOp(model);
  return final?.activation === 'softmax' ? (final.node.input?.[0] ?? undefined) : undefined;
}

/** float32's smallest normal number: its log (about -87) stands for a class the teacher rules out. */
const TINY = 1.1754944e-38;

function log(values: Float32Array): Float32Array {
  // log(0) would be -Infinity. A floor must stay tiny even after the temperature divides it: at T = 4
  // a floor of 1e-8 would still give a ruled-out class 1 % of the soft mass; this one gives ~1e-10.
  return values.map((p) => Math.log(Math.max(p, TINY)));
}

/**
 * Runs the teacher over `data` in onnxruntime (batched) and returns what distillation trains against,
 * reading it from the on-disk cache when the same teacher already saw the same samples.
 */
export async function teacherOutputs(teacher: onnx.IModelProto, data: Dataset, req: TeacherRequest, ctx?: Ctx): Promise<TeacherOutputs> {
  const started = performance.now();
  const outName = teacher.graph?.output?.[0]?.name;
  if (!outName) throw new ShrinkError('INVALID_MODEL', 'teacher: the model has no outputs');
  const classify = data.task === 'classification';
  const logitsName = classify && req.output !== 'probs' ? softmaxInput(teacher) : undefined;
  const read = logitsName ?? outName;
  const names = [read, ...req.hidden];
  const bytes = encodeModel(req.hidden.length > 0 || logitsName ? exposeIntermediates(teacher, names) : teacher);
  const key = req.cacheDir === false ? '' : teacherCacheKey(bytes, data.x, data.sampleShape, { names, task: data.task });
  let arrays: Float32Array[] | undefined;
  let cache: TeacherOutputs['cache'] = req.cacheDir === false ? 'off' : 'miss';
  if (req.cacheDir !== false) {
    const hit = await readCache(req.cacheDir, key);
    if (hit && hit.arrays.length === names.length) {
      arrays = hit.arrays;
      cache = 'hit';
    }
  }
  if (!arrays) {
    arrays = await runTeacher(bytes, names, data, req.batch ?? 256, ctx);
    if (req.cacheDir !== false) await writeCache(req.cacheDir, key, { meta: { names, n: data.n }, arrays });
  }
  const [main, ...hidden] = arrays as [Float32Array, ...Float32Array[]];
  const k = main.length / data.n;
  for (const [i, a] of arrays.entries()) {
    const bad = a.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new ShrinkError(
        'INVALID_MODEL',
        `teacher: value '${names[i]}' is ${a[bad]} for sample ${Math.floor(bad / (a.length / data.n))}; a teacher must give finite outputs`,
      );
  }
  let values = main;
  let kind: TeacherOutputs['kind'] = 'regression';
  let detectedBy = 'regression data: the teacher output is the target';
  if (classify) {
    if (logitsName) {
      kind = 'logits';
      detectedBy = `the output comes from a Softmax node; its input '${logitsName}' is used as logits`;
    } else if (req.output === 'logits') {
      kind = 'logits';
      detectedBy = 'declared: logits';
    } else if (req.output === 'probs') {
      if (!rowsAreDistributions(main, k)) {
        throw new ShrinkError(
          'INVALID_ARGUMENT',
          `probs: the teacher's output '${read}' has rows that are not probability distributions (negative or not summing to 1); declare logits, or auto`,
          { option: 'teacherOutput' },
        );
      }
      kind = 'log-probabilities';
      values = log(main);
      detectedBy = 'declared: probabilities (their logs are used as logits)';
    } else {
      // The same decision every training path makes (core's decideOutputKind).
      const decided = decideOutputKind(onnxFinalOp(teacher), { values: main, width: k });
      if (decided.kind === 'probabilities') {
        kind = 'log-probabilities';
        values = log(main);
        detectedBy = `${decided.reason} (their logs are used as logits)`;
      } else {
        kind = 'logits';
        detectedBy = decided.reason;
      }
    }
  }
  return {
    values,
    k,
    outputName: read,
    kind,
    detectedBy,
    hidden,
    hiddenDims: hidden.map((h) => h.length / data.n),
    cache,
    seconds: (performance.now() - started) / 1000,
  };
}

async function runTeacher(bytes: Uint8Array, names: readonly string[], data: Dataset, batch: number, ctx?: Ctx): Promise<Float32Array[]> {
  const session = await createSession(bytes, { label: 'teacher' }, ctx);
  const progress = progressOf(ctx);
  try {
    const plan = planInput(session, data);
    const b = Math.min(batch, plan.fixedBatch ?? Infinity);
    const parts: Float32Array[][] = names.map(() => []);
    progress.start(`teacher on ${data.name}`, data.n);
    for (let start = 0; start < data.n; start += b) {
      ctx?.signal?.throwIfAborted();
      const count = Math.min(b, data.n - start);
      const { feeds, rows } = feedsFor(plan, data, start, count);
      const out = await session.run(feeds, names);
      names.forEach((name, i) => parts[i]!.push(outputRows(out[name]!, rows, `teacher: value '${name}'`).data.slice()));
      progress.tick(count);
    }
    progress.stop();
    return parts.map(concatFloat32);
  } finally {
    await session.release();
  }
}
