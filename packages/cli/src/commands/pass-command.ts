/**
 * A pass as a command: `shrink <kind> MODEL [flags from the pass's schema] [--data D] [-o OUT]` is a
 * one-step pipeline. The model goes through the registry's pass; the new model is staged, measured
 * against the input (compareModels, the fidelity guard), and renamed into place only when all is well.
 */
import path from 'node:path';
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import {
  constantTensor,
  DegradedModelError,
  kernelPaths,
  refuseDegraded,
  ShrinkError,
  type Ctx,
  type onnx,
  type Pass,
  type PassData,
  type PassOutput,
  type Report,
  withUnmetLimits,
} from '@shrink/core';
import { renderTable } from '@shrink/core/terminal';
import { saveModelChecked } from '@shrink/core/io';
import { resolveSplit, type Dataset, type Split } from '@shrink/core/data';
import { clearlySlower, compareModels, int8KernelPath, runPass, targetReport } from '@shrink/core/runtime';
import { baselineUnderTest, loadModelInput, type ModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath, refuseExisting } from '../paths.js';
import { evalData, isFeedsArg, measureInputs, refuseInputsBeside } from '../data-arg.js';
import { flagsFromSchema, optionsFromArgv } from '../schema-flags.js';
import { dataFlag, guardFlag, profileOptions, runFlags } from './common-flags.js';
import { browserNotes, defaultTarget, measureCtx, targetFlag, targetFromArgv, targetNotes } from '../target-flag.js';

/** The flags every pass command has besides its schema's. */
function commonFlags<T>(y: Argv<T>) {
  return targetFlag(guardFlag(dataFlag(runFlags(y), false)))
    .option('output', { alias: 'o', type: 'string', describe: 'Output .onnx path (default: beside the input)' })
    .option('external-data', { type: 'boolean', describe: 'Store initializers in <output>_data beside the model' })
    .option('force', { type: 'boolean', describe: 'Allow replacing an existing output file' });
}

export function passBuilder<S extends Pass['schema']>(y: Argv<GlobalArgs>, schema: S) {
  return commonFlags(
    flagsFromSchema(y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }), schema),
  );
}

/** What every pass command's handler reads (camelCased); the schema's own flags come as a record. */
export type PassArgs = ArgumentsCamelCase<ReturnType<typeof commonFlags<GlobalArgs & { model: string }>> extends Argv<infer A> ? A : never>;

/**
 * --data as the passes ask for it: evaluation data (its test part), and training data (its split), each
 * loaded once. A feeds file is inputs without labels: no evaluation or training data, but the inputs a pass
 * may calibrate on (fp16's range check runs the model on them) and what the comparison runs.
 */
export function commandData(
  argv: Pick<PassArgs, 'data' | 'split'>,
  feedsFile = false,
): PassData & { evalSet(): Promise<Dataset | undefined> } {
  let evalSet: Promise<Dataset | undefined> | undefined;
  let split: Promise<Split> | undefined;
  const spec = feedsFile ? undefined : argv.data;
  return {
    evalSet: () => (evalSet ??= spec !== undefined ? evalData(spec, argv.split) : Promise.resolve(undefined)),
    eval() {
      return this.evalSet();
    },
    // pass.check refuses a training pass without --data before this is reached.
    train: () => (split ??= resolveSplit(spec!)),
    ...(feedsFile && argv.data !== undefined ? { calibrationSpec: argv.data } : {}),
    cwd: process.cwd(),
  };
}

export interface PassCommandHooks {
  /** The output path when -o is not given: beside the input. */
  defaultOutput(input: ModelInput, options: Record<string, unknown>): string;
  /** Options the command sets when its flag is absent (the quantize command does not explain unless asked). */
  adjust?(options: Record<string, unknown>, argv: PassArgs): Record<string, unknown>;
  /** A model input the pass does not take as ONNX (a tfjs folder's own weights): true when handled. */
  before?(argv: PassArgs, options: Record<string, unknown>, ctx: Ctx): Promise<boolean>;
  /** Notes for the candidate, after the pass's own. */
  notes?(out: PassOutput, report: Report): string[];
  /** Lines after the table. */
  lines?(out: PassOutput): string[];
}

