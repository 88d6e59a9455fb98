/**
 * Quantizing a ~1 GB fp32 model stored with external data (loadModel + quantizeModel q8 + saveModel)
 * against copying the same bytes, with the peak memory of each. Goals (issue #3): within 3x of the
 * copy's time, peak memory within 1.5x of the model's bytes. Only on request (`pnpm bench
 * quantize-large`): it writes ~2.5 GB to the temp folder and takes a few minutes.
 */
import { mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSession, loadModel, mulberry32, quantizeModel, saveModel, writeFileAtomic, type onnx } from './core.js';
import { buildMlp } from './onnx-io.bench.js';
import {
  PeakRss,
  collectGarbage,
  fmtBytes,
  fmtMs,
  fmtX,
  interleave,
  mdTable,
  nowMs,
  ratios,
  relL2Error,
  settleAndCollect,
  summarize,
  timeMs,
  xSpread,
  type Bench,
  type BenchContext,
  type Variant,
} from './lib.js';

/** 268.4 M float32 weights: 1.07 GB of initializers. */
const WIDTHS = [4096, 8192, 8192, 8192, 8192, 4096] as const;
const WARMUP_ROUNDS = 1;
const ROUNDS = 3;
/** The model, its copy, the quantized model and a temp file being written, with room to spare. */
const MIN_FREE_BYTES = 6e9;
const ORT_THREADS = 2;

const median = (xs: readonly number[]): number => summarize(xs, 'times').p50;

