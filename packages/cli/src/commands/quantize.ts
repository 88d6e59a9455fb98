import path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import Table from 'cli-table3';
import { formatValue, ShrinkError, type Ctx } from '@shrink/core';
import { compareModels } from '@shrink/core/runtime';
import { OUTPUT_NAMES, type QuantizeReport, type TfjsWeightDtype } from '@shrink/quantize';
import { isCandidate, quantizePass } from '@shrink/quantize/pass';
import type { LayerError } from '@shrink/quantize/runtime';
import { folderFiles, loadModelInput, tfjsFolderOf } from '../model-input.js';
import { emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { outputPath } from '../paths.js';
import { evalData } from '../data-arg.js';
import { passBuilder, runPassCommand } from './pass-command.js';
import { quantizeStreamedCommand, wantsStream } from './quantize-streamed.js';

const builder = (y: Argv<GlobalArgs>) =>
  passBuilder(y, quantizePass.schema)
    .option('output', {
      alias: 'o',
      type: 'string',
      describe: 'Output path (default: beside the input, named as transformers.js expects, e.g. model_quantized.onnx)',
    })
    .option('stream', {
      type: 'boolean',
      describe:
        'q4 of an .onnx with external data: read and quantize the weights a stripe at a time, writing as it goes (bounded memory; no measurement after). Default: on when the external data passes 1 GiB; --no-stream loads the model',
    })
    .option('tfjs-dtype', {
      choices: ['uint8', 'uint16', 'float16'] as const,
      describe: 'tfjs folders: weight dtype (default from --dtype: q8/uint8 -> uint8, fp16 -> float16)',
    });

type Args = ArgsOf<typeof builder>;

/** tfjs folders get tfjs weight quantization; these dtype words map onto what tfjs can store. */
const TFJS_DTYPE: Readonly<Record<string, TfjsWeightDtype>> = { q8: 'uint8', uint8: 'uint8', fp16: 'float16' };

interface QuantizeOwn {
  quantization: QuantizeReport;
  explain: LayerError[] | null;
}

export const quantizeCommand: CommandModule<GlobalArgs, Args> = {
  command: 'quantize <model>',
  describe:
    "Quantize an ONNX model (int8 dynamic/static, int4/int8 weight-only, fp16) or a tfjs folder's weights; measure baseline vs quantized",
  builder,
  handler: (argv) =>
    runPassCommand(quantizePass, argv, {
      defaultOutput: (input, o) => path.join(path.dirname(path.resolve(input.path)), OUTPUT_NAMES[o['dtype'] as keyof typeof OUTPUT_NAMES]),
      // The command prints the per-layer table only when asked; a pipeline step computes it whenever it has data.
      adjust: (o) => ({ ...o, explain: argv.explain === true }),
      before: async (a, o, ctx) => {
        const dir = await tfjsFolderOf(a.model);
        if (dir === undefined) {
          // Models too large to load take the streamed q4 path (quantize-streamed.ts).
          if (!(await wantsStream(argv, o))) return false;
          await quantizeStreamedCommand(argv, o, ctx);
          return true;
        }
        await quantizeTfjs(argv, dir, String(o['dtype']), ctx);
        return true;
      },
      lines: (out) => {
        const own = out.report as QuantizeOwn;
        return [summarizeNodes(own.quantization), ...(own.explain ? [explainTable(own.explain)] : [])];
      },
    }),
};

/** What was not quantized, candidates only (rows of nodes with no weight are in --json). */
function summarizeNodes(q: QuantizeReport): string {
  const candidates = q.nodes.filter(isCandidate);
  const skipped = candidates.filter((n) => n.action !== 'quantized');
  if (skipped.length === 0) return `all ${candidates.length} candidate nodes quantized`;
  return `not quantized: ${skipped.map((n) => `${n.name} (${n.opType}: ${n.reason ?? n.action})`).join('; ')}`;
}

function explainTable(
  rows: ReadonlyArray<{ node: string; opType: string; sqnrDb: number; relError: number; maxAbsError: number }>,
): string {
  const t = new Table({ head: ['node (worst first)', 'op', 'SQNR dB', 'rel. error', 'max abs error'], style: { head: [], border: [] } });
  for (const r of rows.slice(0, 20)) {
    t.push([
      r.node,
      r.opType,
      Number.isFinite(r.sqnrDb) ? r.sqnrDb.toFixed(1) : 'exact',
      r.relError.toExponential(2),
      r.maxAbsError.toExponential(2),
    ]);
  }
  return t.toString() + (rows.length > 20 ? `\n(${rows.length - 20} more in --json)` : '');
}

async function quantizeTfjs(argv: ArgumentsCamelCase<Args>, inDir: string, dtype: string, ctx: Ctx): Promise<void> {
  const { quantizeTfjsFolder } = await import('@shrink/quantize/runtime');
  const tfjsDtype = argv.tfjsDtype ?? TFJS_DTYPE[dtype];
  if (!tfjsDtype) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `${dtype}: a tfjs folder stores uint8, uint16 or float16 weights; use dtype q8, uint8 or fp16, or choose the tfjs dtype`,
      { option: 'dtype' },
    );
  }
  const outDir = argv.output !== undefined ? outputPath(argv.output) : `${inDir.replace(/[\\/]+$/, '')}_${tfjsDtype}`;
  const { report } = await quantizeTfjsFolder(inDir, outDir, { dtype: tfjsDtype, ...(argv.force ? { force: true } : {}) }, ctx);
  const [before, after] = [(await folderFiles(inDir)).bytes, (await folderFiles(outDir)).bytes];
  let quality: { baseline: number; candidate: number; metric: string } | undefined;
  if (argv.data !== undefined) {
    const data = await evalData(argv.data, argv.split);
    const [a, b] = [await loadModelInput(inDir, ctx), await loadModelInput(outDir, ctx)];
    const cmp = await compareModels(
      { name: 'float', model: a.model },
      [{ name: tfjsDtype, model: b.model }],
      { data, runs: 5, warmup: 1 },
      ctx,
    );
    const m = cmp.report.candidates[0]!.metrics;
    const key = m['accuracy'] ? 'accuracy' : 'mse';
    quality = { baseline: m[key]?.baseline ?? NaN, candidate: m[key]?.candidate ?? NaN, metric: key };
  }
  emit(
    argv,
    {
      output: outDir,
      format: 'tfjs',
      quantization: report,
      folderBytes: { baseline: before, candidate: after, ratio: after / before },
      quality: quality ?? null,
    },
    () =>
      [
        `tfjs ${tfjsDtype} weights: ${formatValue(report.bytesBefore, 'bytes')} -> ${formatValue(report.bytesAfter, 'bytes')} (${(report.bytesAfter / report.bytesBefore).toFixed(3)}x); folder ${formatValue(before, 'bytes')} -> ${formatValue(after, 'bytes')}`,
        ...(quality
          ? [`${quality.metric}: ${quality.baseline.toPrecision(4)} -> ${quality.candidate.toPrecision(4)} on ${argv.data}`]
          : []),
        `wrote ${outDir}/`,
      ].join('\n'),
  );
}