/** Runs `pass` as the command does; returns what it wrote and measured. */
export async function runPassCommand(pass: Pass, argv: PassArgs, hooks: PassCommandHooks): Promise<void> {
  const ctx = ctxFromArgs(argv);
  const parsed = optionsFromArgv(pass.schema, argv, pass.kind);
  const options = hooks.adjust ? hooks.adjust(parsed, argv) : parsed;
  const tgt = targetFromArgv(argv);
  const feedsFile = await isFeedsArg(argv.data);
  const has = argv.data !== undefined && !feedsFile;
  pass.check?.(options, { calibration: false, train: has, eval: has });
  if (argv.data !== undefined && !feedsFile)
    refuseInputsBeside(
      argv.data,
      (argv.input ?? []).map((i) => i.split('=')[0]!),
    );
  const measured = await measureInputs(feedsFile ? argv : { input: argv.input });
  // Bad measurement flags must stop the command before the pass runs for minutes.
  profileOptions(argv, undefined);
  if (hooks.before && (await hooks.before(argv, options, ctx))) return;
  const input = await loadModelInput(argv.model, ctx);
  const prepared = pass.prepare ? await pass.prepare(options, { cwd: process.cwd(), where: pass.kind }) : options;
  const target = argv.output !== undefined ? outputPath(argv.output) : hooks.defaultOutput(input, prepared);
  await refuseExisting(target, argv.force === true);
  const data = commandData(argv, feedsFile);
  const evalSet = await data.evalSet();
  // The speed guard runs where the model will: --target, or this machine's CPU when none is given.
  const runsOn = tgt ?? defaultTarget();
  const out = await runPass(pass, input.model, prepared, { data, ctx: { ...ctx, target: runsOn.context } });
  try {
    // A limit the run was asked to hold and missed is the answer, before "changed nothing" (fine-tuning
    // changes weights even when every pruned node was kept) and before minutes of measuring.
    if (out.unmet && out.unmet.length > 0 && argv.allowDegraded !== true) throw new DegradedModelError(path.basename(target), out.unmet);
    refuseUnchanged(pass, input.path, input.model, out);
    const onTarget = tgt ? targetNotes(out.model, tgt, input.path) : [];
    const browser = tgt
      ? await browserNotes(tgt, input.model, out.model, input.path, argv.allowDegraded === true, ctx, measured.feeds?.file)
      : undefined;
    if (browser) onTarget.push(...browser.notes);
    await ensureDir(path.dirname(target));
    // Measured where it is staged: a model onnxruntime rejects, one computing NaN, or one the fidelity
    // guard fails ends the run (exit 2) with the old output still in place, byte for byte.
    const saveOpts = { externalData: argv.externalData === true, force: argv.force === true, inputs: input.inputs };
    const { saved, value: cmp } = await saveModelChecked(out.model, target, saveOpts, async (staged) => {
      const c = await compareModels(
        baselineUnderTest(input),
        [{ name: path.basename(target), model: out.model, path: staged.path, diskBytes: staged.bytes + (staged.externalDataBytes ?? 0) }],
        profileOptions(argv, evalSet, [], measured.feeds),
        measureCtx(ctx, tgt),
      );
      const cand = c.report.candidates[0]!;
      cand.notes = [...(cand.notes ?? []), ...out.notes, ...(hooks.notes?.(out, c.report) ?? []), ...onTarget];
      cand.kernels = kernelPaths(out.model, runsOn.context, int8KernelPath().isa);
      c.report.target = targetReport(runsOn.context, ctx.threads !== undefined ? { threads: ctx.threads } : {});
      const lat = c.candidates[0]!.latency;
      // Slower in at least 90 % of enough interleaved pairs: not noise, say it plainly (the table says worse too).
      if (clearlySlower(lat)) {
        cand.notes.push(
          `the ${pass.kind} model is SLOWER than the input here: latency p50 ratio ${lat.ratio.p50.toFixed(2)}x (${lat.ratio.p10.toFixed(2)}x-${lat.ratio.p90.toFixed(2)}x over ${lat.pairs} interleaved pairs, p10-p90)`,
        );
      }
      if (out.layers.length > 0) cand.layers = out.layers;
      const guard = withUnmetLimits(cand.guard, [...(out.unmet ?? []), ...(browser?.unmet ?? [])]);
      if (guard) cand.guard = guard;
      refuseDegraded(c.report.candidates, { allow: argv.allowDegraded === true });
      return c;
    });
    cmp.report.candidates[0]!.path = saved.path;
    const own = (out.report ?? {}) as Record<string, unknown>;
    emit(argv, { output: saved.path, externalDataPath: saved.externalDataPath ?? null, ...own, report: cmp.report }, () =>
      [
        renderTable(cmp.report),
        ...(hooks.lines?.(out) ?? []),
        `wrote ${saved.path}${saved.externalDataPath ? ` (+ ${saved.externalDataPath})` : ''}`,
      ].join('\n\n'),
    );
  } finally {
    out.dispose?.();
  }
}

