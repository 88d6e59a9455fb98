/**
 * `pnpm bench llm` (issue #15): weight algorithms on a trained LM and q4 decode latency.
 *
 * - fixtures/lm/tiny-lm.onnx (trained, see fixtures/lm/README.md): rtn, gptq, hqq and kquant at 4-bit block 128,
 *   3-bit block 128 and 4-bit block 32, each scored against fp32 on the held-out windows by evaluateLm
 *   (perplexity, mean KL, top-1 agreement), with the time each pass took and the file size ratio.
 * - The wide variant (fixtures/lm/wide_lm.py, d_model 1024, random weights, past key/values), generated
 *   by Debian's python3 and cached: one decode step (batch 1, one new token, 32 past tokens), q4 vs fp32
 *   in onnxruntime-node, interleaved.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, parseOptions, type onnx } from '../packages/core/src/index.js';
import { readTokensFile } from '../packages/core/src/data/lm-tokens.js';
import { loadModel } from '../packages/core/src/io/index.js';
import { compareLatency, createSession, evaluateLm, runPass, type FeedTensor, type Session } from '../packages/core/src/runtime/index.js';
import { quantizePass } from '../packages/quantize/src/pass.js';
import { fmtMs, fmtX, mdTable, nowMs, type Bench, type BenchContext } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LM_DIR = path.join(ROOT, 'fixtures/lm');
const CACHE_DIR = path.join(os.tmpdir(), 'shrink-bench-cache');
const PY = '/usr/bin/python3';
const THREADS = Math.min(2, os.availableParallelism());
const CONTEXT = 128;

interface Config {
  readonly label: string;
  readonly bits: 3 | 4;
  readonly blockSize: 32 | 128;
}

const CONFIGS: readonly Config[] = [
  { label: '4-bit, block 128', bits: 4, blockSize: 128 },
  { label: '3-bit, block 128', bits: 3, blockSize: 128 },
  { label: '4-bit, block 32', bits: 4, blockSize: 32 },
];
const ALGOS = ['rtn', 'gptq', 'hqq', 'kquant'] as const;

interface Row {
  readonly config: Config;
  readonly algo: (typeof ALGOS)[number];
  readonly increase?: number;
  readonly cells: string[];
}

async function quantize(
  model: onnx.ModelProto,
  options: Record<string, unknown>,
): Promise<{ model: onnx.ModelProto; ms: number; notes: string[] }> {
  const parsed = parseOptions(quantizePass.schema, options, 'quantize') as Record<string, unknown>;
  const data = { train: () => Promise.reject(new Error('no train data')), eval: () => Promise.resolve(undefined) };
  const t0 = nowMs();
  // allowSlower: this bench is about accuracy; the speed guard would run each pass twice.
  const out = await runPass(quantizePass, model, { ...parsed, allowSlower: true }, { data, ctx: { threads: THREADS } });
  return { model: out.model, ms: nowMs() - t0, notes: out.notes };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(3)} %`;

async function algoRows(ctx: BenchContext): Promise<{ rows: Row[]; fp32: number; windows: number; tokens: number }> {
  const base = await loadModel(path.join(LM_DIR, 'tiny-lm.onnx'));
  const valid = await readTokensFile(path.join(LM_DIR, 'valid-tokens.json'));
  const baseBytes = encodeModel(base).length;
  const rows: Row[] = [];
  let fp32 = NaN;
  let windows = 0;
  let tokens = 0;
  for (const config of CONFIGS) {
    for (const algo of ALGOS) {
      ctx.log(`llm: ${config.label}, ${algo}`);
      try {
        const q = await quantize(base, {
          dtype: 'q4',
          bits: config.bits,
          blockSize: config.blockSize,
          algo,
          ...(algo === 'gptq' ? { calibData: path.join(LM_DIR, 'calib-tokens.json') } : {}),
        });
        const r = await evaluateLm(
          [
            { model: base, label: 'fp32' },
            { model: q.model, label: `${algo} ${config.label}` },
          ],
          valid,
          { context: CONTEXT, stride: CONTEXT, threads: THREADS },
        );
        const c = r.comparison!;
        fp32 = c.baseline.perplexity;
        windows = r.windows;
        tokens = c.tokens;
        const increase = c.candidate.perplexity / c.baseline.perplexity - 1;
        rows.push({
          config,
          algo,
          increase,
          cells: [
            config.label,
            algo,
            c.candidate.perplexity.toFixed(3),
            pct(increase),
            c.meanKL.toExponential(2),
            `${(c.top1Agreement * 100).toFixed(2)} %`,
            fmtX(encodeModel(q.model).length / baseBytes),
            `${(q.ms / 1000).toFixed(1)} s`,
          ],
        });
      } catch (e) {
        rows.push({
          config,
          algo,
          cells: [config.label, algo, '', '', '', '', '', `error: ${String((e as Error).message).split('\n')[0]}`],
        });
      }
    }
  }
  return { rows, fp32, windows, tokens };
}

/** Mixed precision at block 128: the same average bits chosen by weight error and by measured output error. */
const MIXED: ReadonlyArray<{ label: string; options: Record<string, unknown> }> = [
  { label: 'rtn, 4.5 bits, weight errors (no data)', options: { targetBits: 4.5, sensitivity: 'weights' } },
  {
    label: 'rtn, 4.5 bits, output errors',
    options: { targetBits: 4.5, sensitivity: 'outputs', calibData: path.join(LM_DIR, 'calib-tokens.json') },
  },
  { label: 'gptq, 4.5 bits, output errors', options: { targetBits: 4.5, algo: 'gptq', calibData: path.join(LM_DIR, 'calib-tokens.json') } },
];

