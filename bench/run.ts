/**
 * `pnpm bench [startup] [io] [presets] [quantize] [prune] [distill] [large] [quantize-large] [search] [all]`: runs the chosen benchmarks one
 * after another and prints one Markdown document (machine facts, the command, a section per benchmark)
 * on stdout; progress goes to stderr. With no names it runs the default set (startup, io, presets, quantize, prune);
 * `large` and `quantize-large` write gigabytes to the temp folder and run only when named; `search` (two
 * searches of several minutes each) too.
 */
import { availableParallelism, cpus, platform, release, totalmem } from 'node:os';
import { collectEnvironment } from './core.js';
import { largeModelBench } from './large-model.bench.js';
import { llmLargeBench } from './llm-large.bench.js';
import { llmBench } from './llm.bench.js';
import { fmtBytes, load1, nowMs, type Bench } from './lib.js';
import { onnxIoBench } from './onnx-io.bench.js';
import { presetsLatencyBench } from './presets-latency.bench.js';
import { pruneBench } from './prune.bench.js';
import { distillBench } from './distill.bench.js';
import { quantizeBench } from './quantize.bench.js';
import { quantizeLargeBench } from './quantize-large.bench.js';
import { realBench } from './real.bench.js';
import { searchBench } from './search.bench.js';
import { searchDistributedBench } from './search-distributed.bench.js';
import { startupBench } from './startup.bench.js';
import { targetsBench } from './targets.bench.js';
import { weightFormatBench } from './weight-format.bench.js';
import { webBench } from './web.bench.js';

const BENCHES: readonly Bench[] = [
  startupBench,
  onnxIoBench,
  presetsLatencyBench,
  quantizeBench,
  pruneBench,
  distillBench,
  largeModelBench,
  quantizeLargeBench,
  searchBench,
  searchDistributedBench,
  weightFormatBench,
  realBench,
  targetsBench,
  llmLargeBench,
  llmBench,
  webBench,
];

function usage(): string {
  return `usage: pnpm bench [${BENCHES.map((b) => b.name).join('] [')}] [all]; default: ${BENCHES.filter((b) => b.inDefaultSet)
    .map((b) => b.name)
    .join(', ')}`;
}

function select(args: readonly string[]): Bench[] {
  if (args.includes('-h') || args.includes('--help')) {
    console.log(usage());
    process.exit(0);
  }
  if (args.length === 0) return BENCHES.filter((b) => b.inDefaultSet);
  if (args.includes('all')) return [...BENCHES];
  const unknown = args.filter((a) => !BENCHES.some((b) => b.name === a));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.map((u) => `'${u}'`).join(', ')}; ${usage()}`);
    process.exit(2);
  }
  return BENCHES.filter((b) => args.includes(b.name));
}

function machine(): string {
  const env = collectEnvironment();
  const mhz = cpus()[0]?.speed;
  return [
    `- CPU: ${env.cpuModel}${mhz ? ` (${mhz} MHz reported)` : ''}, ${availableParallelism()} logical cores, ${fmtBytes(totalmem())} RAM`,
    `- OS: ${platform()} ${release()} ${env.arch}`,
    `- Node ${env.node}, onnxruntime-node ${env.onnxruntime}`,
    `- Date: ${new Date().toISOString()}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const chosen = select(args);
  const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
  const out: string[] = ['# Shrink benchmarks', '', `Command: \`pnpm bench${args.length ? ` ${args.join(' ')}` : ''}\``, '', machine()];
  let failed = false;
  for (const b of chosen) {
    log(`== ${b.name}: ${b.title}`);
    const before = load1();
    const t0 = nowMs();
    let body: string;
    try {
      body = await b.run({ log });
    } catch (e) {
      failed = true;
      body = `**FAILED:** ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
      log(body);
    }
    const secs = (nowMs() - t0) / 1000;
    out.push(
      '',
      `## ${b.title}`,
      '',
      `\`pnpm bench ${b.name}\` — took ${secs.toFixed(0)} s; 1-minute load average ${before.toFixed(2)} before, ${load1().toFixed(2)} after ` +
        `(on ${availableParallelism()} cores, anything well above the benchmark's own threads means other work competed).`,
      '',
      body,
    );
    log(`== ${b.name} done in ${secs.toFixed(0)} s`);
  }
  console.log(out.join('\n'));
  if (failed) process.exitCode = 1;
}

await main();
