/**
 * q4 (MatMulNBits) for models too large to load: the .onnx is parsed (its weights stay in their
 * external data files), the MatMul/Gemm weights and Gather tables (embeddings: GatherBlockQuantized,
 * sharing a tied head's codes) are read stripe by stripe and quantized on worker threads, and the output's data file is written as the stripes come back, in order. Tensors that are
 * not quantized are copied in pieces. Memory is bounded by a few stripes (pieceBytes each), not by the
 * model: a 4.8 GB model quantizes in well under 1.5 GB (`pnpm bench llm-large`).
 *
 * The output is what quantizeModel's q4 writes for the same model (same nodes, names, attributes, codes,
 * scales and zero points; tested byte for byte), saved with external data as saveModel does, atomically
 * (saveModelStreamed), never over an input (the .onnx or a data file it reads), not even when forced. What the in-memory path does besides is not done here, and
 * said in the notes: weights in If/Loop/Scan bodies, through a Cast or stored as float16 stay float; NaN
 * in tensors that are only copied is not looked for; BatchNormalization is not folded; row Slices of a
 * table (learned positions) stay float (nbits-place.ts computes their rows inside its placer).
 */
import { endianness } from 'node:os';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { loggerOf, parseOptions, progressOf, ShrinkError, decodeModel, type Ctx } from '@shrink/core';
import {
  locateExternalData,
  readFully,
  readModelFile,
  saveModelStreamed,
  withFileSync,
  type ExternalBytes,
  type SaveResult,
  type StreamedTensor,
} from '@shrink/core/io';
import { open, type FileHandle } from 'node:fs/promises';
import { quantizedOps, refuseQuantized } from '../already-quantized.js';
import { checkCombination } from '../check-options.js';
import { storedBits } from '../ops/nbits-blocks.js';
import { dataFreeAlgo } from '../ops/weight-quantizers.js';
import { quantizeOptionsSchema, type QuantizeOptions, type ResolvedQuantizeOptions } from '../options.js';
import type { QuantizeReport } from '../types.js';
import { planStreamed, type StreamedWeight } from './plan-streamed.js';
import { stripePool, type StripePool } from './stripe-pool.js';
import type { StripeResult } from './stripe-job.js';

export interface StreamQuantizeOptions {
  /** Worker threads that read and round stripes; default 2 (or 1 on a 1-core machine). 0: this thread. */
  threads?: number;
  /** Largest piece of a weight (float32 bytes) read and quantized at once; default 64 MiB. */
  pieceBytes?: number;
  /** Stop, writing nothing, when the run takes longer than this. */
  maxSeconds?: number;
  /** Data file name beside the output; default `<name>.onnx_data`. */
  location?: string;
}

export interface StreamedQuantizeResult {
  saved: SaveResult;
  report: QuantizeReport;
  /** Bytes of the input: the .onnx and the external data files it reads. */
  inputBytes: number;
  seconds: number;
}

const DEFAULT_PIECE = 64 << 20;
/** Pieces in which tensors that are not quantized are copied. */
const COPY_CHUNK = 16 << 20;
const MiB = 2 ** 20;

/** Why these options cannot take the streamed path (undefined: they can). */
export function streamedRefusal(o: ResolvedQuantizeOptions): string | undefined {
  if (o.dtype !== 'q4') {
    return `the streamed path writes q4 (MatMulNBits over a float32 model); ${o.dtype} loads the model (q4f16 converts every tensor to float16)`;
  }
  if (o.algo === 'gptq') {
    return 'gptq needs calibration activations of every MatMul input, which the streamed path does not gather; use algo rtn, hqq or kquant';
  }
  if (o.targetBits !== undefined || o.sizeBudget !== undefined) {
    return 'mixed precision (targetBits, sizeBudget) compares every weight at each bit width before writing one, which the streamed path does not hold; give bits alone';
  }
  return undefined;
}

/** Bytes of the external data files a model file reads (0: none), without reading them. */
export async function externalDataBytes(modelPath: string): Promise<number> {
  const model = decodeModel(await readModelFile(modelPath), modelPath);
  const files = new Map<string, true>();
  for (const b of locateExternalData(model, path.dirname(path.resolve(modelPath)), modelPath).values()) files.set(b.file, true);
  let total = 0;
  for (const f of files.keys()) total += (await stat(f)).size;
  return total;
}

/**
 * Quantizes the model at `input` to q4 (options as quantizeModel takes them; dtype q4, algo rtn or hqq)
 * into `output` with its data in `<output>_data`, reading the input's weights a stripe at a time.
 */