async function mixedRows(ctx: BenchContext): Promise<string[][]> {
  const base = await loadModel(path.join(LM_DIR, 'tiny-lm.onnx'));
  const valid = await readTokensFile(path.join(LM_DIR, 'valid-tokens.json'));
  const baseBytes = encodeModel(base).length;
  const out: string[][] = [];
  for (const m of MIXED) {
    ctx.log(`llm: mixed precision, ${m.label}`);
    try {
      const q = await quantize(base, { dtype: 'q4', blockSize: 128, ...m.options });
      const r = await evaluateLm(
        [
          { model: base, label: 'fp32' },
          { model: q.model, label: m.label },
        ],
        valid,
        { context: CONTEXT, stride: CONTEXT, threads: THREADS },
      );
      const c = r.comparison!;
      const avg = /([\d.]+) stored code bits per weight/.exec(q.notes.find((n) => n.startsWith('mixed precision (')) ?? '')?.[1] ?? '?';
      const raised = /raised above 4 bits, most valuable first: ([^;]+);/.exec(q.notes.join('\n'))?.[1] ?? '—';
      out.push([
        m.label,
        avg,
        c.candidate.perplexity.toFixed(3),
        pct(c.candidate.perplexity / c.baseline.perplexity - 1),
        c.meanKL.toExponential(2),
        `${(c.top1Agreement * 100).toFixed(2)} %`,
        fmtX(encodeModel(q.model).length / baseBytes),
        `${(q.ms / 1000).toFixed(1)} s`,
        raised,
      ]);
    } catch (e) {
      out.push([m.label, '', '', '', '', '', '', `error: ${String((e as Error).message).split('\n')[0]}`, '']);
    }
  }
  return out;
}

/** The share of RTN's perplexity increase an algorithm removes, per config. */
function closes(rows: readonly Row[], config: Config, algo: string): number | undefined {
  const rtn = rows.find((r) => r.config === config && r.algo === 'rtn')?.increase;
  const other = rows.find((r) => r.config === config && r.algo === algo)?.increase;
  if (rtn === undefined || other === undefined || !(rtn > 0)) return undefined;
  return (rtn - other) / rtn;
}

/** One decode step's feeds: input_ids [1, 1], every past key/value [1, heads, 32, head_dim] of seeded values. */
function decodeFeeds(s: Session): Record<string, FeedTensor> {
  const feeds: Record<string, FeedTensor> = {};
  let seed = 1;
  for (const meta of s.inputs) {
    if (meta.type === 'int64') {
      feeds[meta.name] = { data: BigInt64Array.from([17n]), dims: [1, 1], type: 'int64' };
      continue;
    }
    const dims = (meta.shape ?? []).map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : 32));
    const n = dims.reduce((a, d) => a * d, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      data[i] = (seed / 2 ** 32 - 0.5) * 0.2;
    }
    feeds[meta.name] = { data, dims, type: 'float32' };
  }
  return feeds;
}

