/**
 * Every command on real models that others wrote (scripts/corpus: OCR, VAD, wake-word, speech features,
 * segmentation; fetched from npm packages, pinned by SHA-256) and on the transformer fixtures in
 * fixtures/transformers/ when present, each fed its realistic inputs (`--data <feeds>` wherever the
 * command takes data). One row per model and command: exit code, size ratio, the worst output's cosine
 * as the report gives it and as measured here in onnxruntime on the same feeds, latency ratio, wall time,
 * and the one-line error when a command refuses. Models marked large (the 1024x1024 segmentation nets)
 * only with SHRINK_BENCH_LARGE=1. The CLI runs from the sources through tsx, one process per command, so
 * the wall time includes about a second of start-up.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareOutputs } from '../scripts/corpus/compare.mjs';
import { EXIT_UNREACHABLE, loadCorpus, modelPath } from '../scripts/corpus/fetch.mjs';
import { feedsPath, sampleFiles, samplesDir } from '../scripts/corpus/inputs.mjs';
import { countParams, loadModel } from './core.js';
import { fmtBytes, mdTable, type Bench, type BenchContext } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = ['--import', import.meta.resolve('tsx'), '--conditions=@shrink/source', path.join(ROOT, 'packages/cli/src/bin.ts')];
const TRANSFORMERS = path.join(ROOT, 'fixtures/transformers');
// A command that runs longer than this is stopped and reported as a timeout (the issue saw 15 silent minutes).
const TIMEOUT_MS = Number(process.env['SHRINK_BENCH_REAL_TIMEOUT_S'] ?? 900) * 1000;

interface Target {
  readonly id: string;
  readonly model: string;
  /** The feeds file the CLI gets. */
  readonly feeds: string;
  /** The sample sets the independent cosine runs on. */
  readonly samples: readonly string[];
}

interface Command {
  readonly name: string;
  readonly args: (model: string, out: string) => string[];
  /** Writes a model to compare (and `-o` is passed). */
  readonly writes: boolean;
}

const COMMANDS: readonly Command[] = [
  { name: 'info', args: (m) => ['info', m], writes: false },
  { name: 'bench', args: (m) => ['bench', m], writes: false },
  { name: 'cleanup', args: (m, o) => ['cleanup', m, '-o', o], writes: true },
  { name: 'quantize q8', args: (m, o) => ['quantize', m, '--dtype', 'q8', '-o', o], writes: true },
  { name: 'quantize q4', args: (m, o) => ['quantize', m, '--dtype', 'q4', '-o', o], writes: true },
  { name: 'quantize fp16', args: (m, o) => ['quantize', m, '--dtype', 'fp16', '-o', o], writes: true },
  { name: 'prune magnitude 0.5', args: (m, o) => ['prune', m, '--method', 'magnitude', '--sparsity', '0.5', '-o', o], writes: true },
  { name: 'convert', args: (m, o) => ['convert', m, '-o', o], writes: true },
];

/** The instruction set onnxruntime's int8 kernels use here: AVX512-VNNI and AVX2 round int8 differently. */
export function isaName(): string {
  const flags = /^flags\s*:(.*)$/m.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1]?.split(/\s+/) ?? [];
  if (flags.includes('avx512_vnni')) return 'AVX512-VNNI';
  if (flags.includes('avx_vnni')) return 'AVX-VNNI';
  if (flags.includes('avx2')) return 'AVX2';
  return flags.length ? 'x86 without AVX2' : `${os.arch()} (no /proc/cpuinfo flags)`;
}

function shrink(
  args: readonly string[],
  cwd: string,
): { code: number | null; stdout: string; stderr: string; ms: number; timedOut: boolean } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd, encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 256 * 2 ** 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms, timedOut: r.error !== undefined || r.signal !== null };
}

/** Which commands take `--data`, asked of each command's own --help (the flags are still being added). */
function takesData(cwd: string): Set<string> {
  const verbs = new Set(COMMANDS.map((c) => c.args('m', 'o')[0]!));
  return new Set([...verbs].filter((v) => / --data\b/.test(shrink([v, '--help'], cwd).stdout)));
}

