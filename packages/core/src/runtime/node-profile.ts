/**
 * Per-node time from onnxruntime's own profiler (SessionOptions.enableProfiling): what each kernel of the
 * optimized graph took, so a compressed model's regions can be compared with the float ones they replace.
 * Several models are profiled together with their runs interleaved, so machine load hits them alike.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import type { Ctx } from '../context.js';
import { createSession, type Feeds, type ModelSource, type Session } from './session.js';

/** One kernel of onnxruntime's optimized graph: its node name there (fused and inserted nodes have their own). */
export interface KernelTime {
  readonly name: string;
  readonly opType: string;
  /** Mean microseconds per model run (a node inside a loop body counts every call). */
  readonly us: number;
  /** Microseconds in each timed run, in run order (runs of several models are interleaved, so run k of each is a pair). */
  readonly perRun: readonly number[];
}

export interface NodeProfile {
  readonly kernels: readonly KernelTime[];
  /** Timed runs the means are over (warm-up runs are dropped). */
  readonly runs: number;
  /** Mean wall time of a run as the profiler saw it, in microseconds. */
  readonly runUs: number;
}

export interface ProfileNodesOptions {
  threads?: number;
  /** Untimed runs per model first (3). */
  warmup?: number;
  /** Timed runs per model (30) ... */
  runs?: number;
  /** ... or fewer when this budget runs out, after at least 5 (5000 ms). */
  maxTimeMs?: number;
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string };
}

/**
 * Profiles every model on the same feeds (one feeds record per model, as their inputs may differ) with
 * onnxruntime-node, runs interleaved in alternating order. onnxruntime-web has no profiler file: Node only.
 */
export async function profileNodes(
  models: readonly ModelSource[],
  feeds: readonly Feeds[],
  opts: ProfileNodesOptions = {},
  ctx?: Ctx,
): Promise<NodeProfile[]> {
  const warmup = opts.warmup ?? 3;
  const runs = opts.runs ?? 30;
  const budget = opts.maxTimeMs ?? 5000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shrink-profile-'));
  const sessions: Session[] = [];
  try {
    for (const [i, m] of models.entries()) {
      const threads = opts.threads ?? ctx?.threads;
      sessions.push(
        await createSession(
          m,
          {
            profileFilePrefix: path.join(dir, `m${i}`),
            spinning: false,
            label: `profiled model ${i + 1}`,
            ...(threads !== undefined ? { threads } : {}),
          },
          // The profiler file is onnxruntime-node's.
          { ...ctx, runtime: 'onnxruntime-node' },
        ),
      );
    }
    const ortFeeds = sessions.map((s, i) => s.toOrtFeeds(feeds[i] ?? feeds[0]!));
    const runAll = async (k: number) => {
      const order = k % 2 === 0 ? sessions.map((_, i) => i) : sessions.map((_, i) => sessions.length - 1 - i);
      for (const i of order) await sessions[i]!.ort.run(ortFeeds[i]!);
    };
    for (let k = 0; k < warmup; k++) {
      ctx?.signal?.throwIfAborted();
      await runAll(k);
    }
    let timed = 0;
    for (const t0 = performance.now(); timed < runs && !(timed >= 5 && performance.now() - t0 > budget); timed++) {
      ctx?.signal?.throwIfAborted();
      await runAll(timed);
    }
    const out: NodeProfile[] = [];
    for (const [i, s] of sessions.entries()) {
      s.ort.endProfiling();
      const file = (await readdir(dir)).find((f) => f.startsWith(`m${i}_`) && f.endsWith('.json'));
      if (!file) throw new ShrinkError('RUNTIME', `onnxruntime wrote no profile for model ${i + 1} in ${dir}`);
      out.push(summarizeProfile(JSON.parse(await readFile(path.join(dir, file), 'utf8')) as ProfileEvent[], warmup));
    }
    return out;
  } finally {
    for (const s of sessions) await s.release().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Kernel times per timed run: the runs after the first `warmup` (a run is a `model_run` event; kernels fall inside one). */
export function summarizeProfile(events: readonly ProfileEvent[], warmup: number): NodeProfile {
  const timed = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0))
    .slice(warmup);
  const runOf = (ts: number): number => {
    // Runs are few (tens): a linear scan from the end is fine.
    for (let k = timed.length - 1; k >= 0; k--)
      if (ts >= (timed[k]!.ts ?? 0)) return ts <= (timed[k]!.ts ?? 0) + (timed[k]!.dur ?? 0) ? k : -1;
    return -1;
  };
  const sums = new Map<string, { opType: string; perRun: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const k = runOf(e.ts ?? 0);
    if (k < 0) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    const s = sums.get(name) ?? { opType: e.args?.op_name ?? '', perRun: new Array<number>(timed.length).fill(0) };
    s.perRun[k]! += e.dur ?? 0;
    sums.set(name, s);
  }
  const n = Math.max(timed.length, 1);
  return {
    kernels: [...sums].map(([name, s]) => ({ name, opType: s.opType, us: s.perRun.reduce((a, b) => a + b, 0) / n, perRun: s.perRun })),
    runs: timed.length,
    runUs: timed.reduce((a, e) => a + (e.dur ?? 0), 0) / n,
  };
}
