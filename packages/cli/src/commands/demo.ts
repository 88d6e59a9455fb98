import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { z } from 'zod';
import { refuseDegraded, ShrinkError, type onnx, type PassData, type PassOutput } from '@shrink/core';
import { clearlySlower, compareModels, runPass, type ModelUnderTest } from '@shrink/core/runtime';
import type { QuantizeOptions } from '@shrink/quantize';
import type { DistillPassReport } from '@shrink/distill/pass';
import { passOf } from '../registry.js';
import { findFashionMnist, resolveData, resolveSplit } from '@shrink/core/data';
import { loadModel, saveModel, writeFileAtomic } from '@shrink/core/io';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath } from '../paths.js';
import { flagsFromSchema, optionsFromArgv } from '../schema-flags.js';
import { PRESET_NAMES } from './train.js';
import { writeReports } from '../pipeline/write-reports.js';
import { presetWeightsToDir } from '../demo/preset-weights.js';
import { demoHtml, demoMarkdown, summaryTable, type DemoEntry } from '../demo/summary-report.js';
import { kernelsOn, passCtx, pipelineTarget, reportTarget } from '../pipeline/pipeline-target.js';

export const demoSchema = z.strictObject({
  presets: z
    .array(z.enum(PRESET_NAMES))
    .optional()
    .describe('Presets to run (default: seed and digits-mlp, plus fashion-mlp and fashion-cnn when Fashion-MNIST is found)'),
  epochs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("Epochs for every preset, trained now (default: the quick plan, or each preset's with --full)"),
  full: z
    .boolean()
    .default(false)
    .describe('Train each preset now with its own recipe on all its data instead of the quick plan and stored weights'),
  seed: z.number().int().min(0).default(0).describe('Seed for weights, splits and sample order'),
  runs: z.number().int().positive().default(100).describe('Timed latency runs per model'),
  threads: z.number().int().positive().optional().describe('onnxruntime intra-op threads'),
  allowDegraded: z
    .boolean()
    .default(false)
    .describe('Exit 0 even when a variant fails the fidelity guard (it is marked FAILED in the reports either way)'),
});

/**
 * The demo should finish in a few minutes on two cores, and compress models trained to par (a model
 * stopped early flatters every compression method and the student). The Fashion-MNIST presets take
 * 12-15 minutes to train here, so they come as shipped weights (or from the cache after one run) under
 * their own recipe; seed trains 3 epochs instead of 5. `--full` and `--epochs` train everything now.
 */
const QUICK_PLAN: Readonly<Record<string, { epochs?: number; data?: string }>> = {
  seed: { epochs: 3 },
};

/**
 * The student each preset's model teaches: about a tenth of its parameters or less (seed 220k -> 16k,
 * digits 50k -> 1.2k, fashion-mlp 535k -> 51k, fashion-cnn 57k -> 7k).
 */
const STUDENTS: Readonly<Record<string, { spec: string; epochs: number; quickEpochs: number; lr: number }>> = {
  seed: { spec: '1000-16-1', epochs: 10, quickEpochs: 3, lr: 0.001 },
  'digits-mlp': { spec: '64-16-10', epochs: 30, quickEpochs: 15, lr: 0.005 },
  'fashion-mlp': { spec: '784-64-10', epochs: 10, quickEpochs: 3, lr: 0.002 },
  'fashion-cnn': { spec: 'c8-c8-16-10', epochs: 10, quickEpochs: 3, lr: 0.002 },
};

/** The compressed variants every preset gets, with transformers.js' file names. */
const VARIANTS: ReadonlyArray<{ label: string; file: string; options: QuantizeOptions }> = [
  { label: 'q8 dynamic', file: 'model_quantized.onnx', options: { dtype: 'q8' } },
  { label: 'int8 static', file: 'model_int8.onnx', options: { dtype: 'int8', mode: 'static', perChannel: true } },
  { label: 'q4', file: 'model_q4.onnx', options: { dtype: 'q4' } },
  { label: 'fp16', file: 'model_fp16.onnx', options: { dtype: 'fp16' } },
];