export async function quantizeStreamed(
  input: string,
  output: string,
  options: QuantizeOptions,
  opts: StreamQuantizeOptions = {},
  ctx?: Ctx,
): Promise<StreamedQuantizeResult> {
  const t0 = Date.now();
  const log = loggerOf(ctx);
  const o = parseOptions(quantizeOptionsSchema, options, 'quantize');
  checkCombination(o);
  const refusal = streamedRefusal(o);
  if (refusal)
    throw new ShrinkError('INVALID_ARGUMENT', refusal, {
      option: o.dtype !== 'q4' ? 'dtype' : o.algo === 'gptq' ? 'algo' : o.targetBits !== undefined ? 'targetBits' : 'sizeBudget',
    });
  if (endianness() !== 'LE')
    throw new ShrinkError('UNSUPPORTED_MODEL', 'the streamed path reads float32 data as little-endian; this CPU is big-endian');
  const pieceBytes = opts.pieceBytes ?? DEFAULT_PIECE;
  const deadline = opts.maxSeconds !== undefined ? t0 + opts.maxSeconds * 1000 : Infinity;

  const modelBytes = await readModelFile(input);
  const model = decodeModel(modelBytes, input);
  if (o.requantize && quantizedOps(model).size > 0) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `${input}: the streamed path quantizes float models; requantizing a quantized one loads it`,
      {
        option: 'requantize',
      },
    );
  }
  refuseQuantized(model, false);
  const located = locateExternalData(model, path.dirname(path.resolve(input)), input);
  const main = new Set(model.graph?.initializer ?? []);
  const external = new Map<string, ExternalBytes>();
  for (const [t, b] of located) {
    if (!main.has(t)) {
      throw new ShrinkError(
        'UNSUPPORTED_MODEL',
        `${input}: ${b.label} keeps external data outside the main graph's initializers (in a subgraph, function or attribute); the streamed path reads main-graph initializers only`,
      );
    }
    external.set(t.name ?? '', b);
  }
  const dataFiles = [...new Set([...external.values()].map((b) => b.file))];
  let inputBytes = modelBytes.length;
  for (const f of dataFiles) inputBytes += (await stat(f)).size;

  const plan = planStreamed(
    model,
    {
      bits: o.bits ?? 4,
      algo: dataFreeAlgo(o.algo),
      blockSize: o.blockSize,
      symmetric: o.symmetric,
      accuracyLevel: o.accuracyLevel,
      ...(o.include ? { include: o.include } : {}),
      ...(o.exclude ? { exclude: o.exclude } : {}),
    },
    {
      external: (name) => external.get(name),
      readFloats: (name) => {
        const b = external.get(name)!;
        const buf = new Uint8Array(b.length);
        withFileSync(b.file, (fd) => readFully(fd, buf, 0, b.length, b.offset, b.file));
        return new Float32Array(buf.buffer);
      },
    },
  );
  const quantized = plan.nodes.filter((n) => n.action === 'quantized').length;
  if (quantized === 0) {
    const why = plan.nodes.map((n) => `${n.name}: ${n.reason ?? n.action}`).slice(0, 2);
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `${input}: no MatMul/Gemm with a constant 2-D float32 weight (nor Gather over such a table) to quantize, so no model was written${why.length ? ` (${why.join('; ')})` : ''}`,
    );
  }

  // Work to do, for progress: every byte read from the inputs' data (weights read once, copies once).
  const outInits = plan.model.graph?.initializer ?? [];
  const weightBytes = plan.weights.reduce((s, w) => s + w.job.K * w.job.N * 4, 0);
  const copied = outInits.map((t) => external.get(t.name ?? '')).filter((b): b is ExternalBytes => b !== undefined);
  const totalMiB = Math.ceil((weightBytes + copied.reduce((s, b) => s + b.length, 0)) / MiB);
  const progress = progressOf(ctx);
  let doneBytes = 0;
  let tickedMiB = 0;
  const advance = (bytes: number): void => {
    if (Date.now() > deadline) {
      throw new ShrinkError(
        'RUNTIME',
        `${input}: stopped after ${opts.maxSeconds} s (the time budget) with ${Math.floor(doneBytes / MiB)} of ${totalMiB} MiB read; nothing was written`,
      );
    }
    doneBytes += bytes;
    const now = Math.floor(doneBytes / MiB);
    if (now > tickedMiB) progress.tick(now - tickedMiB);
    tickedMiB = now;
  };

  const threads = opts.threads ?? 2;
  const pool = stripePool(threads);
  const stripes = new StripeScheduler(
    plan.weights,
    outInits.map((t) => t.name ?? ''),
    pieceBytes,
    pool,
    Math.max(2, pool.threads + 1),
  );
  const streamed = new Map<string, StreamedTensor>();
  const handles = new Map<string, Promise<FileHandle>>();
  const handle = (file: string): Promise<FileHandle> => {
    let h = handles.get(file);
    if (!h) {
      h = open(file, 'r');
      handles.set(file, h);
    }
    return h;
  };
  for (const t of outInits) {
    const b = external.get(t.name ?? '');
    if (b) streamed.set(t.name ?? '', { byteLength: b.length, chunks: () => copyChunks(b, handle, advance) });
  }
  for (const w of plan.weights) {
    const parts = stripes.partsOf(w);
    streamed.set(w.b, { byteLength: w.job.N * w.nBlocks * w.blobSize, chunks: () => parts.packed(advance) });
    streamed.set(w.scales, { byteLength: w.job.N * w.nBlocks * 4, chunks: () => parts.scales() });
    if (w.zeroPoints) streamed.set(w.zeroPoints, { byteLength: w.job.N * w.zeroPointColumnBytes, chunks: () => parts.zeroPoints() });
  }

  log.debug(
    `streamed q4: ${quantized} node(s), ${plan.weights.length} weight(s) of ${(weightBytes / 1e9).toFixed(2)} GB read in stripes of <= ${Math.round(pieceBytes / MiB)} MiB on ${pool.threads || 'this'} thread(s)`,
  );
  progress.start('streamed q4 (MiB read)', totalMiB);
  let saved: SaveResult;
  try {
    saved = await saveModelStreamed(plan.model, output, streamed, {
      ...(opts.location ? { location: opts.location } : {}),
      inputs: [path.resolve(input), ...dataFiles],
    });
  } finally {
    progress.stop();
    stripes.stop();
    await pool.close();
    for (const h of handles.values()) await h.then((f) => f.close()).catch(() => undefined);
  }

  const bits = storedBits(o.bits ?? 4);
  const algo = dataFreeAlgo(o.algo);
  const lookups = plan.nodes.filter((n) => n.action === 'quantized' && n.opType === 'Gather').length;
  const notes: string[] = [];
  if (lookups > 0) {
    notes.push(
      `${lookups} Gather(s) over a constant table -> com.microsoft GatherBlockQuantized (${bits}-bit, block ${o.blockSize}); ` +
        'a table also read by a MatMul head (through Transpose, or Gemm transB) is stored once and read by both',
    );
  }
  if (plan.lookupsRounded > 0) {
    notes.push(
      `${plan.lookupsRounded} embedding table(s) rounded to nearest for GatherBlockQuantized: GatherBlockQuantized takes no float (hqq) zero points`,
    );
  }
  if (plan.lookupCopies.length > 0) {
    notes.push(
      `stored twice (the head's hqq blocks have float zero points, which GatherBlockQuantized does not read): ${plan.lookupCopies.join(', ')}`,
    );
  }
  if (quantized > lookups) {
    notes.push(
      `${quantized - lookups} node(s) -> com.microsoft MatMulNBits (${o.bits ?? 4}-bit, block ${o.blockSize}, ${algo === 'hqq' ? 'float zero points (hqq)' : o.symmetric ? 'symmetric' : 'with zero points'}, algo ${algo}, accuracy_level ${o.accuracyLevel})`,
    );
  }
  notes.push(
    `streamed: weights and tables read and quantized in stripes of <= ${Math.round(pieceBytes / MiB)} MiB (the model was never loaded whole); ${copied.length} tensor(s) copied as they are`,
  );
  if ((o.bits ?? 4) === 3) notes.push('3-bit: the 8-level grid is stored in 4-bit codes (no 3-bit MatMulNBits kernel in onnxruntime 1.30)');
  if (bits !== 8 && algo === 'hqq') notes.push('hqq float zero points: onnxruntime CPU computes these MatMulNBits in float');
  return {
    saved,
    report: { dtype: `q${o.bits ?? 4}`, mode: 'weight-only', nodes: plan.nodes, unhandled: plan.unhandled, notes },
    inputBytes,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** A tensor copied from its data file in pieces through one reused buffer (each piece is written before the next is read). */
async function* copyChunks(
  b: ExternalBytes,
  handle: (file: string) => Promise<FileHandle>,
  advance: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  const fh = await handle(b.file);
  const buf = Buffer.allocUnsafeSlow(Math.min(COPY_CHUNK, b.length));
  for (let done = 0; done < b.length;) {
    const n = Math.min(buf.length, b.length - done);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, b.offset + done + got);
      if (bytesRead === 0)
        throw new ShrinkError('IO', `unexpected end of ${b.file} at byte ${b.offset + done + got} (file changed while reading?)`);
      got += bytesRead;
    }
    advance(n);
    yield buf.subarray(0, n);
    done += n;
  }
}

