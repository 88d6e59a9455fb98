import path from 'node:path';
import { ShrinkError } from '../errors.js';
import type { GuardFailure } from '../report/guard.js';
import type { onnx } from '../onnx/proto.js';
import type { Pass, PassContext, PassOutput } from '../pass/pass.js';
import { withAccuracyFallback } from './accuracy-fallback.js';
import { withFidelityFallback } from './fidelity-fallback.js';
import { createSession, oneLine } from './session.js';
import { syntheticDataset } from './profile.js';
import type { Dataset } from '../data/dataset.js';
import { feedSetDataset } from './feed-set-dataset.js';
import { isFeedsSpec, readFeedSet } from './feeds-file.js';
import { withSpeedGuard, type SpeedGuardOutcome } from './speed-guard.js';

/**
 * A pass as every front end runs it: its own run, or, with `maxAccuracyDrop` in the options, wrapped in
 * the accuracy fallback (any pass whose options take `exclude` and whose output says what it changed);
 * then, with a target in the context and a pass that takes `allowSlower`, the speed guard.
 */
export async function runPass(
  pass: Pass,
  model: onnx.ModelProto,
  options: Record<string, unknown>,
  context: PassContext,
): Promise<PassOutput> {
  const { out, exclude, decorate } = await runWithFidelityFloor(
    pass,
    model,
    options,
    context,
    await runWithFallback(pass, model, options, context),
  );
  const target = context.ctx.target;
  if (!target || !('allowSlower' in pass.schema.shape) || options['allowSlower'] === true || !out.changed || out.changed.length === 0) {
    return out;
  }
  const rest = passOptions(options);
  let last = out;
  const guarded = await guard(
    out,
    () =>
      withSpeedGuard(
        model,
        out,
        async (change) => {
          if (last !== out) last.dispose?.();
          const all = [...new Set([...exclude, ...change.exclude])];
          const floatCompute = [...new Set([...((options['floatCompute'] as string[] | undefined) ?? []), ...change.floatCompute])];
          last = await pass.run(
            model,
            { ...rest, ...(all.length > 0 ? { exclude: all } : {}), ...(floatCompute.length > 0 ? { floatCompute } : {}) },
            context,
          );
          return last;
        },
        target,
        context.ctx,
        { floatCompute: 'floatCompute' in pass.schema.shape && (pass.floatComputes?.(options) ?? true) },
      ),
    context.ctx,
  );
  if (guarded.attempt !== out) out.dispose?.();
  // A rerun's output is the pass's own: it gets the fallback's notes and layer reasons again.
  const o = guarded.attempt === out ? out : decorate(guarded.attempt);
  return {
    ...o,
    notes: [...o.notes, ...guarded.notes],
    layers: markKept(o.layers, guarded.why),
    report: { ...(o.report as Record<string, unknown> | undefined), speed: guarded.summary },
  };
}

/**
 * The guard never decides whether a model is valid: when the float model or the output cannot run in it
 * (a model onnxruntime rejects, an output the pass broke), the output goes on unguarded with a note, and
 * the measurement after the pass says what is wrong, as it does without a target.
 */
async function guard(
  out: PassOutput,
  run: () => Promise<SpeedGuardOutcome<PassOutput>>,
  ctx: PassContext['ctx'],
): Promise<SpeedGuardOutcome<PassOutput>> {
  try {
    return await run();
  } catch (e) {
    if (ctx.signal?.aborted) throw e;
    const skipped = `speed not checked: ${oneLine(e)}`;
    const summary = {
      target: ctx.target?.name ?? '',
      runtime: '',
      batches: [],
      regions: [],
      rolledBack: [],
      wholeRatio: {},
      rolledBackAll: false,
      skipped,
    };
    return { attempt: out, summary, why: new Map(), notes: [skipped] };
  }
}

