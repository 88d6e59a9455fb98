/**
 * What every benchmark shares: the Bench contract run.ts drives, interleaved timing, peak RSS per
 * phase, forced GC between timed steps, and Markdown tables.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { formatValue, summarize, type Summary } from './core.js';

export interface BenchContext {
  /** Progress lines go to stderr so stdout stays clean Markdown. */
  log(msg: string): void;
}

export interface Bench {
  /** The word that selects it: `pnpm bench <name>`. */
  readonly name: string;
  readonly title: string;
  /** Part of a plain `pnpm bench` run. */
  readonly inDefaultSet: boolean;
  /** The Markdown body of its section (tables and notes), without the heading. */
  run(ctx: BenchContext): Promise<string>;
}

// Collecting garbage before each timed step keeps one variant's garbage from being paid (or its RSS
// counted) by the next; V8 exposes `gc` only behind a flag, which can still be set at run time.
v8.setFlagsFromString('--expose-gc');
const gcFn = vm.runInNewContext('gc') as () => void;
export function collectGarbage(): void {
  gcFn();
  gcFn();
}

/**
 * GC after the current task ends: a value an `await` just produced can stay referenced by the
 * suspended caller until the next macrotask, so a synchronous gc() right away would not free it.
 */
export async function settleAndCollect(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  collectGarbage();
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function timeMs(fn: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * Peak resident memory of one phase. Linux resets the process's high-water mark (VmHWM) when "5" is
 * written to /proc/self/clear_refs, which gives an exact per-phase peak without sampling (a sampler
 * on the event loop would miss synchronous work). Elsewhere it falls back to the process-lifetime peak.
 */
export class PeakRss {
  readonly exact: boolean;

  constructor() {
    this.exact = PeakRss.tryReset();
  }

  private static tryReset(): boolean {
    try {
      writeFileSync('/proc/self/clear_refs', '5');
      return /VmHWM:/.test(readFileSync('/proc/self/status', 'utf8'));
    } catch {
      return false;
    }
  }

  /** Starts a phase: the peak becomes the current RSS. */
  reset(): void {
    if (this.exact) writeFileSync('/proc/self/clear_refs', '5');
  }

  /** Peak RSS in bytes since the last reset (exact) or since the process started (fallback). */
  peak(): number {
    if (this.exact) {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) return Number(m[1]) * 1024;
    }
    return process.resourceUsage().maxRSS * 1024;
  }

  /** Current anonymous and file-backed resident bytes (mmapped files count as file-backed). */
  breakdown(): { anon: number; file: number } | undefined {
    if (!this.exact) return undefined;
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile') };
  }

  get method(): string {
    return this.exact
      ? 'peak RSS per phase from /proc/self/status VmHWM, reset through /proc/self/clear_refs before each phase'
      : 'process-lifetime peak RSS (process.resourceUsage().maxRSS); per-phase peaks are not available on this OS';
  }
}

export interface Variant {
  readonly name: string;
  /** One step; returns the milliseconds it timed itself, so its setup and cleanup stay out of the clock. */
  run(): Promise<number>;
}

export interface InterleavedResult {
  /** Milliseconds per variant name, one sample per round. */
  readonly times: ReadonlyMap<string, number[]>;
  /** Peak RSS above the RSS at the start of the step, per variant, one sample per round. */
  readonly rss: ReadonlyMap<string, number[]>;
  readonly rounds: number;
}

/**
 * Runs every variant once per round, rotating the order each round so none always runs first (after
 * another's cache misses or writeback), with a GC and a peak-RSS reset before each step.
 */
export async function interleave(
  variants: readonly Variant[],
  opts: { warmupRounds: number; rounds: number; rss?: PeakRss; log?: (msg: string) => void },
): Promise<InterleavedResult> {
  const times = new Map(variants.map((v) => [v.name, [] as number[]]));
  const rss = new Map(variants.map((v) => [v.name, [] as number[]]));
  const total = opts.warmupRounds + opts.rounds;
  for (let r = 0; r < total; r++) {
    const warm = r < opts.warmupRounds;
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + r) % variants.length]!;
      await settleAndCollect();
      const before = process.memoryUsage.rss();
      opts.rss?.reset();
      const ms = await v.run();
      const peak = opts.rss?.peak();
      if (!warm) {
        times.get(v.name)!.push(ms);
        if (peak !== undefined) rss.get(v.name)!.push(Math.max(0, peak - before));
      }
    }
    opts.log?.(`  ${warm ? 'warm-up' : 'round'} ${warm ? r + 1 : r - opts.warmupRounds + 1}/${warm ? opts.warmupRounds : opts.rounds}`);
  }
  return { times, rss, rounds: opts.rounds };
}

/** ‖got − want‖₂ / ‖want‖₂: the relative L2 error of an output against its reference. */
export function relL2Error(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** Per-round a/b ratios. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`ratios: ${a.length} vs ${b.length} samples`);
  return a.map((x, i) => x / b[i]!);
}

export const fmtMs = (x: number): string => formatValue(x, 'ms');
export const fmtBytes = (x: number): string => formatValue(x, 'bytes');
export const fmtX = (x: number): string => formatValue(x, 'x');
export const fmtMiB = (x: number): string => `${(x / 2 ** 20).toFixed(0)} MiB`;

/** "p50 (p10–p90)" of a summary, in ms. */
export function msSpread(s: Summary): string {
  return `${fmtMs(s.p50)} (${fmtMs(s.p10)}–${fmtMs(s.p90)})`;
}

export function xSpread(s: Summary): string {
  return `${fmtX(s.p50)} (${fmtX(s.p10)}–${fmtX(s.p90)})`;
}

export { summarize };

/** A GitHub-flavoured Markdown table; `right` marks numeric columns. */
export function mdTable(headers: readonly string[], rows: readonly (readonly string[])[], right: readonly boolean[] = []): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
  const sep = headers.map((_, i) => (right[i] ? '---:' : '---'));
  return [line(headers), `|${sep.map((s) => ` ${s} `).join('|')}|`, ...rows.map(line)].join('\n');
}

/** 1-minute load average, as a hint of other work on the machine while a benchmark ran. */
export function load1(): number {
  return loadavg()[0] ?? 0;
}
