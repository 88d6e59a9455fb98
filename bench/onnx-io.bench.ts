/**
 * ONNX decode+encode of a ~200 MB model against moving the same bytes without the codec.
 * Goal (issue): loadModel + saveModel within 3x of a plain fs.readFile + fs.writeFile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  decodeModel,
  encodeModel,
  loadModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  mulberry32,
  prepareEncode,
  saveModel,
  writeFileAtomic,
  type onnx,
} from './core.js';
import {
  PeakRss,
  collectGarbage,
  fmtBytes,
  fmtMiB,
  fmtMs,
  fmtX,
  interleave,
  mdTable,
  msSpread,
  ratios,
  summarize,
  timeMs,
  xSpread,
  type Bench,
  type BenchContext,
  type Variant,
} from './lib.js';

/** 1024 -> 4608 -> 4608 -> 4608 -> 1024: 51.9 M float32 weights, ~208 MB. */
const WIDTHS = [1024, 4608, 4608, 4608, 1024] as const;
const FILE_ROUNDS = 9;
const MEMORY_ROUNDS = 15;

/** A seeded MLP (MatMul + Add + Relu per layer) whose initializers total ~208 MB. */
export function buildMlp(widths: readonly number[], seed: number): onnx.ModelProto {
  const rand = mulberry32(seed);
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  let x = 'input';
  for (let i = 0; i + 1 < widths.length; i++) {
    const fanIn = widths[i]!;
    const fanOut = widths[i + 1]!;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const w = new Float32Array(fanIn * fanOut);
    for (let k = 0; k < w.length; k++) w[k] = (rand() * 2 - 1) * limit;
    const b = new Float32Array(fanOut);
    for (let k = 0; k < b.length; k++) b[k] = (rand() * 2 - 1) * 0.01;
    inits.push(makeTensor(`fc${i}.weight`, 'float32', [fanIn, fanOut], w), makeTensor(`fc${i}.bias`, 'float32', [fanOut], b));
    const last = i + 2 === widths.length;
    nodes.push(makeNode('MatMul', [x, `fc${i}.weight`], [`fc${i}.mm`], undefined, { name: `fc${i}/MatMul` }));
    nodes.push(makeNode('Add', [`fc${i}.mm`, `fc${i}.bias`], [last ? 'output' : `fc${i}.pre`], undefined, { name: `fc${i}/Add` }));
    if (!last) nodes.push(makeNode('Relu', [`fc${i}.pre`], [`fc${i}.out`], undefined, { name: `fc${i}/Relu` }));
    x = `fc${i}.out`;
  }
  const graph = makeGraph({
    name: 'bench_mlp',
    nodes,
    inputs: [makeValueInfo('input', 'float32', ['batch', widths[0]!])],
    outputs: [makeValueInfo('output', 'float32', ['batch', widths[widths.length - 1]!])],
    initializers: inits,
  });
  return makeModel(graph, { opset: 17 });
}

function rssCell(samples: readonly number[] | undefined): string {
  return samples && samples.length > 0 ? fmtMiB(summarize(samples, 'rss').p50) : 'n/a';
}

