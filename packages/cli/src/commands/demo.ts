import path from 'node:path';
import type { CommandModule } from 'yargs';
import Table from 'cli-table3';
import { z } from 'zod';
import { createReport, formatValue, renderJson, ShrinkError, type Report } from '@shrink/core';
import { collectEnvironment, profileMetrics, profileModel } from '@shrink/core/runtime';
import { findFashionMnist, resolveData } from '@shrink/core/data';
import { loadModel, writeFileAtomic } from '@shrink/core/io';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath } from '../paths.js';
import { flagsFromSchema, optionsFromArgv } from '../schema-flags.js';
import { PRESET_NAMES, trainToDir, type TrainOutcome } from './train.js';

export const demoSchema = z.strictObject({
  presets: z
    .array(z.enum(PRESET_NAMES))
    .optional()
    .describe('Presets to run (default: seed and digits-mlp, plus fashion-mlp and fashion-cnn when Fashion-MNIST is found)'),
  epochs: z.number().int().positive().optional().describe('Epochs for every preset (default: the quick plan, or each preset\'s with --full)'),
  full: z.boolean().default(false).describe("Train each preset with its own epochs on all its data instead of the quick plan"),
  seed: z.number().int().min(0).default(0).describe('Seed for weights, splits and sample order'),
  runs: z.number().int().positive().default(100).describe('Timed latency runs per model'),
  threads: z.number().int().positive().optional().describe('onnxruntime intra-op threads'),
});

/**
 * The demo should finish in a few minutes on two cores: fewer epochs, and the first 20,000 Fashion-MNIST
 * training images (the whole 10,000-image test set is still used). `--full` trains as the presets say.
 */
const QUICK_PLAN: Readonly<Record<string, { epochs?: number; data?: string }>> = {
  seed: { epochs: 3 },
  'fashion-mlp': { epochs: 2, data: 'fashion-mnist:20000' },
  'fashion-cnn': { epochs: 1, data: 'fashion-mnist:20000' },
};

interface Args extends GlobalArgs {
  output: string;
}

interface DemoEntry {
  preset: string;
  train: TrainOutcome;
  report: Report;
}

/**
 * The main job on built-in defaults: train each preset, export it to ONNX, check the export against
 * tfjs, then measure the ONNX model (size, params, MACs, latency at batch 1 and 32, energy, accuracy).
 * Compression issues add their variants to each preset's report as candidates.
 */
export const demoCommand: CommandModule<GlobalArgs, Args> = {
  command: 'demo',
  describe: 'Train the built-in models, export them to ONNX, evaluate and benchmark them; report to ./shrink-out/',
  builder: (y) => flagsFromSchema(y, demoSchema).option('output', { alias: 'o', type: 'string', default: 'shrink-out', describe: 'Output folder' }) as never,
  handler: async (argv) => {
    const opts = optionsFromArgv(demoSchema, argv, 'demo');
    const ctx = ctxFromArgs(argv);
    const log = ctx.logger!;
    const out = outputPath(argv.output);
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
      const train = await trainToDir(
        { preset: preset as (typeof PRESET_NAMES)[number], seed: opts.seed, ...plan, ...(opts.epochs ? { epochs: opts.epochs } : {}) },
        dir,
        ctx,
      );
      const model = await loadModel(train.onnx);
      const data = await resolveData(train.data, { split: 'test' });
      const common = { data, runs: opts.runs, seed: opts.seed, ...(opts.threads ? { threads: opts.threads } : {}) };
      const mut = { name: `${preset} (fp32 ONNX)`, model, path: train.onnx };
      const b1 = await profileModel(mut, { ...common, batch: 1 }, ctx);
      const b32 = await profileModel(mut, { ...common, batch: 32 }, ctx);
      const metrics = profileMetrics(b1);
      metrics['latency.p50@32'] = { candidate: b32.latency.p50, unit: 'ms', better: 'lower', method: b32.latency.method };
      metrics['throughput@32'] = { candidate: b32.latency.throughputPerSec, unit: 'samples/s', better: 'higher', method: b32.latency.method };
      metrics['export.maxAbsDiff'] = { candidate: train.maxAbsDiff, unit: '', better: 'lower', method: 'ONNX (onnxruntime) vs tfjs on 32 seeded random inputs' };
      const report = createReport({
        baseline: { name: mut.name, path: train.onnx },
        candidates: [{ name: mut.name, path: train.onnx, metrics }],
        environment: collectEnvironment(opts.threads ? { threads: opts.threads } : {}),
        notes: [
          `trained ${train.epochs} epochs on ${train.backend} in ${train.seconds.toFixed(1)} s`,
          `evaluated on ${data.name} (${data.n} samples)`,
          'compressed variants are added as candidates by the quantize, prune and distill passes',
        ],
      });
      await writeFileAtomic(path.join(dir, 'report.json'), renderJson(report));
      entries.push({ preset, train, report });
      log.info(`${preset}: ${train.test.accuracy !== undefined ? `accuracy ${(train.test.accuracy * 100).toFixed(2)}%` : `MSE ${train.test.mse?.toPrecision(4)}`}, p50 ${(b1.latency.p50 * 1000).toFixed(1)} µs at batch 1; report in ${path.join(dir, 'report.json')}`);
    }
    const summary = { schema: 'shrink.demo/v1', output: out, presets: entries };
    await writeFileAtomic(path.join(out, 'report.json'), `${JSON.stringify(summary, null, 2)}\n`);
    emit(argv, summary, () => summaryTable(entries, out));
  },
};

function summaryTable(entries: DemoEntry[], out: string): string {
  const t = new Table({
    head: ['preset', 'quality (test)', 'params', 'size', 'MACs', 'p50 b1', 'p50 b32', 'J / inference', 'gCO2e / 1M', 'export diff'],
    style: { head: [], border: [] },
  });
  for (const e of entries) {
    const m = e.report.candidates[0]!.metrics;
    const v = (k: string) => m[k]?.candidate;
    const q = v('accuracy') !== undefined ? `${((v('accuracy') ?? 0) * 100).toFixed(2)}% acc` : `MSE ${v('mse')?.toPrecision(3)}`;
    t.push([
      e.preset,
      q,
      formatValue(v('params') ?? 0, 'count'),
      formatValue(v('size.bytes') ?? 0, 'bytes'),
      formatValue(v('macs') ?? 0, 'count'),
      formatValue(v('latency.p50') ?? 0, 'ms'),
      formatValue(v('latency.p50@32') ?? 0, 'ms'),
      formatValue(v('energy.perInference') ?? 0, 'J'),
      formatValue(v('co2e.perMillion') ?? 0, 'gCO2e'),
      (v('export.maxAbsDiff') ?? 0).toExponential(1),
    ]);
  }
  return `${t.toString()}\nreports and models in ${out}/ (report.json; <preset>/model.onnx, tfjs/, report.json)`;
}
