import { ShrinkError } from '../errors.js';
import type { onnx } from '../onnx/proto.js';
import type { Pass, PassContext, PassOutput } from '../pass/pass.js';
import { withAccuracyFallback } from './accuracy-fallback.js';

/**
 * A pass as every front end runs it: its own run, or, with `maxAccuracyDrop` in the options, wrapped in
 * the accuracy fallback (any pass whose options take `exclude` and whose output says what it changed).
 */
export async function runPass(
  pass: Pass,
  model: onnx.ModelProto,
  options: Record<string, unknown>,
  context: PassContext,
): Promise<PassOutput> {
  const maxDrop = options['maxAccuracyDrop'];
  if (typeof maxDrop !== 'number') return pass.run(model, options, context);
  if (!('exclude' in pass.schema.shape)) {
    throw new ShrinkError('INVALID_ARGUMENT', `${pass.kind} cannot leave nodes alone, so it has no accuracy fallback`, {
      option: 'maxAccuracyDrop',
    });
  }
  const evalSet = await context.data.eval();
  if (!evalSet) {
    throw new ShrinkError('INVALID_ARGUMENT', 'the accuracy fallback measures accuracy on the evaluation data, and none is given', {
      option: 'maxAccuracyDrop',
      missing: 'eval',
    });
  }
  const userExclude = (options['exclude'] as string[] | undefined) ?? [];
  let last: PassOutput | undefined;
  const out = await withAccuracyFallback(
    model,
    async (from, keep) => {
      last?.dispose?.();
      const exclude = [...userExclude, ...keep];
      const { maxAccuracyDrop: _, ...rest } = options;
      last = await pass.run(from, { ...rest, ...(exclude.length > 0 ? { exclude } : {}) }, context);
      if (!last.changed)
        throw new ShrinkError('INVALID_ARGUMENT', `${pass.kind} does not say which nodes it changed, so it has no accuracy fallback`, {
          option: 'maxAccuracyDrop',
        });
      return { model: last.model, changed: last.changed, output: last };
    },
    evalSet,
    maxDrop,
    {},
    context.ctx,
  );
  const o = out.attempt.output;
  return {
    ...o,
    notes: [...o.notes, out.note],
    layers: o.layers.map((l) => {
      const why = out.why.get(l.name);
      return why === undefined ? l : { ...l, action: `kept: ${why}` };
    }),
    report: { ...(o.report as Record<string, unknown> | undefined), fallback: out.fallback },
  };
}
