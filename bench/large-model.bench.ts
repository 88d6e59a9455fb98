/**
 * A model past protobuf's 2 GiB limit through Shrink's whole file path: saveModel must switch to
 * external data on its own, loadModel must read it back, and onnxruntime must run it from the path.
 * Only on request (`pnpm bench large`): it writes ~2.4 GB to the temp folder.
 */
import { mkdtempSync, rmSync, statSync, statfsSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createSession,
  loadModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  mulberry32,
  saveModel,
  type onnx,
} from './core.js';
import { PeakRss, fmtBytes, fmtMs, mdTable, nowMs, summarize, settleAndCollect, type Bench, type BenchContext } from './lib.js';

const TENSORS = 9;
/** 256 MiB of float32 each: 9 of them make 2.25 GiB, past the 2 GiB - 1 protobuf limit. */
const ELEMS = 64 * 2 ** 20;
/** Values repeat a seeded block, shifted per tensor, so any element can be recomputed to check it. */
const BLOCK = 2 ** 20;
const MIN_FREE_BYTES = 8e9;
const INDICES = 16;
const RUNS = 20;
const ORT_THREADS = 2;

function shiftOf(tensor: number): number {
  return (tensor * 7919) % BLOCK;
}

function seededBlock(): Float32Array {
  const rand = mulberry32(7);
  // Twice over, so any shifted window of BLOCK values is one contiguous subarray.
  const twice = new Float32Array(2 * BLOCK);
  for (let i = 0; i < BLOCK; i++) twice[i] = twice[i + BLOCK] = rand() * 2 - 1;
  return twice;
}

/** Element j of tensor i. */
function expected(twice: Float32Array, tensor: number, j: number): number {
  return twice[shiftOf(tensor) + (j % BLOCK)]!;
}

/** out = Sum_i Gather(w_i, idx): every weight is loaded, but a run touches only INDICES values of each. */
function buildModel(twice: Float32Array): onnx.ModelProto {
  const w = new Float32Array(ELEMS);
  const inits: onnx.TensorProto[] = [];
  const nodes: onnx.NodeProto[] = [];
  for (let i = 0; i < TENSORS; i++) {
    const window = twice.subarray(shiftOf(i), shiftOf(i) + BLOCK);
    for (let off = 0; off < ELEMS; off += BLOCK) w.set(window, off);
    inits.push(makeTensor(`w${i}`, 'float32', [ELEMS], w)); // copies w, so w is refilled for the next one
    nodes.push(makeNode('Gather', [`w${i}`, 'idx'], [`g${i}`], { axis: 0 }, { name: `gather${i}` }));
  }
  nodes.push(
    makeNode(
      'Sum',
      nodes.map((n) => n.output[0]!),
      ['out'],
      undefined,
      { name: 'sum' },
    ),
  );
  return makeModel(
    makeGraph({
      name: 'large',
      nodes,
      inputs: [makeValueInfo('idx', 'int64', [INDICES])],
      outputs: [makeValueInfo('out', 'float32', [INDICES])],
      initializers: inits,
    }),
    { opset: 17 },
  );
}

interface Phase {
  name: string;
  ms: number;
  rssBefore: number;
  peak: number;
  after: { anon: number; file: number } | undefined;
  note: string;
}

