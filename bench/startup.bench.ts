/**
 * Wall time of whole `shrink` processes, as a build pipeline pays it: Node's own start, `info` and
 * `quantize --dtype q8` on a 1 MB model, from the shipped bundle (dist/shrink/bin.js), from the compiled
 * but unbundled files (dist/bin.js) and from the sources through tsx (what `pnpm shrink` runs).
 * Goals (issue #12): `info` <= 0.4 s and `quantize --dtype q8` <= 1 s from the built CLI.
 * Runs `pnpm build` first (turbo skips what is up to date). With SHRINK_BENCH_BEFORE=DIR (a checkout of an
 * earlier commit, installed and built), its `packages/cli/dist/bin.js` is timed in the same rounds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectEnvironment, encodeModel, summarize } from './core.js';
import { buildMlp } from './onnx-io.bench.js';
import { fmtBytes, fmtMs, interleave, mdTable, msSpread, type Bench, type BenchContext, type Variant } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(ROOT, 'packages/cli/dist/shrink/bin.js');
const UNBUNDLED = path.join(ROOT, 'packages/cli/dist/bin.js');
const SOURCES = ['--import', import.meta.resolve('tsx'), '--conditions=@shrink/source', path.join(ROOT, 'packages/cli/src/bin.ts')];
const ROUNDS = 7;
const GOALS: Readonly<Record<string, number>> = { 'bundle: info': 400, 'bundle: quantize q8': 1000 };

function timedRun(argv: readonly string[], cwd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { cwd, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
  return ms;
}

export const startupBench: Bench = {
  name: 'startup',
  title: 'CLI start-up: whole processes, bundle against unbundled and sources',
  inDefaultSet: true,
  async run(ctx: BenchContext): Promise<string> {
    ctx.log('  pnpm build');
    const b = spawnSync('npx', ['-y', 'pnpm@12.4.2', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0 || !existsSync(BUNDLE) || !existsSync(UNBUNDLED))
      throw new Error('pnpm build failed: the start-up benchmark times the built CLI');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-startup-'));
    try {
      const model = encodeModel(buildMlp([256, 512, 256, 10], 1));
      writeFileSync(path.join(dir, 'model.onnx'), model);
      const info = ['info', 'model.onnx'];
      const quantize = ['quantize', 'model.onnx', '--dtype', 'q8', '-o', 'q8.onnx', '--force'];
      const v = (name: string, argv: readonly string[]): Variant => ({ name, run: async () => timedRun(argv, dir) });
      const variants = [
        v('node -e 0', ['-e', '0']),
        v('bundle: --help', [BUNDLE, '--help']),
        v('bundle: info', [BUNDLE, ...info]),
        v('bundle: quantize q8', [BUNDLE, ...quantize]),
        v('unbundled: info', [UNBUNDLED, ...info]),
        v('unbundled: quantize q8', [UNBUNDLED, ...quantize]),
        v('sources (tsx): info', [...SOURCES, ...info]),
      ];
      const before = process.env['SHRINK_BENCH_BEFORE'];
      if (before) {
        const old = path.join(path.resolve(before), 'packages/cli/dist/bin.js');
        if (!existsSync(old)) throw new Error(`SHRINK_BENCH_BEFORE: ${old} does not exist (install and build that checkout first)`);
        variants.push(v('before: info', [old, ...info]), v('before: quantize q8', [old, ...quantize]));
      }
      const r = await interleave(variants, { warmupRounds: 1, rounds: ROUNDS, log: ctx.log });
      const rows = variants.map((x) => {
        const s = summarize(r.times.get(x.name)!, 'ms');
        const goal = GOALS[x.name];
        return [x.name, msSpread(s), goal === undefined ? '' : `${fmtMs(goal)}: ${s.p50 <= goal ? 'met' : 'NOT met'}`];
      });
      const env = collectEnvironment();
      return [
        `Model: a 256-512-256-10 MLP, ${fmtBytes(model.length)}. Each row is one whole \`node\` process (spawned, waited for), ${ROUNDS} rounds ` +
          `interleaved after one warm-up round. \`quantize\` includes its measurement (50 timed runs of each model, fidelity, sizes). ` +
          `CPU ${env.cpuModel}, ISA ${env.isa}, ${os.availableParallelism()} cores. ` +
          `Compare rows with \`node -e 0\` of the same run: this machine's own start-up varies between runs.` +
          (before
            ? ` "before" is the CLI of the checkout in SHRINK_BENCH_BEFORE (commit ${spawnSync('git', ['-C', before, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()}).`
            : ''),
        '',
        mdTable(['process', 'wall p50 (p10–p90)', 'goal'], rows, [false, true, false]),
      ].join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
