/**
 * `pnpm bench targets`: the performance goals of issue #14. Default q8 (`quantizePass` through `runPass`,
 * so the speed guard runs with ctx.target set) against fp32 on the demo presets and the corpus models,
 * the 784-2048-2048-10 MLP, a ResNet-18 export (when python3 and torch are there), and `--target wasm`
 * in onnxruntime-web under Node and in Chromium. Every ratio is output / fp32 from interleaved pairs in
 * one run (compareLatency); below 1 is faster.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumCheck, type BrowserTensor } from '../packages/cli/src/browser/index.js';
import { quantizePass } from '../packages/quantize/src/pass.js';
import { EXIT_UNREACHABLE, loadCorpus, modelPath } from '../scripts/corpus/fetch.mjs';
import { sampleFiles } from '../scripts/corpus/inputs.mjs';
import { readNpz } from '../scripts/corpus/npz.mjs';
import {
  compareLatency,
  probablySlower,
  cosine,
  createSession,
  detectCpuTarget,
  encodeModel,
  int8KernelPath,
  loadModel,
  mulberry32,
  parseOptions,
  syntheticFeedSet,
  targetContext,
  withSession,
  runPass,
  type Ctx,
  type FeedTensor,
  type onnx,
  type PassOutput,
  type Session,
  type TargetName,
} from './core.js';
import { buildMlp } from './onnx-io.bench.js';
import { fmtMs, fmtX, mdTable, nowMs, type Bench, type BenchContext } from './lib.js';
import { MLP_WIDTHS, trainedModel } from './quantize.bench.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const THREADS = 2;
/**
 * Per latency comparison: a few warm-up pairs, then pairs until 3 s, at least 8 (the 1024x1024 segmentation
 * nets take seconds a run: more pairs would take the whole run well past 20 minutes).
 */
const PAIRS = { warmup: 10, runs: 400, minRuns: 8, maxTimeMs: 3000 } as const;
/** Runs per turn when timing with onnxruntime's default intra-op spinning (compareLatency's `block`). */
const SPIN_BLOCK = 10;
const CACHE_DIR = path.join(os.tmpdir(), 'shrink-bench-cache');
const PY = '/usr/bin/python3';

type Sample = Record<string, FeedTensor>;

interface Case {
  readonly id: string;
  readonly model: onnx.ModelProto;
  /** Batch-1 samples (realistic feeds for the corpus, synthetic for the rest). */
  readonly samples: readonly Sample[];
  readonly note: string;
  /** A corpus model marked large: left out of the single-thread WASM section, where one run takes tens of seconds. */
  readonly large?: boolean;
  /** A corpus model's first feeds file: what a user passes as `--data` (the fidelity floor compares on it). */
  readonly feeds?: string;
}

const fmtCos = (x: number | undefined): string => (x === undefined ? '—' : Number.isFinite(x) ? x.toFixed(5) : String(x));
const errLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 160);

function cpuCtx(target: TargetName): Ctx {
  return { threads: THREADS, target: targetContext(target, detectCpuTarget().target) };
}

/** The pass as every front end runs it: parsed options, runPass with the target in ctx (the guard), no data. */
async function quantizeGuarded(
  model: onnx.ModelProto,
  options: Record<string, unknown>,
  ctx: Ctx,
  feeds?: string,
): Promise<{ out: PassOutput; ms: number }> {
  const parsed = parseOptions(quantizePass.schema, options, 'quantize') as Record<string, unknown>;
  // A feeds file is what `--data` gives a pass: the run's inputs (fidelity floor), not calibration by name.
  const data = {
    train: () => Promise.reject(new Error('no train data')),
    eval: () => Promise.resolve(undefined),
    ...(feeds !== undefined ? { calibrationSpec: feeds } : {}),
  };
  const t0 = nowMs();
  const out = await runPass(quantizePass, model, parsed, { data, ctx });
  return { out, ms: nowMs() - t0 };
}

