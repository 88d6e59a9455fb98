import { ensureDir, outputPath, refuseExisting } from '../paths.js';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import Table from 'cli-table3';
import { formatValue, refuseDegraded, ShrinkError, type Ctx, type Report } from '@shrink/core';
import { renderTable } from '@shrink/core/terminal';
import { saveModelChecked } from '@shrink/core/io';
import type { Dataset } from '@shrink/core/data';
import { clearlySlower, compareModels, type LatencyComparison } from '@shrink/core/runtime';
import { OUTPUT_NAMES, quantizeOptionsSchema, type PassResult, type QuantizeReport, type TfjsWeightDtype } from '@shrink/quantize';
import {
  explainQuantization,
  quantizeModel,
  quantizeTfjsFolder,
  quantizeWithFallback,
  resolveCalibration,
  type FallbackResult,
  type LayerError,
} from '@shrink/quantize/runtime';
import { folderFiles, loadModelInput, tfjsFolderOf } from '../model-input.js';
import { ctxFromArgs, emit, type GlobalArgs } from '../output.js';
import { evalData } from '../data-arg.js';
import { flagsFromSchema, optionsFromArgv } from '../schema-flags.js';
import { dataFlag, guardFlag, profileOptions, runFlags, type GuardArgs, type RunArgs } from './common-flags.js';
import { checkRunArgs } from './check-run-args.js';
import { baselineUnderTest } from '../pipeline/run-pipeline.js';

interface Args extends GlobalArgs, RunArgs, GuardArgs {
  model: string;
  output?: string;
  force?: boolean;
  externalData?: boolean;
  explain?: boolean;
  maxAccuracyDrop?: number;
  tfjsDtype?: TfjsWeightDtype;
}

/** tfjs folders get tfjs weight quantization; these dtype words map onto what tfjs can store. */
const TFJS_DTYPE: Readonly<Record<string, TfjsWeightDtype>> = { q8: 'uint8', uint8: 'uint8', fp16: 'float16' };