interface Stripe {
  weight: StreamedWeight;
  n0: number;
  n1: number;
}

/**
 * Stripes of every weight in the order the data file takes them, quantized a few ahead of the writer
 * (so workers round while the writer copies or writes) and dropped as soon as they are written.
 */
class StripeScheduler {
  private readonly order: Stripe[] = [];
  private readonly first = new Map<StreamedWeight, number>();
  private readonly results = new Map<number, Promise<StripeResult>>();
  private submitted = 0;
  private stopped = false;

  constructor(
    weights: readonly StreamedWeight[],
    initOrder: readonly string[],
    pieceBytes: number,
    private readonly pool: StripePool,
    private readonly ahead: number,
  ) {
    const at = new Map(initOrder.map((n, i) => [n, i]));
    const sorted = [...weights].sort((a, b) => (at.get(a.b) ?? 0) - (at.get(b.b) ?? 0));
    for (const w of sorted) {
      const { K, N } = w.job;
      const cols = Math.max(1, Math.min(N, Math.floor(pieceBytes / (K * 4))));
      this.first.set(w, this.order.length);
      for (let n0 = 0; n0 < N; n0 += cols) this.order.push({ weight: w, n0, n1: Math.min(N, n0 + cols) });
    }
    // Workers start on the first stripes while the writer copies what comes before them.
    this.fill(0);
  }