// Where a model has several sample sets (stream order: a VAD's carried state, a wake-word head's windows),
// the CLI gets the folder, so the report's cosine and the one measured here are over the same inputs.
function corpusTargets(large: boolean): Target[] {
  return loadCorpus()
    .filter((e) => large || !e.large)
    .map((e) => ({
      id: e.id,
      model: modelPath(e.id),
      feeds: existsSync(samplesDir(e.id)) ? samplesDir(e.id) : feedsPath(e.id),
      samples: sampleFiles(e.id),
    }));
}

/** SHRINK_BENCH_REAL_ONLY=id,id narrows the run (ids as in the table; a transformer is transformers/<name>). */
function only(targets: Target[]): Target[] {
  const ids = process.env['SHRINK_BENCH_REAL_ONLY']?.split(',').filter(Boolean);
  return ids?.length ? targets.filter((t) => ids.includes(t.id)) : targets;
}

function transformerTargets(): Target[] {
  if (!existsSync(TRANSFORMERS)) return [];
  return readdirSync(TRANSFORMERS)
    .filter((f) => f.endsWith('.onnx') && existsSync(path.join(TRANSFORMERS, f.replace(/\.onnx$/, '.feeds.json'))))
    .sort()
    .map((f) => {
      const feeds = path.join(TRANSFORMERS, f.replace(/\.onnx$/, '.feeds.json'));
      return { id: `transformers/${f.replace(/\.onnx$/, '')}`, model: path.join(TRANSFORMERS, f), feeds, samples: [feeds] };
    });
}

const fmtRatio = (x: unknown): string => (typeof x === 'number' && Number.isFinite(x) ? `${x.toFixed(3)}x` : '');
/** Bytes of every stored tensor (initializers, Constant values, bodies'), whatever its dtype: what a weight format changes. */
async function tensorBytes(file: string): Promise<number> {
  return Object.values(countParams(await loadModel(file)).bytesByDtype).reduce((a, b) => a + b, 0);
}

const fmtCos = (x: unknown): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(5) : '');