export const quantizeCommand: CommandModule<GlobalArgs, Args> = {
  command: 'quantize <model>',
  describe: 'Quantize an ONNX model (int8 dynamic/static, int4/int8 weight-only, fp16) or a tfjs folder\'s weights; measure baseline vs quantized',
  builder: (y) =>
    dataFlag(
      runFlags(
        guardFlag(flagsFromSchema(y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' }), quantizeOptionsSchema))
          .option('output', { alias: 'o', type: 'string', describe: 'Output path (default: beside the input, named as transformers.js expects, e.g. model_quantized.onnx)' })
          .option('explain', { type: 'boolean', describe: 'Per-layer output error of the quantized model (SQNR), worst first; needs --data or --calib-data' })
          .option('max-accuracy-drop', { type: 'number', describe: 'Keep the worst layers float until the accuracy drop on --data is within this (0.01 = 1 point)' })
          .option('tfjs-dtype', { choices: ['uint8', 'uint16', 'float16'] as const, describe: 'tfjs folders: weight dtype (default from --dtype: q8/uint8 -> uint8, fp16 -> float16)' })
          .option('external-data', { type: 'boolean', describe: 'Store initializers in <output>_data beside the model' })
          .option('force', { type: 'boolean', describe: 'Allow overwriting an existing output or input file' }),
      ),
      false,
    ) as never,
  handler: async (argv) => {
    checkRunArgs(argv);
    const ctx = ctxFromArgs(argv);
    const options = optionsFromArgv(quantizeOptionsSchema, argv, 'quantize');
    const tfjsDir = await tfjsFolderOf(argv.model);
    if (tfjsDir !== undefined) {
      await quantizeTfjs(argv, tfjsDir, options.dtype, ctx);
      return;
    }
    const input = await loadModelInput(argv.model, ctx);
    const model = input.model;
    if (argv.maxAccuracyDrop !== undefined && !(argv.maxAccuracyDrop >= 0 && argv.maxAccuracyDrop < 1)) {
      throw new ShrinkError('INVALID_ARGUMENT', `--max-accuracy-drop: must be in [0, 1) (0.01 = 1 point of accuracy), got ${argv.maxAccuracyDrop}`);
    }
    if (argv.maxAccuracyDrop !== undefined && argv.data === undefined) {
      throw new ShrinkError('INVALID_ARGUMENT', '--max-accuracy-drop needs --data to measure accuracy on');
    }
    const data = argv.data !== undefined ? await evalData(argv.data, argv.split) : undefined;
    const calibration = options.calibData !== undefined ? await resolveCalibration(options.calibData, model) : undefined;
    if (options.mode === 'static' && !calibration) {
      throw new ShrinkError('CALIBRATION_EMPTY', '--mode static needs --calib-data (a --data spec such as digits, or random:64 for a smoke test)');
    }
    const env = calibration ? { calibration } : {};
    const target = argv.output !== undefined ? outputPath(argv.output) : path.join(path.dirname(path.resolve(input.path)), OUTPUT_NAMES[options.dtype]);
    await refuseExisting(target, argv.force === true);

    let result: PassResult;
    let fallback: FallbackResult['fallback'] | undefined;
    if (argv.maxAccuracyDrop !== undefined && data) {
      const r = await quantizeWithFallback(model, options, env, data, argv.maxAccuracyDrop, {}, ctx);
      result = r;
      fallback = r.fallback;
    } else {
      result = await quantizeModel(model, options, env, ctx);
    }
    await ensureDir(path.dirname(target));
    // The new model is measured where it is staged: a model onnxruntime rejects, or one computing NaN,
    // ends the run (exit 2) with the old output still in place, byte for byte.
    const saveOpts = { externalData: argv.externalData === true, force: argv.force === true, inputs: input.inputs };
    const { saved, value: { cmp, explain } } = await saveModelChecked(result.model, target, saveOpts, async (staged) => {
      const explainData: Dataset | undefined = data ?? calibration;
      let explain: LayerError[] | undefined;
      if (argv.explain === true) {
        if (!explainData) throw new ShrinkError('INVALID_ARGUMENT', '--explain needs sample data: pass --data or --calib-data');
        explain = await explainQuantization(model, result.model, result.report, explainData, {}, ctx);
      }
      const cmp = await compareModels(
        baselineUnderTest(input),
        [{ name: path.basename(target), model: result.model, path: staged.path, diskBytes: staged.bytes + (staged.externalDataBytes ?? 0) }],
        profileOptions(argv, data),
        ctx,
      );
      addQuantizationNotes(cmp.report, result.report, cmp.baseline.params.byDtype, cmp.candidates[0]!.profile.params.byDtype, cmp.candidates[0]!.latency);
      refuseDegraded(cmp.report.candidates, { allow: argv.allowDegraded === true });
      return { cmp, explain };
    });
    cmp.report.candidates[0]!.path = saved.path;

    emit(
      argv,
      { output: saved.path, externalDataPath: saved.externalDataPath ?? null, quantization: result.report, report: cmp.report, explain: explain ?? null, fallback: fallback ?? null },
      () => {
        const parts = [renderTable(cmp.report), summarizeNodes(result.report)];
        if (explain) parts.push(explainTable(explain));
        if (fallback) {
          parts.push(
            `accuracy fallback: ${fallback.met ? 'met' : 'NOT met'} (baseline ${(fallback.baseline * 100).toFixed(2)}%, final ${(fallback.final * 100).toFixed(2)}%); kept float: ${fallback.keptFloat.join(', ') || 'none'}`,
          );
        }
        parts.push(`wrote ${saved.path}${saved.externalDataPath ? ` (+ ${saved.externalDataPath})` : ''}`);
        return parts.join('\n\n');
      },
    );
  },
};

function addQuantizationNotes(report: Report, q: QuantizeReport, before: Record<string, number>, after: Record<string, number>, latency: LatencyComparison): void {
  const fmt = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${formatValue(v, 'count')}`)
      .join(', ');
  const cand = report.candidates[0]!;
  cand.notes = [
    `${q.dtype}${q.mode === q.dtype ? '' : ` ${q.mode}`}: ${q.nodes.filter((n) => n.action === 'quantized').length} of ${q.nodes.length} candidate nodes quantized`,
    `parameters by dtype: baseline ${fmt(before)}; quantized ${fmt(after)}`,
    ...(Object.keys(q.unhandled).length ? [`passed through untouched: ${Object.entries(q.unhandled).map(([k, v]) => `${k} x${v}`).join(', ')}`] : []),
    ...q.notes,
  ];
  // Slower in at least 90 % of enough interleaved pairs: not noise, say it plainly (the table says worse too).
  if (clearlySlower(latency)) {
    cand.notes.push(
      `the quantized model is SLOWER than the float one here: latency p50 ratio ${latency.ratio.p50.toFixed(2)}x (${latency.ratio.p10.toFixed(2)}x-${latency.ratio.p90.toFixed(2)}x over ${latency.pairs} interleaved pairs, p10-p90)`,
    );
  }
}

function summarizeNodes(q: QuantizeReport): string {
  const skipped = q.nodes.filter((n) => n.action !== 'quantized');
  if (skipped.length === 0) return `all ${q.nodes.length} candidate nodes quantized`;
  return `not quantized: ${skipped.map((n) => `${n.name} (${n.opType}: ${n.reason ?? n.action})`).join('; ')}`;
}

function explainTable(rows: ReadonlyArray<{ node: string; opType: string; sqnrDb: number; relError: number; maxAbsError: number }>): string {
  const t = new Table({ head: ['node (worst first)', 'op', 'SQNR dB', 'rel. error', 'max abs error'], style: { head: [], border: [] } });
  for (const r of rows.slice(0, 20)) {
    t.push([r.node, r.opType, Number.isFinite(r.sqnrDb) ? r.sqnrDb.toFixed(1) : 'exact', r.relError.toExponential(2), r.maxAbsError.toExponential(2)]);
  }
  return t.toString() + (rows.length > 20 ? `\n(${rows.length - 20} more in --json)` : '');
}

async function quantizeTfjs(argv: Args, inDir: string, dtype: string, ctx: Ctx): Promise<void> {
  const tfjsDtype = argv.tfjsDtype ?? TFJS_DTYPE[dtype];
  if (!tfjsDtype) {
    throw new ShrinkError('INVALID_ARGUMENT', `--dtype ${dtype}: a tfjs folder stores uint8, uint16 or float16 weights; use --dtype q8|uint8|fp16 or --tfjs-dtype`);
  }
  const outDir = argv.output !== undefined ? outputPath(argv.output) : `${inDir.replace(/[\\/]+$/, '')}_${tfjsDtype}`;
  const { report } = await quantizeTfjsFolder(inDir, outDir, { dtype: tfjsDtype, ...(argv.force ? { force: true } : {}) }, ctx);
  const [before, after] = [(await folderFiles(inDir)).bytes, (await folderFiles(outDir)).bytes];
  let quality: { baseline: number; candidate: number; metric: string } | undefined;
  if (argv.data !== undefined) {
    const data = await evalData(argv.data, argv.split);
    const [a, b] = [await loadModelInput(inDir, ctx), await loadModelInput(outDir, ctx)];
    const cmp = await compareModels({ name: 'float', model: a.model }, [{ name: tfjsDtype, model: b.model }], { data, runs: 5, warmup: 1 }, ctx);
    const m = cmp.report.candidates[0]!.metrics;
    const key = m['accuracy'] ? 'accuracy' : 'mse';
    quality = { baseline: m[key]?.baseline ?? NaN, candidate: m[key]?.candidate ?? NaN, metric: key };
  }
  emit(argv, { output: outDir, format: 'tfjs', quantization: report, folderBytes: { baseline: before, candidate: after, ratio: after / before }, quality: quality ?? null }, () =>
    [
      `tfjs ${tfjsDtype} weights: ${formatValue(report.bytesBefore, 'bytes')} -> ${formatValue(report.bytesAfter, 'bytes')} (${(report.bytesAfter / report.bytesBefore).toFixed(3)}x); folder ${formatValue(before, 'bytes')} -> ${formatValue(after, 'bytes')}`,
      ...(quality ? [`${quality.metric}: ${quality.baseline.toPrecision(4)} -> ${quality.candidate.toPrecision(4)} on ${argv.data}`] : []),
      `wrote ${outDir}/`,
    ].join('\n'),
  );
}