  private fill(upTo: number): void {
    while (!this.stopped && this.submitted < this.order.length && this.submitted <= upTo + this.ahead) {
      const s = this.order[this.submitted]!;
      const p = this.pool.run({ ...s.weight.job, n0: s.n0, n1: s.n1 });
      // Failures surface when the writer reaches the stripe; until then they are not unhandled.
      p.catch(() => undefined);
      this.results.set(this.submitted++, p);
    }
  }

  private async take(i: number): Promise<StripeResult> {
    this.fill(i);
    const p = this.results.get(i);
    if (!p) throw new Error(`stripe ${i} was not scheduled`);
    this.results.delete(i);
    const r = await p;
    this.fill(i + 1);
    return r;
  }

  stop(): void {
    this.stopped = true;
    this.results.clear();
  }

  /** The weight's three tensors as chunk sources: codes stripe by stripe, then its scales and zero points. */
  partsOf(w: StreamedWeight): {
    packed(advance: (bytes: number) => void): AsyncGenerator<Uint8Array>;
    scales(): AsyncGenerator<Uint8Array>;
    zeroPoints(): AsyncGenerator<Uint8Array>;
  } {
    const scales: Float32Array[] = [];
    const zps: Array<Uint8Array | Float32Array> = [];
    let complete = false;
    const first = this.first.get(w)!;
    const take = (i: number) => this.take(i);
    const order = this.order;
    const drain = async function* (parts: Array<Uint8Array | Float32Array>, what: string): AsyncGenerator<Uint8Array> {
      if (!complete) throw new Error(`${what} of '${w.job.name}' asked for before its codes were written`);
      for (const p of parts.splice(0)) yield new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    };
    return {
      async *packed(advance) {
        for (let i = first; i < order.length && order[i]!.weight === w; i++) {
          const s = order[i]!;
          const r = await take(i);
          const cols = s.n1 - s.n0;
          const zpBytes = r.zeroPoints ? r.zeroPoints.byteLength : 0;
          if (
            r.packed.length !== cols * w.nBlocks * w.blobSize ||
            r.scales.length !== cols * w.nBlocks ||
            zpBytes !== cols * w.zeroPointColumnBytes
          ) {
            throw new Error(`stripe ${s.n0}..${s.n1} of '${w.job.name}' came back with other sizes than planned`);
          }
          scales.push(r.scales);
          if (r.zeroPoints) zps.push(r.zeroPoints);
          advance(w.job.K * cols * 4);
          yield r.packed;
        }
        complete = true;
      },
      scales: () => drain(scales, 'scales'),
      zeroPoints: () => drain(zps, 'zero points'),
    };
  }
}