/**
 * A pass that says what it changed and changed nothing would write a copy of its input and call it
 * done: refuse in one line with the commonest reasons its layers were left alone.
 */
function refuseUnchanged(pass: Pass, model: string, input: onnx.IModelProto, out: PassOutput): void {
  if (out.changed === undefined || out.changed.length > 0) return;
  const reasons = new Map<string, number>();
  for (const l of out.layers) {
    // Node names differ in every reason: group by what is left without them.
    const why = l.action
      ?.replace(/^skipped:?\s*/, '')
      .replace(/'[^']*'/g, '…')
      .trim();
    if (why) reasons.set(`${l.opType ?? 'node'}: ${why}`, (reasons.get(`${l.opType ?? 'node'}: ${why}`) ?? 0) + 1);
  }
  const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 2);
  const held = [...weightOps(input)].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ×${n}`);
  const why =
    top.length > 0
      ? top.map(([r, n]) => `${n}× ${r}`).join('; ')
      : `${out.notes[0] ?? 'no node it handles'}${held.length > 0 ? `; the model's weights sit in ${held.slice(0, 4).join(', ')}` : ''}`;
  throw new ShrinkError(
    'UNSUPPORTED_MODEL',
    `${model}: ${pass.kind} changed nothing, so no model was written: ${why}; ${
      /slower than float/.test(why)
        ? '--allow-slower keeps what runs slower here'
        : `other options of it may (see shrink ${pass.kind} --help)`
    }`,
  );
}

/** Op types that read a float weight of 2+ dims (an initializer), with their counts, in the main graph. */
function weightOps(model: onnx.IModelProto): Map<string, number> {
  const isWeight = (t: onnx.ITensorProto | null | undefined) => (t?.dims?.length ?? 0) >= 2 && [1, 10, 11, 16].includes(t?.dataType ?? 0);
  const weights = new Set([
    ...(model.graph?.initializer ?? []).filter(isWeight).map((t) => t.name),
    // paddle2onnx and inlined PyTorch branches keep weights in Constant nodes.
    ...(model.graph?.node ?? []).filter((n) => n.opType === 'Constant' && isWeight(constantTensor(n))).map((n) => n.output?.[0]),
  ]);
  const out = new Map<string, number>();
  for (const n of model.graph?.node ?? [])
    if ((n.input ?? []).some((i) => weights.has(i))) out.set(n.opType ?? '?', (out.get(n.opType ?? '?') ?? 0) + 1);
  return out;
}

/** The generic command of a pass with no command of its own: output `<model>_<kind>.onnx` beside the input. */
export function passCommand(pass: Pass, hooks: Partial<PassCommandHooks> = {}): CommandModule<GlobalArgs, PassArgs> {
  return {
    command: `${pass.kind} <model>`,
    describe: `${pass.summary}; measure input vs output`,
    builder: (y) => passBuilder(y, pass.schema) as unknown as Argv<PassArgs>,
    handler: (argv) =>
      runPassCommand(pass, argv, {
        defaultOutput: (input) =>
          path.join(path.dirname(path.resolve(input.path)), `${path.basename(input.path, path.extname(input.path))}_${pass.kind}.onnx`),
        ...hooks,
      }),
  };
}