/** The baseline for saveModel: the same tensor bytes written to one file and flushed, no codec, no rename. */
async function plainWrite(file: string, parts: readonly Uint8Array[]): Promise<number> {
  const fh = await open(file, 'w');
  let bytes = 0;
  try {
    for (const p of parts) {
      for (let off = 0; off < p.length;) off += (await fh.write(p, off, p.length - off)).bytesWritten;
      bytes += p.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return bytes;
}

/** The baseline for loadModel: the same file read back into fresh buffers of the tensors' sizes. */
async function plainRead(file: string, sizes: readonly number[]): Promise<Buffer[]> {
  const fh = await open(file, 'r');
  let bytes = 0;
  // Kept until the end, as loadModel keeps every tensor, so the peak RSS compares too.
  const bufs: Buffer[] = [];
  try {
    for (const size of sizes) {
      const buf = Buffer.allocUnsafeSlow(size);
      bufs.push(buf);
      for (let off = 0; off < size;) {
        const { bytesRead } = await fh.read(buf, off, size - off, bytes + off);
        if (bytesRead === 0) throw new Error(`${file} ended at byte ${bytes + off}`);
        off += bytesRead;
      }
      bytes += size;
    }
  } finally {
    await fh.close();
  }
  return bufs;
}

export const largeModelBench: Bench = {
  name: 'large',
  title: 'Large model (> 2 GiB of weights): save, load, run from path',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const tmp = os.tmpdir();
    const fsInfo = statfsSync(tmp);
    const free = fsInfo.bavail * fsInfo.bsize;
    if (free < MIN_FREE_BYTES) {
      return `Skipped: ${tmp} has ${fmtBytes(free)} free; this benchmark needs ${fmtBytes(MIN_FREE_BYTES)} (it writes ~2.4 GB).`;
    }
    const rss = new PeakRss();
    const phases: Phase[] = [];
    const phase = async <T>(name: string, fn: () => Promise<T> | T, note: (r: T) => string): Promise<T> => {
      ctx.log(`large: ${name}`);
      await settleAndCollect();
      const rssBefore = process.memoryUsage.rss();
      rss.reset();
      const t0 = nowMs();
      const r = await fn();
      const ms = nowMs() - t0;
      phases.push({ name, ms, rssBefore, peak: rss.peak(), after: rss.breakdown(), note: note(r) });
      return r;
    };

    const dir = mkdtempSync(path.join(tmp, 'shrink-bench-large-'));
    try {
      const twice = seededBlock();
      const file = path.join(dir, 'model.onnx');
      let model: onnx.ModelProto | undefined = await phase(
        'build (makeTensor × 9)',
        () => buildModel(twice),
        (m) => {
          const bytes = (m.graph?.initializer ?? []).reduce((n, t) => n + (t.rawData?.length ?? 0), 0);
          return `${TENSORS} float32 initializers of ${ELEMS.toLocaleString('en-US')} values, ${bytes} B raw in total`;
        },
      );
      const plainFile = path.join(dir, 'plain.bin');
      const rawParts = (model.graph?.initializer ?? []).map((t) => t.rawData ?? new Uint8Array(0));
      // The baselines run before and after Shrink's step, so drift in disk speed (writeback, other
      // work on the machine) shows as a gap between them instead of skewing one comparison.
      const writeBase = (): Promise<number> => plainWrite(plainFile, rawParts);
      await phase('baseline write #1: plain write + fsync of the raw bytes', writeBase, (n) => `${n} B to a fresh file`);
      const saved = await phase(
        'saveModel (no options)',
        () => saveModel(model!, file),
        (r) => `externalDataReason '${r.externalDataReason ?? 'none'}'`,
      );
      await unlink(plainFile); // a fresh file again, as saveModel's temp file is
      await phase('baseline write #2', writeBase, (n) => `${n} B to a fresh file`);
      if (saved.externalDataReason !== 'over-limit' || saved.externalDataPath === undefined) {
        throw new Error(`saveModel should have switched to external data ('over-limit'), got ${JSON.stringify(saved)}`);
      }
      model = undefined;
      rawParts.length = 0;

      const readBase = (): Promise<Buffer[]> => plainRead(plainFile, Array<number>(TENSORS).fill(ELEMS * 4));
      const readNote = (b: Buffer[]): string => `${b.reduce((n, x) => n + x.length, 0)} B into ${b.length} buffers, all kept to the end`;
      await phase('baseline read #1: plain read into 9 fresh 256 MiB buffers', readBase, readNote);

      // The loaded model is only checked, then dropped, so the session phase starts without it.
      await phase(
        'loadModel (reads external data)',
        () => loadModel(file),
        (m) => {
          // Spot checks: every tensor's values at seeded positions, bit for bit.
          const rand = mulberry32(11);
          let checked = 0;
          (m.graph?.initializer ?? []).forEach((t, i) => {
            const raw = t.rawData ?? new Uint8Array(0);
            const view = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
            if (view.length !== ELEMS) throw new Error(`w${i} has ${view.length} values after loading, expected ${ELEMS}`);
            for (let k = 0; k < 64; k++) {
              const j = Math.floor(rand() * ELEMS);
              if (view[j] !== expected(twice, i, j))
                throw new Error(`w${i}[${j}] is ${view[j]} after loading, expected ${expected(twice, i, j)}`);
              checked++;
            }
          });
          return `${checked} spot-checked values equal to the saved ones`;
        },
      );
      await phase('baseline read #2', readBase, readNote);
      await unlink(plainFile);

      const session = await phase(
        'createSession(path) (onnxruntime)',
        () => createSession(file, { threads: ORT_THREADS }),
        () => `${ORT_THREADS} intra-op threads`,
      );
      let runSummary: string;
      try {
        const rand = mulberry32(13);
        const idx = BigInt64Array.from({ length: INDICES }, () => BigInt(Math.floor(rand() * ELEMS)));
        const feeds = session.toOrtFeeds({ idx: { data: idx, dims: [INDICES] } });
        const want = Array.from(idx, (j) => {
          let s = 0;
          for (let i = 0; i < TENSORS; i++) s = Math.fround(s + expected(twice, i, Number(j)));
          return s;
        });
        const first = await phase(
          'first run',
          () => session.ort.run(feeds),
          () => `Sum of ${TENSORS} Gathers of ${INDICES} indices`,
        );
        const got = first.out!.data as Float32Array;
        const maxDiff = Math.max(...want.map((w, k) => Math.abs(w - got[k]!)));
        if (!(maxDiff <= 1e-5)) throw new Error(`onnxruntime output differs from the expected sums by ${maxDiff}`);
        const times: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const t0 = nowMs();
          await session.ort.run(feeds);
          times.push(nowMs() - t0);
        }
        const s = summarize(times, 'runs');
        runSummary = `Then ${RUNS} runs: median ${fmtMs(s.p50)} (p90 ${fmtMs(s.p90)}). Output equals the sums of the saved values (max abs diff ${maxDiff.toExponential(1)}).`;
      } finally {
        await session.release();
      }

      const ms = (name: string): number => phases.find((p) => p.name.startsWith(name))!.ms;
      const meanOf = (a: string, b: string): number => (ms(a) + ms(b)) / 2;
      const ratioLine =
        `saveModel / mean of the two plain writes: ${(ms('saveModel') / meanOf('baseline write #1', 'baseline write #2')).toFixed(2)}×; ` +
        `loadModel / mean of the two plain reads: ${(ms('loadModel') / meanOf('baseline read #1', 'baseline read #2')).toFixed(2)}× ` +
        `(one run of each step: a rough guide, the io benchmark has the repeated measurement).`;
      const onnxBytes = statSync(file).size;
      const dataBytes = statSync(saved.externalDataPath).size;
      return [
        `Model: ${TENSORS} float32 initializers of 256 MiB each (${fmtBytes(TENSORS * ELEMS * 4)}, over protobuf's 2 GiB − 1 limit), ` +
          `graph \`out = Sum_i Gather(w_i, idx)\` with ${INDICES} int64 indices, so a run is cheap but every weight must be loaded. ` +
          `Files in ${tmp}, removed afterwards (${fmtBytes(free)} free before).`,
        '',
        mdTable(
          ['file', 'bytes'],
          [
            [path.basename(file), `${onnxBytes} (${fmtBytes(onnxBytes)})`],
            [path.basename(saved.externalDataPath), `${dataBytes} (${fmtBytes(dataBytes)})`],
          ],
          [false, true],
        ),
        '',
        mdTable(
          ['phase', 'time', 'RSS at start', 'peak RSS', 'peak − start', 'RSS at end: anon / file-backed', 'note'],
          phases.map((p) => [
            p.name,
            fmtMs(p.ms),
            fmtBytes(p.rssBefore),
            fmtBytes(p.peak),
            fmtBytes(Math.max(0, p.peak - p.rssBefore)),
            p.after ? `${fmtBytes(p.after.anon)} / ${fmtBytes(p.after.file)}` : 'n/a',
            p.note,
          ]),
          [false, true, true, true, true, true, false],
        ),
        '',
        runSummary,
        '',
        ratioLine,
        '',
        `Peak RSS: ${rss.method}. Each phase starts after a GC; the previous phase's model is dropped first (the session phase holds no JS copy of the weights).`,
      ].join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
