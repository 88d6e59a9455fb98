/** Task metrics of a model on a dataset: top-1 accuracy for classification, MSE/MAE for regression. */
import { progressOf, type Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { feedsFor, planInput } from './feeds.js';
import type { Session } from './session.js';
import { argmaxRow, outputRows } from './tensors.js';

export interface EvaluateOptions {
  /** Samples per run (64); capped by a model's fixed batch size. */
  batch?: number;
  /** Output to score; the first output by default. */
  output?: string;
  /** Model input the dataset feeds; the only input by default. */
  input?: string;
}

export type EvaluateResult =
  | { readonly task: 'classification'; readonly accuracy: number; readonly correct: number; readonly n: number }
  | { readonly task: 'regression'; readonly mse: number; readonly mae: number; readonly n: number };

export function batchSize(requested: number | undefined, ...fixed: Array<number | undefined>): number {
  const b = requested ?? 64;
  if (!Number.isInteger(b) || b < 1) throw new ShrinkError('INVALID_ARGUMENT', `batch must be a positive integer, got ${b}`);
  return Math.min(b, ...fixed.map((f) => f ?? Infinity));
}

export function pickOutput(session: Session, name: string | undefined): string {
  if (name === undefined) {
    const first = session.outputNames[0];
    if (first === undefined) throw new ShrinkError('INVALID_MODEL', `${session.source}: the model has no outputs`);
    return first;
  }
  if (!session.outputNames.includes(name)) {
    throw new ShrinkError('NOT_FOUND', `${session.source}: no model output '${name}'; outputs: ${session.outputNames.join(', ')}`);
  }
  return name;
}

export async function evaluate(session: Session, dataset: Dataset, opts: EvaluateOptions = {}, ctx?: Ctx): Promise<EvaluateResult> {
  if (dataset.n === 0) throw new ShrinkError('INVALID_DATA', `dataset '${dataset.name}' has no samples to evaluate on`);
  if (dataset.unlabeled)
    throw new ShrinkError(
      'INVALID_DATA',
      `dataset '${dataset.name}' has no labels ("y"); accuracy and MSE need them (fidelity, calibration and distillation do not)`,
    );
  const plan = planInput(session, dataset, opts.input);
  const output = pickOutput(session, opts.output);
  const batch = batchSize(opts.batch, plan.fixedBatch);
  const what = `${session.source}: output '${output}'`;
  const progress = progressOf(ctx);
  let correct = 0;
  let se = 0;
  let ae = 0;
  const targetSize = dataset.targetSize ?? 1;
  progress.start(`evaluate on ${dataset.name}`, dataset.n);
  try {
    for (let start = 0; start < dataset.n; start += batch) {
      ctx?.signal?.throwIfAborted();
      const count = Math.min(batch, dataset.n - start);
      const { feeds, rows } = feedsFor(plan, dataset, start, count);
      const out = await session.run(feeds, [output]);
      const { data, width } = outputRows(out[output]!, rows, what);
      if (dataset.task === 'classification') {
        if (width < 2 || (dataset.numClasses !== undefined && width !== dataset.numClasses)) {
          throw new ShrinkError(
            'INVALID_DATA',
            `${what} has ${width} value(s) per sample but dataset '${dataset.name}' has ${dataset.numClasses ?? 'unknown'} classes; top-1 accuracy needs one score per class`,
          );
        }
        for (let i = 0; i < count; i++) if (argmaxRow(data, i * width, width) === dataset.y[start + i]) correct++;
      } else {
        if (width !== targetSize) {
          throw new ShrinkError(
            'INVALID_DATA',
            `${what} has ${width} value(s) per sample but dataset '${dataset.name}' has ${targetSize} target(s) per sample`,
          );
        }
        const y = dataset.y;
        for (let k = 0; k < count * width; k++) {
          const d = data[k]! - Number(y[start * width + k]!);
          se += d * d;
          ae += Math.abs(d);
        }
      }
      progress.tick(count);
    }
  } finally {
    progress.stop();
  }
  const n = dataset.n;
  return dataset.task === 'classification'
    ? { task: 'classification', accuracy: correct / n, correct, n }
    : { task: 'regression', mse: se / (n * targetSize), mae: ae / (n * targetSize), n };
}