/** The pass's run, in the accuracy fallback when asked, with the exclude list its output was made with. */
async function runWithFallback(
  pass: Pass,
  model: onnx.ModelProto,
  options: Record<string, unknown>,
  context: PassContext,
): Promise<{ out: PassOutput; exclude: string[]; decorate: (o: PassOutput) => PassOutput }> {
  const userExclude = (options['exclude'] as string[] | undefined) ?? [];
  const maxDrop = options['maxAccuracyDrop'];
  if (typeof maxDrop !== 'number') {
    const { allowSlower: _, minCosine: __, ...rest } = options;
    return {
      out: await pass.run(model, 'allowSlower' in pass.schema.shape ? rest : options, context),
      exclude: userExclude,
      decorate: (o) => o,
    };
  }
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
  let last: PassOutput | undefined;
  const out = await withAccuracyFallback(
    model,
    async (from, keep) => {
      last?.dispose?.();
      const exclude = [...userExclude, ...keep];
      const rest = passOptions(options);
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
  const decorate = (o: PassOutput): PassOutput => ({
    ...o,
    notes: [...o.notes, out.note],
    layers: markKept(o.layers, out.why),
    report: { ...(o.report as Record<string, unknown> | undefined), fallback: out.fallback },
    ...withUnmet(o, out.unmet),
  });
  return { out: decorate(out.attempt.output), exclude: [...userExclude, ...out.why.keys()], decorate };
}

interface Ran {
  out: PassOutput;
  exclude: string[];
  decorate: (o: PassOutput) => PassOutput;
}

/**
 * With a fidelity floor (the `minCosine` option, else the target's), the fidelity fallback on top of what
 * ran: while the worst output's cosine to the original model is below the floor in the target's runtime,
 * the changed node that hurts most is left alone and the pass runs again. Its first attempt is the output
 * already made. A model it cannot make comparison samples for goes on with a note.
 */
async function runWithFidelityFloor(
  pass: Pass,
  model: onnx.ModelProto,
  options: Record<string, unknown>,
  context: PassContext,
  ran: Ran,
): Promise<Ran> {
  const asked = options['minCosine'] as number | undefined;
  const floor = asked ?? context.ctx.target?.info.minCosine;
  if (floor === undefined || !('exclude' in pass.schema.shape) || !ran.out.changed || ran.out.changed.length === 0) return ran;
  // A target's floor guards against kernels computing wrong outputs. A model the pass trained is meant to
  // compute something else (fine-tuned weights everywhere), so only a floor the user set applies to it.
  if (asked === undefined && ran.out.trained) {
    const note = `the ${context.ctx.target?.name ?? 'target'} fidelity floor ${floor} is not applied: ${pass.kind} trained the model, so its outputs are meant to change (accuracy on the evaluation data judges it${'minCosine' in pass.schema.shape ? '; minCosine sets a floor anyway' : ''})`;
    return { ...ran, out: { ...ran.out, notes: [...ran.out.notes, note] } };
  }
  const data = await fidelityData(model, options, context);
  if (typeof data === 'string') {
    return { ...ran, out: { ...ran.out, notes: [...ran.out.notes, `fidelity floor ${floor} not checked: ${data}`] } };
  }
  const rest = passOptions(options);
  let last: PassOutput | undefined;
  const out = await withFidelityFallback(
    model,
    async (from, keep) => {
      if (keep.length === 0 && from === model) return { model: ran.out.model, changed: ran.out.changed!, output: ran.out };
      if (last !== undefined && last !== ran.out) last.dispose?.();
      const exclude = [...ran.exclude, ...keep];
      last = await pass.run(from, { ...rest, exclude }, context);
      return { model: last.model, changed: last.changed ?? [], output: last };
    },
    floor,
    data,
    { words: { original: 'original', candidate: 'output', kept: 'as it was' } },
    context.ctx,
  );
  const picked = out.attempt.output;
  if (picked !== ran.out) ran.out.dispose?.();
  const withNote = (d: PassOutput): PassOutput => ({
    ...d,
    notes: [...d.notes, out.note],
    layers: markKept(d.layers, out.why),
    report: { ...(d.report as Record<string, unknown> | undefined), fidelityFallback: out.fallback },
    ...withUnmet(d, out.unmet),
  });
  return {
    // The first attempt is already decorated by the accuracy fallback; a rerun gets both.
    out: withNote(picked === ran.out ? ran.out : ran.decorate(picked)),
    exclude: [...ran.exclude, ...out.why.keys()],
    decorate: (o) => withNote(ran.decorate(o)),
  };
}

/**
 * What the fidelity floor compares on: the evaluation data; else the run's feeds (a feeds file given as
 * data or as calibData), which are the inputs the user cares about; else synthetic samples (undefined).
 * A string says why none can be made (synthetic samples need one float input).
 */
async function fidelityData(
  model: onnx.ModelProto,
  options: Record<string, unknown>,
  context: PassContext,
): Promise<Dataset | undefined | string> {
  const data = await context.data.eval();
  if (data) return data;
  const calib = options['calibData'];
  const spec = typeof calib === 'string' ? calib : context.data.calibrationSpec;
  const s = await createSession(model, { label: 'original model' }, { ...context.ctx, runtime: 'onnxruntime-node' });
  try {
    let unusable: string | undefined;
    if (spec !== undefined && (await isFeedsSpec(spec, s.inputNames))) {
      const set = feedSetDataset(await readFeedSet(spec, s, model), s);
      if (typeof set !== 'string') return set;
      unusable = `the feeds ${path.basename(spec)} cannot be compared on (${set}: the floor compares one float32 input)`;
    }
    try {
      syntheticDataset(s, 1);
      return undefined;
    } catch (e) {
      // Asking for evaluation data a model of several inputs cannot take would send the user in circles.
      return unusable ?? oneLine(e);
    }
  } finally {
    await s.release();
  }
}

/** The layer table with each node a fallback or the guard kept saying why. */
function markKept(layers: PassOutput['layers'], why: ReadonlyMap<string, string>): PassOutput['layers'] {
  return layers.map((l) => {
    const w = why.get(l.name);
    return w === undefined ? l : { ...l, action: `kept: ${w}` };
  });
}

/** The options the pass itself reads: the runner's own (fallback, floor, guard) taken out. */
function passOptions(options: Record<string, unknown>): Record<string, unknown> {
  const { maxAccuracyDrop: _, allowSlower: __, minCosine: ___, ...rest } = options;
  return rest;
}

/** `o`'s unmet limits with `failure` added (a rerun's output is decorated again: never twice). */
function withUnmet(o: PassOutput, failure: GuardFailure | undefined): Pick<PassOutput, 'unmet'> {
  if (!failure) return o.unmet ? { unmet: o.unmet } : {};
  return { unmet: [...(o.unmet ?? []).filter((f) => f.metric !== failure.metric), failure] };
}