function rolledBack(out: PassOutput): string {
  const speed = (out.report as { speed?: { rolledBack: readonly string[]; rolledBackAll: boolean; skipped?: string } } | undefined)?.speed;
  if (!speed) return 'guard off';
  if (speed.skipped) return `not checked: ${speed.skipped}`;
  if (speed.rolledBackAll) return 'everything (left float)';
  if (speed.rolledBack.length === 0) return 'nothing';
  return `${speed.rolledBack.length} node(s)${speed.rolledBack.length <= 3 ? `: ${speed.rolledBack.join(', ')}` : ''}`;
}

function keptByFloor(out: PassOutput): string {
  const f = (out.report as { fidelityFallback?: { keptFloat: readonly string[] } } | undefined)?.fidelityFallback;
  if (!f) return 'not run';
  return f.keptFloat.length === 0 ? 'nothing' : f.keptFloat.join(', ');
}

function quantizedCount(out: PassOutput): string {
  const changed = out.changed?.length ?? 0;
  return `${changed}`;
}

/** The sample's inputs that the session takes, as feeds. */
function feedsFor(s: Session, sample: Sample): Sample {
  return Object.fromEntries(s.inputNames.map((n) => [n, sample[n]!]));
}

/** Each sample's inputs repeated `batch` times along axis 0, or why not (a fixed axis 0, a sample not at batch 1). */
function tiled(s: Session, sample: Sample, batch: number): Sample | string {
  const out: Sample = {};
  for (const meta of s.inputs) {
    const t = sample[meta.name];
    if (!t) return `no sample for input '${meta.name}'`;
    if (t.dims.length === 0) {
      out[meta.name] = t;
      continue;
    }
    if (typeof meta.shape?.[0] !== 'string') return `input '${meta.name}' has a fixed axis 0`;
    if (t.dims[0] !== 1) return `input '${meta.name}' is at ${t.dims[0]} on axis 0`;
    const n = t.data.length;
    const Ctor = t.data.constructor as new (len: number) => FeedTensor['data'];
    const data = new Ctor(n * batch);
    for (let b = 0; b < batch; b++)
      (data as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(t.data as ArrayLike<unknown>, b * n);
    out[meta.name] = { data, dims: [batch, ...t.dims.slice(1)], ...(t.type ? { type: t.type } : {}) };
  }
  return out;
}

/** The worst output's cosine of `cand` against `base` over every sample (each output's values concatenated), in the ctx's runtime. */
async function worstCosine(base: onnx.ModelProto, cand: onnx.ModelProto, samples: readonly Sample[], ctx: Ctx): Promise<number> {
  const outputsOf = (m: onnx.ModelProto, label: string): Promise<Map<string, number[]>> =>
    withSession(
      m,
      // onnxruntime-web's WASM runtime has one thread count per process (1): asking for 2 there is refused.
      { ...(ctx.runtime === 'onnxruntime-web-wasm' ? {} : { threads: THREADS }), label },
      async (s) => {
        const by = new Map(s.outputNames.map((n) => [n, [] as number[]]));
        for (const sample of samples) {
          const o = await s.run(feedsFor(s, sample));
          for (const n of s.outputNames) {
            const d = o[n]!.data as ArrayLike<number | bigint>;
            const acc = by.get(n)!;
            for (let i = 0; i < d.length; i++) acc.push(Number(d[i]));
          }
        }
        return by;
      },
      ctx,
    );
  const want = await outputsOf(base, 'fp32');
  const got = await outputsOf(cand, 'q8');
  let worst = 1;
  for (const [name, w] of want) {
    const g = got.get(name) ?? [...got.values()][[...want.keys()].indexOf(name)];
    if (!g || g.length !== w.length) return NaN;
    worst = Math.min(worst, cosine(w, g));
  }
  return worst;
}

interface Ratio {
  readonly text: string;
  readonly value?: number;
  /** Slower beyond noise: core's sign test over the pairs (probablySlower). */
  readonly slower?: boolean;
}

/** Not slower than fp32: at or below 1, or above it by no more than the pairs' noise allows (sign test). */
const notSlower = (r: Ratio): boolean => r.value !== undefined && (r.value <= 1 || r.slower === false);

/** Output / fp32 latency, median of per-pair ratios, in the ctx's runtime; or why it was not measured. */
async function latencyRatio(
  base: onnx.ModelProto,
  cand: onnx.ModelProto,
  sample: Sample,
  batch: number,
  ctx: Ctx,
  spinning = false,
): Promise<Ratio> {
  const web = ctx.runtime === 'onnxruntime-web-wasm';
  const opts = web ? {} : { threads: THREADS, spinning };
  const a = await createSession(base, { ...opts, label: 'fp32' }, ctx);
  const b = await createSession(cand, { ...opts, label: 'q8' }, ctx);
  try {
    const feeds = batch === 1 ? feedsFor(a, sample) : tiled(a, sample, batch);
    if (typeof feeds === 'string') return { text: `n/a (${feeds})` };
    // With spinning on, turns of SPIN_BLOCK runs: one session's spinning threads would slow the other's next run.
    const c = await compareLatency(a, b, feeds, feedsFor(b, feeds), spinning ? { ...PAIRS, runs: 40, block: SPIN_BLOCK } : PAIRS);
    const slower = probablySlower(c);
    const noise = c.ratio.p50 > 1 && !slower ? `, within noise: ${c.slowerPairs} of ${c.pairs} pairs slower` : '';
    return { text: `${fmtX(c.ratio.p50)} (${fmtMs(c.a.p50)} → ${fmtMs(c.b.p50)}${noise})`, value: c.ratio.p50, slower };
  } catch (e) {
    return { text: `error: ${errLine(e)}` };
  } finally {
    await a.release();
    await b.release();
  }
}

const met = (ok: boolean | undefined): string => (ok === undefined ? '—' : ok ? 'met' : '**not met**');

/** The npz sample sets of a corpus model, at most `max` (stream order kept: carried state stays consistent). */
function corpusSamples(id: string, max: number): Sample[] {
  return sampleFiles(id)
    .slice(0, max)
    .map((f) => {
      const m = readNpz(f);
      return Object.fromEntries(
        [...m].map(([k, a]) => [k, { data: a.data, dims: a.dims, type: a.dtype === 'bool' ? 'bool' : a.dtype } as FeedTensor]),
      );
    });
}

async function syntheticSamples(model: onnx.ModelProto, count: number): Promise<Sample[]> {
  return withSession(model, { label: 'fp32' }, async (s) =>
    syntheticFeedSet(s, model, { count, seed: 0 }).samples.map((f) =>
      Object.fromEntries(
        Object.entries(s.toOrtFeeds(f)).map(([k, v]) => [k, { data: v.data as FeedTensor['data'], dims: [...v.dims], type: v.type }]),
      ),
    ),
  );
}

async function presetCases(ctx: BenchContext): Promise<{ cases: Case[]; skipped: string[] }> {
  const presets = [
    { preset: 'seed', epochs: 5, data: 'seed' },
    { preset: 'digits-mlp', epochs: 20, data: 'digits' },
    { preset: 'fashion-mlp', epochs: 2, data: 'fashion-mnist:20000' },
    { preset: 'fashion-cnn', epochs: 1, data: 'fashion-mnist:10000' },
  ];
  const cases: Case[] = [];
  const skipped: string[] = [];
  for (const p of presets) {
    try {
      const { model, how } = await trainedModel(ctx, p.preset, p.epochs, p.data);
      cases.push({ id: p.preset, model, samples: await syntheticSamples(model, 4), note: how });
    } catch (e) {
      skipped.push(`${p.preset}: ${errLine(e)}`);
    }
  }
  return { cases, skipped };
}

async function corpusCases(ctx: BenchContext, large: boolean): Promise<{ cases: Case[]; skipped: string[] }> {
  ctx.log(`  fetching the corpus and writing its feeds${large ? ' (large models too)' : ''}`);
  const prep = spawnSync(process.execPath, [path.join(ROOT, 'scripts/corpus/inputs.mjs'), ...(large ? ['--large'] : [])], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (prep.status === EXIT_UNREACHABLE) return { cases: [], skipped: ['corpus: npm registry unreachable'] };
  if (prep.status !== 0) return { cases: [], skipped: [`corpus: scripts/corpus/inputs.mjs exited ${prep.status}`] };
  const ids = process.env['SHRINK_BENCH_TARGETS_ONLY']?.split(',').filter(Boolean);
  const cases: Case[] = [];
  for (const e of loadCorpus().filter((x) => (large || !x.large) && (!ids?.length || ids.includes(x.id))))
    cases.push({
      id: e.id,
      model: await loadModel(modelPath(e.id)),
      samples: corpusSamples(e.id, 4),
      ...(sampleFiles(e.id)[0] ? { feeds: sampleFiles(e.id)[0]! } : {}),
      note: e.kind,
      large: e.large === true,
    });
  return { cases, skipped: [] };
}

interface CpuRow {
  cells: string[];
  b1?: number;
  b32?: number;
}

async function cpuRow(ctx: BenchContext, c: Case): Promise<CpuRow> {
  ctx.log(`targets: ${c.id}: q8 with the guard`);
  const cctx = cpuCtx('cpu');
  try {
    const g = await quantizeGuarded(c.model, { dtype: 'q8' }, cctx);
    ctx.log(`targets: ${c.id}: q8 --allow-slower`);
    const old = await quantizeGuarded(c.model, { dtype: 'q8', allowSlower: true }, cctx);
    const cos = await worstCosine(c.model, g.out.model, c.samples, { threads: THREADS });
    const sample = c.samples[0]!;
    ctx.log(`targets: ${c.id}: latency`);
    const b1 = await latencyRatio(c.model, g.out.model, sample, 1, { threads: THREADS });
    const b32 = await latencyRatio(c.model, g.out.model, sample, 32, { threads: THREADS });
    const spin = await latencyRatio(c.model, g.out.model, sample, 1, { threads: THREADS }, true);
    const oldB1 = await latencyRatio(c.model, old.out.model, sample, 1, { threads: THREADS });
    const size = encodeModel(g.out.model).length / encodeModel(c.model).length;
    const ok = notSlower(b1) && (b32.value === undefined || notSlower(b32));
    const strict = b1.value !== undefined && b1.value <= 1 && (b32.value === undefined || b32.value <= 1);
    return {
      cells: [
        c.id,
        quantizedCount(g.out),
        b1.text,
        b32.text,
        spin.text,
        fmtCos(cos),
        fmtX(size),
        rolledBack(g.out),
        oldB1.text,
        `${(g.ms / 1000).toFixed(1)} s`,
        met(b1.value === undefined ? undefined : ok) + (ok && !strict ? ' (within noise)' : ''),
      ],
      ...(b1.value !== undefined ? { b1: b1.value } : {}),
      ...(b32.value !== undefined ? { b32: b32.value } : {}),
    };
  } catch (e) {
    return { cells: [c.id, '', '', '', '', '', '', '', '', '', `error: ${errLine(e)}`] };
  }
}

const CPU_HEADERS = [
  'model',
  'changed nodes',
  'q8/fp32 batch 1 (spin off)',
  'q8/fp32 batch 32 (spin off)',
  `batch 1, default spinning (${SPIN_BLOCK}-run turns)`,
  'worst cosine',
  'size ratio',
  'guard rolled back',
  'allowSlower: true, batch 1',
  'quantize + guard',
  'goal ≤ 1.0× both batches',
];

async function mlpSection(ctx: BenchContext, isa: string): Promise<string> {
  ctx.log('targets: MLP');
  const base = buildMlp(MLP_WIDTHS, 42);
  const g = await quantizeGuarded(base, { dtype: 'q8' }, cpuCtx('cpu'));
  const rand = mulberry32(7);
  const input = (b: number): Sample => ({
    x: { data: Float32Array.from({ length: b * MLP_WIDTHS[0] }, () => rand()), dims: [b, MLP_WIDTHS[0]] },
  });
  const name = await withSession(base, {}, (s) => Promise.resolve(s.inputNames[0]!));
  const one: Sample = { [name]: input(1)['x']! };
  const cos = await worstCosine(base, g.out.model, [{ [name]: input(32)['x']! }], { threads: THREADS });
  const b32 = await latencyRatio(base, g.out.model, one, 32, { threads: THREADS });
  const b32spin = await latencyRatio(base, g.out.model, one, 32, { threads: THREADS }, true);
  const b1 = await latencyRatio(base, g.out.model, one, 1, { threads: THREADS });
  const limit = isa.includes('vnni') || isa === 'amx' ? 0.25 : 0.5;
  // Judged as users run it: onnxruntime's default session options (spinning on).
  const ok = b32spin.value !== undefined && b32spin.value <= limit && cos >= 0.999;
  return [
    `### MLP ${MLP_WIDTHS.join('-')}`,
    '',
    `\`buildMlp\` (seeded uniform weights), q8 default through \`runPass\` with ctx.target = cpu; random uniform input; cosine on the batch-32 output. ` +
      `Goal on ${isa}: batch 32 ≤ ${limit}× fp32, cosine ≥ 0.999, judged with onnxruntime's default session options (intra-op spinning on, ` +
      `timed in interleaved turns of ${SPIN_BLOCK} runs); spinning off (per-pair interleaving, as the speed guard times) is shown beside it.`,
    '',
    mdTable(
      [
        'variant',
        'batch 32 q8/fp32 (default spinning)',
        'batch 32 q8/fp32 (spin off)',
        'batch 1 q8/fp32 (spin off)',
        'cosine',
        'guard rolled back',
        'goal',
      ],
      [['q8 default', b32spin.text, b32.text, b1.text, fmtCos(cos), rolledBack(g.out), met(ok)]],
    ),
  ].join('\n');
}

/** torchvision resnet18 (random init, seed 0) exported at opset 13 with a dynamic batch axis, cached. */
function resnet18(): { file?: string; why: string } {
  const file = path.join(CACHE_DIR, 'resnet18-op13.onnx');
  if (existsSync(file)) return { file, why: `cached export ${file}` };
  if (!existsSync(PY)) return { why: `${PY} not found` };
  mkdirSync(CACHE_DIR, { recursive: true });
  const script = [
    'import sys, torch, torchvision',
    'torch.manual_seed(0)',
    'm = torchvision.models.resnet18().eval()',
    'x = torch.randn(1, 3, 224, 224)',
    'torch.onnx.export(m, x, sys.argv[1], opset_version=13, input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})',
  ].join('\n');
  const r = spawnSync(PY, ['-c', script, file], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0 || !existsSync(file))
    return { why: `python3 + torch export failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? r.status}` };
  return { file, why: `exported in this run by ${PY} (torchvision resnet18, random init, seed 0, opset 13), cached as ${file}` };
}

async function resnetSection(ctx: BenchContext): Promise<string> {
  ctx.log('targets: ResNet-18');
  const r = resnet18();
  const head = ['### ResNet-18 class', ''];
  if (!r.file) return [...head, `Skipped: ${r.why}.`].join('\n');
  const base = await loadModel(r.file);
  const rand = mulberry32(3);
  // Uniform [0, 1) images: the distribution random:N calibrates on (a calibration set must look like the data).
  const samples: Sample[] = [0, 1].map(() => ({
    input: { data: Float32Array.from({ length: 3 * 224 * 224 }, () => rand()), dims: [1, 3, 224, 224] },
  }));
  const rows: string[][] = [];
  for (const v of [
    { name: 'q8 default, no calibration data (mode auto: dynamic)', opts: { dtype: 'q8' } },
    { name: 'q8 default with calibData random:16 (mode auto: static)', opts: { dtype: 'q8', calibData: 'random:16' } },
  ]) {
    ctx.log(`targets: ResNet-18 ${v.name}`);
    try {
      const g = await quantizeGuarded(base, v.opts, cpuCtx('cpu'));
      const cos = await worstCosine(base, g.out.model, samples, { threads: THREADS });
      const b1 = await latencyRatio(base, g.out.model, samples[0]!, 1, { threads: THREADS });
      const ok = b1.value !== undefined && b1.value <= 0.65 && cos >= 0.99;
      rows.push([v.name, quantizedCount(g.out), b1.text, fmtCos(cos), rolledBack(g.out), `${(g.ms / 1000).toFixed(1)} s`, met(ok)]);
    } catch (e) {
      rows.push([v.name, '', '', '', '', '', `error: ${errLine(e)}`]);
    }
  }
  return [
    ...head,
    `Model: ${r.why}. Inputs: 2 uniform [0, 1) images [1,3,224,224], the distribution \`random:16\` calibrates on. Both through \`runPass\` with ctx.target = cpu (the guard on). Goal: batch 1 ≤ 0.65× fp32, cosine ≥ 0.99.`,
    '',
    mdTable(['variant', 'changed nodes', 'batch 1 q8/fp32 (spin off)', 'cosine', 'guard rolled back', 'quantize + guard', 'goal'], rows),
  ].join('\n');
}

function browserSamples(samples: readonly Sample[]): Record<string, BrowserTensor>[] {
  return samples.map((s) =>
    Object.fromEntries(Object.entries(s).map(([k, t]) => [k, { type: t.type ?? 'float32', data: t.data, dims: [...t.dims] }])),
  );
}

async function wasmRow(ctx: BenchContext, c: Case): Promise<string[]> {
  ctx.log(`targets: ${c.id}: --target wasm`);
  try {
    // No ctx.threads: the guard's web sessions then take onnxruntime-web's one thread, as a page without
    // cross-origin isolation does, and the runtime (one thread count per process) matches the sessions below.
    const g = await quantizeGuarded(c.model, { dtype: 'q8' }, { target: targetContext('wasm', detectCpuTarget().target) }, c.feeds);
    const web: Ctx = { runtime: 'onnxruntime-web-wasm' };
    // Inputs the model does not take (a feeds file's extras) are dropped before the browser sees them.
    const names = await withSession(c.model, {}, (s) => Promise.resolve(s.inputNames));
    const samples = c.samples.slice(0, 2).map((s) => Object.fromEntries(names.map((n) => [n, s[n]!])));
    const cos = await worstCosine(c.model, g.out.model, samples, web);
    const lat = await latencyRatio(c.model, g.out.model, samples[0]!, 1, web);
    const chk = await chromiumCheck(
      { name: 'baseline', bytes: encodeModel(c.model) },
      { name: 'candidate', bytes: encodeModel(g.out.model) },
      browserSamples(samples),
      'wasm',
      { timeoutMs: 60_000 },
    );
    const chCos = chk.available ? Math.min(...Object.values(chk.fidelity ?? {})) : undefined;
    const ok = cos >= 0.99 && (chCos === undefined || chCos >= 0.99);
    return [
      c.id,
      quantizedCount(g.out),
      rolledBack(g.out),
      keptByFloor(g.out),
      fmtCos(cos),
      lat.text,
      chk.available ? fmtCos(chCos) : 'not available',
      chk.available ? (chk.latencyRatio !== undefined ? fmtX(chk.latencyRatio) : 'not measured') : (chk.notes[0] ?? ''),
      met(ok) + (chk.available ? '' : ' (Node only)'),
    ];
  } catch (e) {
    return [c.id, '', '', '', '', '', '', '', `error: ${errLine(e)}`];
  }
}

export const targetsBench: Bench = {
  name: 'targets',
  title: 'Targets (issue #14): default q8 vs fp32 where it runs, with the speed guard',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const large = process.env['SHRINK_BENCH_LARGE'] === '1';
    const cpu = detectCpuTarget();
    const kp = int8KernelPath();
    // SHRINK_BENCH_TARGETS_SECTIONS=cpu,mlp,resnet,wasm narrows the run to those sections (all by default).
    const only = process.env['SHRINK_BENCH_TARGETS_SECTIONS']?.split(',').filter(Boolean);
    const want = (s: string): boolean => !only?.length || only.includes(s);
    const presets = want('cpu') ? await presetCases(ctx) : { cases: [], skipped: [] };
    const corpus = want('cpu') || want('wasm') ? await corpusCases(ctx, large) : { cases: [], skipped: [] };
    const cases = want('cpu') ? [...presets.cases, ...corpus.cases] : [];
    const rows: CpuRow[] = [];
    for (const c of cases) rows.push(await cpuRow(ctx, c));
    const metCount = rows.filter((r) => r.cells[10]?.startsWith('met')).length;
    const strictCount = rows.filter((r) => r.cells[10] === 'met').length;
    const mlp = want('mlp') ? await mlpSection(ctx, kp.isa) : '### MLP: not run (SHRINK_BENCH_TARGETS_SECTIONS)';
    const resnet = want('resnet') ? await resnetSection(ctx) : '### ResNet-18: not run (SHRINK_BENCH_TARGETS_SECTIONS)';
    const wasmRows: string[][] = [];
    if (want('wasm')) for (const c of corpus.cases.filter((x) => !x.large)) wasmRows.push(await wasmRow(ctx, c));
    const skipped = [...presets.skipped, ...corpus.skipped];
    return [
      `Machine: **${kp.isa}** (${kp.instruction}); \`--target cpu\` here is **${cpu.target}** (flags from ${cpu.source}: ${cpu.flags.join(' ') || 'none'}). ` +
        `onnxruntime-node CPU provider, ${THREADS} intra-op threads. q8 is \`quantizePass\` with \`{dtype: 'q8'}\` through \`runPass\` with ctx.target set, ` +
        `so the speed guard profiles it and moves slower regions to float compute or leaves them float; "allowSlower: true" is the old behaviour (no guard). ` +
        `Latency: \`compareLatency\` of fp32 and q8 sessions in one interleaved series (${PAIRS.warmup} warm-up pairs, then up to ${PAIRS.runs} pairs or ` +
        `${PAIRS.maxTimeMs / 1000} s), the median of per-pair q8/fp32 ratios with the two p50s; sessions with spinning off as the guard times them, ` +
        `and at batch 1 also with onnxruntime's default spinning. Batch 32 tiles the first sample along axis 0, only where every input's axis 0 is symbolic. ` +
        `Cosine: every output of the q8 model against fp32 in onnxruntime-node over the samples (corpus: up to 4 of scripts/corpus's realistic sample sets; ` +
        `presets: 4 synthetic samples), the worst output. Size ratio: encoded model bytes.` +
        (large ? '' : ' Large corpus models skipped (SHRINK_BENCH_LARGE=1 adds them).') +
        (skipped.length ? ` Skipped: ${skipped.join('; ')}.` : ''),
      '',
      `### Default q8 vs fp32 on ${cpu.target} (${metCount} of ${rows.length} not slower than fp32 at both batches; ${strictCount} of them at or below 1.0× strictly)`,
      '',
      mdTable(
        CPU_HEADERS,
        rows.map((r) => r.cells),
      ),
      '',
      `Presets: ${presets.cases.map((c) => `${c.id}: ${c.note}`).join('; ') || 'none'}.`,
      '',
      mlp,
      '',
      resnet,
      '',
      '### `--target wasm`',
      '',
      `q8 with ctx.target = wasm through \`runPass\`, given the model's first feeds file as \`--data\` would give it (the speed guard and wasm's fidelity floor, cosine ≥ 0.99, measure in onnxruntime-web's WASM backend in this process; the floor compares on that file). Node: fp32 and q8 ` +
        `in onnxruntime-web (WASM, 1 thread) under Node on up to 2 samples, worst-output cosine and the interleaved batch-1 latency ratio. ` +
        `Chromium: \`chromiumCheck\` (onnxruntime-web wasm in headless Chromium from a 127.0.0.1 server) on the same samples. Goal: cosine ≥ 0.99 in both. ` +
        'The large corpus models (1024x1024 segmentation) are left out here: one single-thread WASM run takes tens of seconds.',
      '',
      mdTable(
        [
          'model',
          'changed nodes',
          'guard rolled back',
          'fidelity floor kept float',
          'cosine (Node web)',
          'q8/fp32 batch 1 (Node web)',
          'cosine (Chromium)',
          'q8/fp32 (Chromium)',
          'goal',
        ],
        wasmRows,
      ),
    ].join('\n');
  },
};