async function row(t: Target, c: Command, dir: string, withData: Set<string>, log: (m: string) => void): Promise<string[]> {
  const out = path.join(dir, `${t.id.replace(/\//g, '_')}.${c.name.replace(/\W+/g, '-')}.onnx`);
  const args = [...c.args(t.model, out), '--json'];
  if (withData.has(args[0]!)) args.push('--data', t.feeds);
  if (c.writes) args.push('--force');
  const r = shrink(args, dir);
  const wall = `${(r.ms / 1000).toFixed(1)} s`;
  log(`  ${t.id} ${c.name}: exit ${r.code}${r.timedOut ? ' (timeout)' : ''} in ${wall}`);
  if (r.timedOut) return [t.id, c.name, 'timeout', '', '', '', '', '', wall, `stopped after ${TIMEOUT_MS / 1000} s`];
  if (r.code !== 0) {
    const lines = r.stderr.trim().split('\n');
    const first = lines.find((l) => l.startsWith('shrink:')) ?? lines[0] ?? '';
    return [t.id, c.name, String(r.code), '', '', '', '', '', wall, `${first}${lines.length > 1 ? ` (+${lines.length - 1} lines)` : ''}`];
  }
  let json: Record<string, any>;
  try {
    json = JSON.parse(r.stdout) as Record<string, any>;
  } catch {
    return [t.id, c.name, '0', '', '', '', '', '', wall, 'stdout is not JSON'];
  }
  const metrics = json['report']?.candidates?.[0]?.metrics ?? {};
  const baseBytes = statSync(t.model).size;
  const size = metrics['size.bytes']?.ratio ?? (c.writes && existsSync(out) ? statSync(out).size / baseBytes : undefined);
  const latency = c.name === 'bench' ? `p50 ${Number(json['latencyMs']?.p50).toFixed(2)} ms` : fmtRatio(metrics['latency.p50']?.ratio);
  let ours = '';
  let note = '';
  let weights = '';
  if (c.writes && existsSync(out)) {
    weights = fmtRatio((await tensorBytes(out)) / (await tensorBytes(t.model)));
    try {
      ours = fmtCos((await compareOutputs(t.model, out, t.samples)).worst);
    } catch (e) {
      ours = 'fails';
      note = `output model: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
    }
  }
  if (c.name === 'info')
    note = `${fmtBytes(baseBytes)}; ${(json['inputs'] ?? []).map((i: { name: string; dtype: string }) => `${i.name}:${i.dtype}`).join(', ')}`;
  return [t.id, c.name, '0', fmtRatio(size), weights, fmtCos(metrics['fidelity.cosineSimilarity']?.candidate), ours, latency, wall, note];
}

export const realBench: Bench = {
  name: 'real',
  title: 'Real-world corpus: every command on models that others wrote, with realistic inputs',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const large = process.env['SHRINK_BENCH_LARGE'] === '1';
    ctx.log(`  fetching the corpus and writing its feeds${large ? ' (large models too)' : ''}`);
    const prep = spawnSync(process.execPath, [path.join(ROOT, 'scripts/corpus/inputs.mjs'), ...(large ? ['--large'] : [])], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (prep.status === EXIT_UNREACHABLE)
      return '**skipped: npm registry unreachable** (scripts/corpus/fetch.mjs exit 3); the corpus is fetched with `npm pack`.';
    if (prep.status !== 0) throw new Error(`scripts/corpus/inputs.mjs exited ${prep.status}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-real-'));
    try {
      const withData = takesData(dir);
      const targets = only([...corpusTargets(large), ...transformerTargets()]);
      const rows: string[][] = [];
      for (const t of targets) for (const c of COMMANDS) rows.push(await row(t, c, dir, withData, ctx.log));
      const corpus = loadCorpus().filter((e) => targets.some((t) => t.id === e.id));
      const models = corpus.map((e) => [
        e.id,
        e.kind,
        e.framework,
        String(e.opset),
        fmtBytes(statSync(modelPath(e.id)).size),
        `${e.package}@${e.version}`,
        e.licence.split(' (')[0]!,
      ]);
      const failed = rows.filter((r) => r[2] !== '0').length;
      return [
        `ISA: **${isaName()}** (from /proc/cpuinfo flags; int8 kernels differ between AVX512-VNNI and AVX2). ` +
          `${targets.length} models × ${COMMANDS.length} commands, ${failed} not exit 0. Commands run from the sources (tsx), one process each, ` +
          `with \`--json\` and \`--data <feeds>\` where the command takes data (${[...withData].join(', ') || 'none'}); the feeds are ` +
          `scripts/corpus/inputs.mjs's realistic inputs (.cache/corpus/<id>.feeds.npz, or the folder .cache/corpus/<id>.feeds/ of sample sets in ` +
          `stream order where a model has one: VAD state carried chunk to chunk, wake-word windows) or fixtures/transformers/<name>.feeds.json. ` +
          `"size ratio" is the file's; "weights ratio" is the bytes of its stored tensors (initializers and Constant values, bodies' included) against the original's, without the graph's names and metadata, which dominate small exports. ` +
          `"cosine (report)" is the worst output's cosine as the command's report gives it; "cosine (ort)" is measured here in onnxruntime-node ` +
          `on the same feeds, every output over all sample sets, worst output. ` +
          (large ? '' : 'Large models skipped (SHRINK_BENCH_LARGE=1 adds them).'),
        '',
        mdTable(['model', 'kind', 'source', 'opset', 'size', 'package', 'licence'], models),
        '',
        mdTable(
          [
            'model',
            'command',
            'exit',
            'size ratio',
            'weights ratio',
            'cosine (report)',
            'cosine (ort)',
            'latency ratio',
            'wall',
            'error / note',
          ],
          rows,
          [false, false, true, true, true, true, true, true, true, false],
        ),
      ].join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