export const onnxIoBench: Bench = {
  name: 'io',
  title: 'ONNX decode + encode vs plain file read + write (~200 MB model)',
  inDefaultSet: true,
  async run(ctx: BenchContext): Promise<string> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-bench-io-'));
    const rss = new PeakRss();
    try {
      ctx.log('io: building the model');
      const src = path.join(dir, 'model.onnx');
      let built: onnx.ModelProto | undefined = buildMlp(WIDTHS, 42);
      const params = (built.graph?.initializer ?? []).reduce((n, t) => n + (t.rawData?.length ?? 0) / 4, 0);
      const tensors = built.graph?.initializer?.length ?? 0;
      const saved = await saveModel(built, src);
      built = undefined;
      collectGarbage();

      const outA = path.join(dir, 'plain.onnx');
      const outSync = path.join(dir, 'atomic.onnx');
      const outB = path.join(dir, 'shrink.onnx');
      const file: Variant[] = [
        {
          name: 'A: fs.readFile + fs.writeFile',
          run: () =>
            timeMs(async () => {
              const bytes = await readFile(src);
              await writeFile(outA, bytes);
            }),
        },
        {
          name: "A': fs.readFile + writeFileAtomic (temp file, fsync, rename)",
          run: () =>
            timeMs(async () => {
              const bytes = await readFile(src);
              await writeFileAtomic(outSync, bytes);
            }),
        },
        {
          name: 'B: loadModel + saveModel',
          run: () =>
            timeMs(async () => {
              const model = await loadModel(src);
              await saveModel(model, outB);
            }),
        },
      ];
      ctx.log(`io: ${FILE_ROUNDS} interleaved rounds of file round trips`);
      const f = await interleave(file, { warmupRounds: 1, rounds: FILE_ROUNDS, rss, log: ctx.log });
      const [a, aSync, b] = file.map((v) => f.times.get(v.name)!);
      const same = Buffer.compare(await readFile(src), await readFile(outB)) === 0;

      // In memory: what the codec itself costs next to one copy of the same bytes.
      const bytes = await readFile(src);
      const decoded = decodeModel(bytes, src);
      const mem: Variant[] = [
        // A fresh buffer plus one copy, as encodeModel makes (Buffer#slice would only make a view).
        { name: 'memcpy: new Uint8Array(bytes) (one copy of the file)', run: () => timeMs(() => new Uint8Array(bytes)) },
        { name: 'decodeModel(bytes)', run: () => timeMs(() => decodeModel(bytes, src)) },
        { name: 'encodeModel(model) (one buffer)', run: () => timeMs(() => encodeModel(decoded)) },
        {
          name: 'prepareEncode(model).chunks() (streamed, what saveModel writes)',
          run: () =>
            timeMs(() => {
              let n = 0;
              for (const c of prepareEncode(decoded).chunks()) n += c.length;
              if (n !== bytes.length) throw new Error(`streamed ${n} of ${bytes.length} bytes`);
            }),
        },
      ];
      ctx.log(`io: ${MEMORY_ROUNDS} interleaved rounds in memory`);
      const m = await interleave(mem, { warmupRounds: 1, rounds: MEMORY_ROUNDS, rss, log: ctx.log });
      const memcpy = m.times.get(mem[0]!.name)!;

      const ratioBA = summarize(ratios(b!, a!), 'B/A');
      const ratioBSync = summarize(ratios(b!, aSync!), "B/A'");
      const out: string[] = [];
      out.push(
        `Model: MLP ${WIDTHS.join('→')} (MatMul+Add+Relu), ${tensors} initializers, ${(params / 1e6).toFixed(1)} M float32 values (seeded), ` +
          `file ${fmtBytes(saved.bytes)} (${saved.bytes} B), inline (no external data). Temp files in ${os.tmpdir()}.`,
        '',
        `File round trips: ${FILE_ROUNDS} rounds after 1 warm-up round; each round runs A, A', B once, in an order rotated every round; ` +
          `GC before every step. Times are wall time (hrtime) of the whole step. Output of B is byte-identical to the input: ${same ? 'yes' : 'NO'}.`,
        '',
        mdTable(
          ['step', 'median', 'p10', 'p90', 'peak RSS above start (median)'],
          file.map((v) => {
            const s = summarize(f.times.get(v.name)!, v.name);
            return [v.name, fmtMs(s.p50), fmtMs(s.p10), fmtMs(s.p90), rssCell(f.rss.get(v.name))];
          }),
          [false, true, true, true, true],
        ),
        '',
        mdTable(
          ['per-round ratio', 'median (p10–p90)', 'goal', 'met'],
          [
            ['B / A (Shrink load+save vs plain read+write)', xSpread(ratioBA), '≤ 3×', ratioBA.p50 <= 3 ? 'yes' : 'no'],
            ["B / A' (same durable atomic write on both sides)", xSpread(ratioBSync), '—', '—'],
          ],
          [false, true, false, false],
        ),
        '',
        `In memory (no file system): ${MEMORY_ROUNDS} rounds after 1 warm-up round, order rotated every round.`,
        '',
        mdTable(
          ['step', 'median (p10–p90)', 'per-round ratio to memcpy, median', 'peak RSS above start (median)'],
          mem.map((v) => {
            const t = m.times.get(v.name)!;
            return [v.name, msSpread(summarize(t, v.name)), fmtX(summarize(ratios(t, memcpy), v.name).p50), rssCell(m.rss.get(v.name))];
          }),
          [false, true, true, true],
        ),
        '',
        `Peak RSS: ${rss.method}; "above start" subtracts the RSS right before the step (after a GC).`,
      );
      return out.join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