async function decodeSection(ctx: BenchContext): Promise<string> {
  const file = path.join(CACHE_DIR, 'wide-lm.onnx');
  let how = `cached ${file}`;
  if (!existsSync(file)) {
    if (!existsSync(PY)) return `Decode latency: not run (${PY} not found; it generates the wide variant).`;
    mkdirSync(CACHE_DIR, { recursive: true });
    ctx.log(`llm: generating the wide variant with ${PY} fixtures/lm/wide_lm.py`);
    const r = spawnSync(PY, [path.join(LM_DIR, 'wide_lm.py'), file], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0)
      return `Decode latency: not run (wide_lm.py exited ${r.status}: ${(r.stderr ?? '').split('\n').slice(-2).join(' ')})`;
    how = `generated in this run by ${PY} fixtures/lm/wide_lm.py, cached as ${file}`;
  }
  const base = await loadModel(file);
  ctx.log('llm: wide variant q4 (rtn, block 32)');
  const q = await quantize(base, { dtype: 'q4' });
  const a = await createSession(base, { threads: THREADS, label: 'fp32' });
  const b = await createSession(q.model, { threads: THREADS, label: 'q4' });
  try {
    const feeds = decodeFeeds(a);
    // Turns of 10 runs: onnxruntime's default spinning is on, as users run it.
    const c = await compareLatency(a, b, feeds, feeds, { warmup: 10, runs: 40, block: 10, maxTimeMs: 60_000 });
    const ok = c.ratio.p50 <= 0.4;
    return [
      `Model: ${how} (d_model 1024, 4 layers, 16 heads, FFN 4096, random weights, past key/values). One decode step: batch 1, one new token, ` +
        `32 past tokens; q4 = default q4 (rtn, block 32, accuracy_level 4); onnxruntime-node, ${THREADS} intra-op threads, default spinning, ` +
        `${c.pairs} interleaved pairs of 10-run turns. Goal: q4 ≤ 0.4× fp32.`,
      '',
      mdTable(
        ['fp32 p50', 'q4 p50', 'q4/fp32', 'size ratio', 'goal'],
        [
          [
            fmtMs(c.a.p50),
            fmtMs(c.b.p50),
            fmtX(c.ratio.p50),
            fmtX(encodeModel(q.model).length / encodeModel(base).length),
            ok ? 'met' : '**not met**',
          ],
        ],
      ),
    ].join('\n');
  } finally {
    await a.release();
    await b.release();
  }
}

export const llmBench: Bench = {
  name: 'llm',
  title: 'Language models (issue #15): rtn, gptq, hqq and kquant on a trained LM; q4 decode latency',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const { rows, fp32, windows, tokens } = await algoRows(ctx);
    const c128 = CONFIGS[0]!;
    const c3 = CONFIGS[1]!;
    const c32 = CONFIGS[2]!;
    const fmtClose = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(0)} %`);
    const goals: string[][] = [];
    for (const algo of ['gptq', 'hqq'] as const) {
      for (const c of [c128, c3]) {
        const x = closes(rows, c, algo);
        goals.push([
          `${algo} closes ≥ 50 % of RTN's perplexity increase, ${c.label}`,
          fmtClose(x),
          x !== undefined && x >= 0.5 ? 'met' : '**not met**',
        ]);
      }
    }
    // kquant has no goal of its own (the "a k-quant-style search, if measurements show it adds"): what it closes.
    for (const c of [c128, c3])
      goals.push([`kquant (no data) closes RTN's perplexity increase, ${c.label}`, fmtClose(closes(rows, c, 'kquant')), '(measured)']);
    const b32 = rows.find((r) => r.config === c32 && r.algo === 'rtn');
    goals.push([
      '4-bit block 32 (rtn, the default): perplexity increase ≤ 3 %, size ≤ 0.17× fp32 (embeddings included)',
      b32 ? `${b32.cells[3]}, size ${b32.cells[6]}` : '—',
      b32?.increase !== undefined && b32.increase <= 0.03 && Number(b32.cells[6]!.replace('×', '')) <= 0.17 ? 'met' : '**not met**',
    ]);
    const mixed = await mixedRows(ctx);
    const decode = await decodeSection(ctx);
    return [
      `Model: fixtures/lm/tiny-lm.onnx (trained on Debian's fortunes, 3.45 M parameters, tied embedding; fixtures/lm/README.md). ` +
        `Scored on fixtures/lm/valid-tokens.json: ${windows} windows of ${CONTEXT} tokens, stride ${CONTEXT}, ${tokens} tokens scored; fp32 perplexity ${fp32.toFixed(3)}. ` +
        `q4 = \`quantizePass\` \`{dtype: 'q4', bits, blockSize, algo}\` (symmetric), gptq calibrated on fixtures/lm/calib-tokens.json (train split); ` +
        `3-bit is stored in 4-bit MatMulNBits codes (no 3-bit kernel in onnxruntime 1.30). KL: mean KL(fp32 ‖ q) of the next-token distributions, nats.`,
      '',
      '### Goals',
      '',
      mdTable(['goal', 'result', 'met'], goals),
      '',
      '### rtn, gptq, hqq and kquant side by side',
      '',
      mdTable(
        ['config', 'algo', 'perplexity', 'vs fp32', 'mean KL', 'top-1 agreement', 'size ratio', 'quantize time'],
        rows.map((r) => r.cells),
      ),
      '',
      '### Mixed precision (block 128, average 4.5 stored code bits per weight)',
      '',
      'Every weight starts at 4 bits; the ones whose error drops most per bit are raised to 8 (`--target-bits 4.5`). Compare with the 4-bit block 128 rows above.',
      '',
      mdTable(
        [
          'choice',
          'bits per weight',
          'perplexity',
          'vs fp32',
          'mean KL',
          'top-1 agreement',
          'size ratio',
          'quantize time',
          'raised to 8 bits',
        ],
        mixed,
      ),
      '',
      '### Decode latency, wide variant',
      '',
      decode,
    ].join('\n');
  },
};