/** ‖y − y_ref‖₂ / ‖y_ref‖₂ of two model files in onnxruntime, on one seeded input row. */
async function outputError(refFile: string, file: string): Promise<number> {
  const rand = mulberry32(5);
  const input = { data: Float32Array.from({ length: WIDTHS[0] }, () => rand()), dims: [1, WIDTHS[0]] };
  const run = async (f: string): Promise<Float32Array> => {
    const s = await createSession(f, { threads: ORT_THREADS });
    try {
      return (await s.run({ input }))['output']!.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  const a = await run(refFile);
  const b = await run(file);
  return relL2Error(b, a);
}

export const quantizeLargeBench: Bench = {
  name: 'quantize-large',
  title: 'Quantizing a ~1 GB model with external data vs copying its bytes',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const tmp = os.tmpdir();
    const info = statfsSync(tmp);
    const free = info.bavail * info.bsize;
    if (free < MIN_FREE_BYTES) {
      return `Skipped: ${tmp} has ${fmtBytes(free)} free; this benchmark needs ${fmtBytes(MIN_FREE_BYTES)} (it writes ~2.5 GB).`;
    }
    const dir = mkdtempSync(path.join(tmp, 'shrink-bench-qlarge-'));
    try {
      ctx.log('quantize-large: building and saving the model');
      const src = path.join(dir, 'model.onnx');
      const t0 = nowMs();
      let built: onnx.ModelProto | undefined = buildMlp(WIDTHS, 11);
      const saved = await saveModel(built, src, { externalData: true });
      built = undefined;
      collectGarbage();
      const buildSecs = (nowMs() - t0) / 1000;
      const srcData = saved.externalDataPath!;
      const modelBytes = saved.bytes + (saved.externalDataBytes ?? 0);

      const copyDir = path.join(dir, 'copy');
      const outFile = path.join(dir, 'model_quantized.onnx');
      const phases = { load: [] as number[], quantize: [] as number[], save: [] as number[] };
      let outBytes = 0;
      const copy = async (write: (file: string, bytes: Uint8Array) => Promise<unknown>): Promise<void> => {
        const a = await readFile(src);
        const b = await readFile(srcData);
        await write(path.join(copyDir, 'model.onnx'), a);
        await write(path.join(copyDir, path.basename(srcData)), b);
      };
      const variants: Variant[] = [
        { name: 'A: copy (fs.readFile + fs.writeFile of .onnx and .onnx_data)', run: () => timeMs(() => copy(writeFile)) },
        {
          name: "A': copy with durable writes (writeFileAtomic: temp file, fsync, rename)",
          run: () => timeMs(() => copy(writeFileAtomic)),
        },
        {
          name: 'B: loadModel + quantizeModel (q8 dynamic) + saveModel',
          run: () =>
            timeMs(async () => {
              let t = nowMs();
              const model = await loadModel(src);
              phases.load.push(nowMs() - t);
              t = nowMs();
              const q = await quantizeModel(model, { dtype: 'q8' });
              phases.quantize.push(nowMs() - t);
              t = nowMs();
              outBytes = (await saveModel(q.model, outFile)).bytes;
              phases.save.push(nowMs() - t);
            }),
        },
      ];
      mkdirSync(copyDir);
      await settleAndCollect();
      const rssStart = process.memoryUsage.rss();
      const rss = new PeakRss();
      ctx.log(`quantize-large: ${WARMUP_ROUNDS} warm-up + ${ROUNDS} interleaved rounds`);
      const r = await interleave(variants, { warmupRounds: WARMUP_ROUNDS, rounds: ROUNDS, rss, log: ctx.log });
      const [a, aDurable, b] = variants.map((v) => r.times.get(v.name)!);
      const [rssA, rssADurable, rssB] = variants.map((v) => r.rss.get(v.name)!);
      for (const k of ['load', 'quantize', 'save'] as const) phases[k].splice(0, WARMUP_ROUNDS);

      ctx.log('quantize-large: checking the quantized model in onnxruntime');
      const err = await outputError(src, outFile);
      const ratio = summarize(ratios(b!, a!), 'B/A');
      const ratioDurable = summarize(ratios(b!, aDurable!), "B/A'");
      const peakB = median(rssB!);
      const memRatio = peakB / modelBytes;
      return [
        `Model: MLP ${WIDTHS.join('→')} (MatMul + Add + Relu, seeded), ${(modelBytes / 4 / 1e6).toFixed(1)} M float32 weights, saved with ` +
          `\`saveModel(model, path, { externalData: true })\`: ${path.basename(src)} ${saved.bytes} B + ${path.basename(srcData)} ${saved.externalDataBytes} B ` +
          `(${fmtBytes(modelBytes)} in all; built and saved in ${buildSecs.toFixed(0)} s, not timed below). ` +
          `Output: \`saveModel(q.model, path)\` inline, ${outBytes} B (${fmtX(outBytes / modelBytes)} of the input). Files in ${tmp} (${fmtBytes(free)} free before), removed afterwards.`,
        '',
        `${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up round; each round runs A, A', B once, in an order rotated every round, with a GC before every step. ` +
          `Peak RSS: the step's peak minus the RSS right before it (process RSS at the start of the rounds, after a GC: ${fmtBytes(rssStart)}).`,
        '',
        mdTable(
          ['step', 'median', 'p10–p90', 'peak RSS above start (median)', 'peak / model bytes'],
          variants.map((v, i) => {
            const s = summarize(r.times.get(v.name)!, v.name);
            const p = median([rssA!, rssADurable!, rssB!][i]!);
            return [v.name, fmtMs(s.p50), `${fmtMs(s.p10)}–${fmtMs(s.p90)}`, fmtBytes(p), fmtX(p / modelBytes)];
          }),
          [false, true, true, true, true],
        ),
        '',
        `Inside B (medians): loadModel ${fmtMs(median(phases.load))}, quantizeModel ${fmtMs(median(phases.quantize))}, saveModel ${fmtMs(median(phases.save))}. ` +
          `The quantized model's output vs the fp32 model's in onnxruntime (one seeded input row): relative L2 error ${err.toExponential(2)}.`,
        '',
        mdTable(
          ['goal (issue #3)', 'result', 'met'],
          [
            ['quantize (B) within 3× of copying the bytes (A)', `per-round B / A median ${xSpread(ratio)}`, ratio.p50 <= 3 ? 'yes' : 'no'],
            ["(context) B against durable copy A'", `per-round B / A' median ${xSpread(ratioDurable)}`, '—'],
            [
              "peak memory ≤ 1.5× the model's bytes",
              `${fmtBytes(peakB)} above the start = ${fmtX(memRatio)} of ${fmtBytes(modelBytes)}`,
              memRatio <= 1.5 ? 'yes' : 'no',
            ],
          ],
        ),
        '',
        `Peak RSS method: ${rss.method}.`,
      ].join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