const builder = (y: Argv<GlobalArgs>) =>
  flagsFromSchema(y, demoSchema).option('output', { alias: 'o', type: 'string', default: 'shrink-out', describe: 'Output folder' });
type Args = ArgsOf<typeof builder>;

/**
 * The main job on built-in defaults: train each preset, export it to ONNX, check the export against
 * tfjs, then measure the ONNX model (size, params, MACs, latency at batch 1 and 32, energy, accuracy).
 * Compression issues add their variants to each preset's report as candidates.
 */
export const demoCommand: CommandModule<GlobalArgs, Args> = {
  command: 'demo',
  describe: 'Train the built-in models, export them to ONNX, evaluate and benchmark them; report to ./shrink-out/',
  builder,
  handler: async (argv) => {
    const opts = optionsFromArgv(demoSchema, argv, 'demo');
    const ctx = ctxFromArgs(argv);
    const log = ctx.logger!;
    const out = outputPath(argv.output);
    // The demo compresses for this machine: the passes' speed guard runs on its CPU and the reports say which.
    const target = pipelineTarget('cpu');
    const fashion = await findFashionMnist(['train', 'test']).then(
      () => ({ found: true, why: '' }),
      (e: unknown) => ({ found: false, why: e instanceof Error ? e.message : String(e) }),
    );
    let presets: string[] = opts.presets ?? ['seed', 'digits-mlp'];
    if (!opts.presets) {
      if (fashion.found) presets.push('fashion-mlp', 'fashion-cnn');
      else log.info(`${fashion.why}: running seed and digits-mlp only`);
    } else if (!fashion.found && presets.some((p) => p.startsWith('fashion'))) {
      throw new ShrinkError('NOT_FOUND', `--presets: ${fashion.why}`);
    }
    presets = [...new Set(presets)];
    await ensureDir(out);
    const entries: DemoEntry[] = [];
    for (const preset of presets) {
      const dir = path.join(out, preset);
      log.info(`\n== ${preset}`);
      const plan = opts.full ? {} : (QUICK_PLAN[preset] ?? {});
      const weights = await presetWeightsToDir(
        {
          preset: preset as (typeof PRESET_NAMES)[number],
          seed: opts.seed,
          ...plan,
          ...(opts.epochs ? { epochs: opts.epochs } : {}),
          live: opts.full || opts.epochs !== undefined,
        },
        dir,
        ctx,
      );
      const train = weights.train;
      log.info(`${preset}: ${weights.source}`);
      const model = await loadModel(train.onnx);
      const data = await resolveData(train.data, { split: 'test' });
      const split = await resolveSplit(train.data);
      // The demo runs the registry's passes as `shrink run` would, on the preset's own data.
      const passData: PassData = { calibrationSpec: train.data, train: async () => split, eval: async () => data, cwd: process.cwd() };
      const apply = async (kind: string, from: onnx.ModelProto, options: Record<string, unknown>): Promise<PassOutput> => {
        const pass = passOf(kind);
        return runPass(pass, from, pass.schema.parse(options), { data: passData, ctx: passCtx(ctx, target) });
      };
      const candidates: ModelUnderTest[] = [];
      const keep = async (name: string, file: string, m: onnx.ModelProto) => {
        const f = path.join(dir, file);
        const saved = await saveModel(m, f, { force: true, inputs: [train.onnx] });
        candidates.push({ name, model: m, path: f, diskBytes: saved.bytes });
      };
      for (const v of VARIANTS) await keep(v.label, v.file, (await apply('quantize', model, { ...v.options, explain: false })).model);
      // Pruning: unstructured (the zeros show in gzip size), and the Deep Compression recipe —
      // remove half the hidden units, fine-tune one epoch with tfjs, then int8.
      const magnitude = await apply('prune', model, { method: 'magnitude', sparsity: 0.5 });
      const structured = await apply('prune', model, { method: 'structured', sparsity: 0.5, finetune: true, epochs: 1 });
      const deep = await apply('quantize', structured.model, { dtype: 'q8', explain: false });
      await keep('pruned 50% (magnitude)', 'model_pruned.onnx', magnitude.model);
      await keep('50% units + fine-tune + q8', 'model_pruned_quantized.onnx', deep.model);
      // Knowledge distillation: a student of about a tenth of the parameters, taught by this model.
      const st = STUDENTS[preset];
      let distilled: PassOutput | undefined;
      if (st) {
        distilled = await apply('distill', model, {
          student: st.spec,
          epochs: opts.epochs ?? (opts.full ? st.epochs : st.quickEpochs),
          lr: st.lr,
          seed: opts.seed,
          cacheDir: path.join(out, 'cache'),
        });
        distilled.dispose?.();
        await keep(`distilled ${st.spec}`, 'student.onnx', distilled.model);
      }
      const cmp = await compareModels(
        { name: 'fp32', model, path: train.onnx },
        candidates,
        { data, runs: opts.runs, seed: opts.seed, ...(opts.threads ? { threads: opts.threads } : {}) },
        ctx,
      );
      const report = cmp.report;
      report.target = reportTarget(target, opts.threads, ctx);
      report.candidates.forEach((c, i) => (c.kernels = kernelsOn(candidates[i]!.model, target)));
      report.baseline.name = `${preset} fp32 (exported from tfjs, max abs diff ${train.maxAbsDiff.toExponential(1)})`;
      report.notes.push(
        `trained ${train.epochs} epoch${train.epochs === 1 ? '' : 's'} on ${train.backend} in ${train.seconds.toFixed(1)} s; ${weights.source}`,
      );
      report.notes.push('static int8 is calibrated on up to 2,000 training samples; q4 is MatMulNBits (block 32, accuracy_level 4)');
      report.notes.push(
        'magnitude pruning keeps tensor sizes (its gain is the gzip size); structured pruning removes half the hidden units/channels, then 1 epoch of fine-tuning and q8',
      );
      // The chain's candidate says what each step did, so the one row can be read step by step.
      const chain = report.candidates.find((c) => c.name === '50% units + fine-tune + q8');
      if (chain) {
        chain.notes = [
          ...structured.notes.map((n) => `step 1-2 (structured 50% + fine-tune): ${n}`),
          `step 3 (q8 dynamic): ${deep.notes[0] ?? ''}`,
        ];
      }
      const student = report.candidates.find((c) => c.name.startsWith('distilled '));
      if (student && distilled) {
        const d = (distilled.report as DistillPassReport).distillation;
        student.notes = [
          `${d.student.description}, ${d.student.params} parameters; ${d.training.history.length} epoch(s) in ${d.training.seconds.toFixed(1)} s`,
          `loss: ${d.loss}`,
          ...d.notes,
        ];
      }
      report.candidates.forEach((c, i) => {
        const lat = cmp.candidates[i]!.latency;
        if (clearlySlower(lat))
          (c.notes ??= []).push(
            `slower than fp32 here: latency p50 ${lat.ratio.p50.toFixed(2)}x, slower in over 90 % of ${lat.pairs} interleaved pairs`,
          );
      });
      await writeReports(report, dir);
      entries.push({ preset, train, weights: weights.source, report });
      log.info(
        `${preset}: ${train.test.accuracy !== undefined ? `accuracy ${(train.test.accuracy * 100).toFixed(2)}%` : `MSE ${train.test.mse?.toPrecision(4)}`}; report in ${path.join(dir, 'report.html')}`,
      );
    }
    const html = path.join(out, 'report.html');
    const summary = { schema: 'shrink.demo/v1', output: out, html, presets: entries };
    await writeFileAtomic(path.join(out, 'report.json'), `${JSON.stringify(summary, null, 2)}\n`);
    await writeFileAtomic(path.join(out, 'report.md'), demoMarkdown(entries));
    await writeFileAtomic(html, demoHtml(entries));
    emit(argv, summary, () => `${summaryTable(entries, out)}\nopen ${html}`);
    // Every variant is written and reported first (the demo shows what each method does); a broken one
    // still fails the run, so a demo on a CPU where a method misbehaves cannot end "all good".
    for (const e of entries)
      refuseDegraded(e.report.candidates, {
        allow: opts.allowDegraded,
        where: e.preset,
        consequence: `written and marked FAILED in ${path.join(out, e.preset, 'report.json')}`,
      });
  },
};
