/**
 * Never slower than float unless asked: a pass's output is profiled per node on the target (this
 * machine's onnxruntime-node CPU EP) beside the float model, regions that run slower than their float
 * version are left float by running the pass again with them excluded, and the whole model is then timed
 * against the float model; if it is still clearly slower, nothing is kept. On `wasm`, which has no profiler
 * file, only the whole-model check runs.
 */
import type { Ctx } from '../context.js';
import { loggerOf } from '../context.js';
import type { onnx } from '../onnx/proto.js';
import { judgeRegions, speedRegions, type RegionVerdict } from '../target/speed-regions.js';
import { measurableRuntime, type TargetContext } from '../target/targets.js';
import { clearlySlower, compareLatency, probablySlower } from './latency.js';
import { profileNodes } from './node-profile.js';
import { createSession, type Feeds } from './session.js';
import { syntheticFeedSet } from './synthetic-feeds.js';

export interface GuardAttempt {
  readonly model: onnx.ModelProto;
  readonly changed?: ReadonlyArray<{ name: string; opType: string }> | undefined;
}

/** One region as the report lists it. */
export interface SpeedRegionRow {
  readonly batch: number;
  readonly nodes: readonly string[];
  readonly floatUs: number;
  readonly candidateUs: number;
  readonly ratio: number;
  readonly rolledBack: boolean;
}

export interface SpeedSummary {
  readonly target: string;
  readonly runtime: string;
  /** Batch sizes the output was timed at. */
  readonly batches: readonly number[];
  /** Per-region times (onnxruntime-node only), the first round's: before any rollback. */
  readonly regions: readonly SpeedRegionRow[];
  /** Changed nodes left float because they were slower. */
  readonly rolledBack: readonly string[];
  /** Whole-model p50 latency ratio (output / float) per batch after the rollback. */
  readonly wholeRatio: Readonly<Record<string, number>>;
  /**
   * Everything was rolled back: after the regional rollback the output was still clearly slower (any
   * slowdown beyond noise, where rolled-back nodes keep int8 storage and compute in float).
   */
  readonly rolledBackAll: boolean;
  /** Rolled-back nodes keep int8 storage and compute in float (the pass has floatCompute), rather than float. */
  readonly floatCompute?: boolean;
  /** Why the guard did not run, when it did not. */
  readonly skipped?: string;
  /**
   * Batches whose onnxruntime profile held no kernel times for one of the models: no region was judged
   * there, only the whole-model timing (a region with no time on either side is not judged either).
   */
  readonly notProfiled?: readonly number[];
}

export interface SpeedGuardOutcome<A extends GuardAttempt> {
  readonly attempt: A;
  readonly summary: SpeedSummary;
  /** Why each rolled-back node was left float, for the layer table. */
  readonly why: ReadonlyMap<string, string>;
  readonly notes: readonly string[];
}

export interface SpeedGuardOptions {
  /** Batch sizes to profile at: [1, 32] when every input's axis 0 is symbolic; otherwise the inputs as they come. */
  readonly batches?: readonly number[];
  /** Time budget per profile or timing round in ms (4000). */
  readonly maxTimeMs?: number;
}

const fmtUs = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);

/** Feeds at each batch size, made for the float model (the output takes the same inputs). */
async function feedsByBatch(model: onnx.IModelProto, batches: readonly number[] | undefined, ctx: Ctx): Promise<Map<number, Feeds>> {
  const s = await createSession(model, { label: 'float model' }, { ...ctx, runtime: 'onnxruntime-node' });
  try {
    // A batch axis only where every input has a symbolic axis 0: a state input of fixed size (silero's
    // [2, batch, 128]) ties the batch to its own layout, so such a model is timed as its inputs come.
    const symbolic = s.inputs.length > 0 && s.inputs.every((i) => typeof i.shape?.[0] === 'string');
    const sizes = symbolic ? (batches ?? [1, 32]) : [1];
    const out = new Map<number, Feeds>();
    for (const b of sizes) {
      const feeds = syntheticFeedSet(s, model, { count: 1, ...(symbolic ? { batch: b } : {}), seed: ctx.seed ?? 0 }).samples[0]!;
      out.set(symbolic ? b : Number(s.inputs[0]?.shape?.[0]) || 1, feeds);
    }
    return out;
  } finally {
    await s.release();
  }
}

/**
 * What a rerun changes, by node (as `exclude` names them): `floatCompute` nodes keep their compressed
 * storage and compute in float where the pass has such a form; `exclude` nodes are left as they were.
 */
export interface GuardRerun {
  readonly floatCompute: readonly string[];
  readonly exclude: readonly string[];
}

/**
 * Runs the guard around `first`, the pass's output. `rerun` runs the pass again with the nodes it names
 * computed in float, on top of whatever the first run already left alone. `floatCompute` says whether the
 * pass has a float-compute form (dynamic q8's int8 weights folded into float ones at load): then slow
 * regions keep their smaller weights and only whole-model slowness leaves nodes as they were.
 */
export async function withSpeedGuard<A extends GuardAttempt>(
  input: onnx.ModelProto,
  first: A,
  rerun: (change: GuardRerun) => Promise<A>,
  target: TargetContext,
  ctx: Ctx,
  opts: SpeedGuardOptions & { readonly floatCompute?: boolean } = {},
): Promise<SpeedGuardOutcome<A>> {
  const runtime = measurableRuntime(target);
  const base = { target: target.name, batches: [] as number[], regions: [], rolledBack: [], wholeRatio: {}, rolledBackAll: false };
  if (!runtime) {
    const skipped = `speed not checked on ${target.name}: this machine is ${target.here ?? 'unknown'} and runs it in neither onnxruntime-node nor onnxruntime-web here`;
    return { attempt: first, summary: { ...base, runtime: target.info.runtime, skipped }, why: new Map(), notes: [skipped] };
  }
  const changed = first.changed ?? [];
  if (changed.length === 0) {
    return { attempt: first, summary: { ...base, runtime, skipped: 'nothing changed' }, why: new Map(), notes: [] };
  }
  const budget = opts.maxTimeMs ?? 4000;
  const log = loggerOf(ctx);
  const feeds = await feedsByBatch(input, opts.batches, ctx);
  const batches = [...feeds.keys()];
  const rows: SpeedRegionRow[] = [];
  const notProfiled: number[] = [];
  const why = new Map<string, string>();
  let attempt = first;
  if (runtime === 'onnxruntime-node') {
    log.info(`speed guard: profiling the output against the float model per node at batch ${batches.join(' and ')} on ${target.name}`);
    const slow = new Map<string, RegionVerdict & { batch: number }>();
    for (const [batch, f] of feeds) {
      const [pf, pc] = await profileNodes([input, first.model], [f, f], { maxTimeMs: budget }, ctx);
      // An empty profile would judge every region 0 µs against 0 µs: "none slower" from no measurement.
      if (pf!.kernels.length === 0 || pc!.kernels.length === 0) {
        notProfiled.push(batch);
        log.warn(`speed guard: onnxruntime's profile held no kernel times at batch ${batch}; regions not judged there`);
        continue;
      }
      const regions = speedRegions(input.graph ?? {}, first.model.graph ?? {}, pf!.kernels, pc!.kernels, changed);
      for (const v of judgeRegions(regions.regions)) {
        if (v.region.changed.length === 0) continue;
        rows.push({ batch, nodes: v.region.changed, floatUs: v.floatUs, candidateUs: v.candidateUs, ratio: v.ratio, rolledBack: v.slower });
        if (v.slower) for (const n of v.region.changed) if (!slow.has(n)) slow.set(n, { ...v, batch });
      }
    }
    if (slow.size > 0) {
      const how = opts.floatCompute ? 'computed in float (int8 weights kept where the format has that form)' : 'left float';
      for (const [n, v] of slow) {
        why.set(
          n,
          `${how}: slower than float on ${target.name} (${fmtUs(v.candidateUs)} vs ${fmtUs(v.floatUs)} at batch ${v.batch}, profiled)`,
        );
      }
      attempt = await rerun(
        opts.floatCompute ? { floatCompute: [...slow.keys()], exclude: [] } : { floatCompute: [], exclude: [...slow.keys()] },
      );
    }
  }
  // The whole model, timed against the float model: what the regions did not see (layout reorders,
  // onnxruntime's own rewrites) shows here.
  const wholeRatio: Record<string, number> = {};
  let rolledBackAll = false;
  if ((attempt.changed ?? []).length > 0) {
    const rctx: Ctx = { ...ctx, runtime };
    // onnxruntime-web fixes its WASM threads once per process, from the first session's explicit count.
    const threads = ctx.threads !== undefined ? { threads: ctx.threads } : {};
    const a = await createSession(input, { label: 'float model', spinning: false, ...threads }, rctx);
    const b = await createSession(attempt.model, { label: 'output model', spinning: false, ...threads }, rctx);
    try {
      for (const [batch, f] of feeds) {
        const c = await compareLatency(a, b, f, f, { warmup: 3, runs: 60, maxTimeMs: budget }, rctx);
        wholeRatio[String(batch)] = c.ratio.p50;
        // Float compute keeps the int8 storage, so it is worth taking on any slowdown beyond noise.
        if (clearlySlower(c) || (opts.floatCompute === true && probablySlower(c))) rolledBackAll = true;
      }
    } finally {
      await a.release();
      await b.release();
    }
    if (rolledBackAll) {
      const left = (attempt.changed ?? []).map((c) => c.name);
      const how = opts.floatCompute ? 'computed in float (int8 weights kept where the format has that form)' : 'left float';
      for (const n of left) {
        why.set(
          n,
          `${how}: the output as a whole was slower than float on ${target.name} (p50 ratio ${Object.entries(wholeRatio)
            .map(([b, r]) => `${r.toFixed(2)}x at batch ${b}`)
            .join(', ')})`,
        );
      }
      attempt = await rerun(
        opts.floatCompute ? { floatCompute: [...why.keys()], exclude: [] } : { floatCompute: [], exclude: [...why.keys()] },
      );
    }
  }
  const rolledBack = [...why.keys()];
  const summary: SpeedSummary = {
    target: target.name,
    runtime,
    batches,
    regions: rows,
    rolledBack,
    wholeRatio,
    rolledBackAll,
    ...(opts.floatCompute ? { floatCompute: true } : {}),
    ...(notProfiled.length > 0 ? { notProfiled } : {}),
  };
  return { attempt, summary, why, notes: [speedNote(summary), ...regionNotes(rows)] };
}

/** The report line: what was compared, what was left float, and the whole-model ratio. */
export function speedNote(s: SpeedSummary): string {
  if (s.skipped) return s.skipped;
  const where = `${s.target} (${s.runtime}), batch ${s.batches.join(' and ')}`;
  const profiled = s.batches.filter((b) => !s.notProfiled?.includes(b));
  const perBatch = profiled.length > 0 ? s.regions.length / profiled.length : 0;
  const unmeasured = s.regions.filter(unprofiled).length;
  const compared =
    (s.regions.length > 0
      ? `${perBatch} changed regions profiled against float${unmeasured > 0 ? ` (${unmeasured} with no kernel time on either side, not judged)` : ''}; `
      : '') +
    (s.notProfiled && s.notProfiled.length > 0
      ? `onnxruntime's profile held no kernel times at batch ${s.notProfiled.join(' and ')}, so no region was judged there; `
      : '');
  const back =
    s.rolledBack.length === 0
      ? 'none slower, all kept'
      : s.rolledBackAll
        ? `ALL ${s.rolledBack.length} changed nodes ${s.floatCompute ? 'computed in float (int8 storage kept where the format has that form)' : 'left float'}: the output stayed slower than float`
        : `${s.rolledBack.length} changed nodes computed in float again as int8 was slower: ${s.rolledBack.slice(0, 4).join(', ')}${s.rolledBack.length > 4 ? ', ...' : ''}`;
  const ratio = Object.entries(s.wholeRatio)
    .map(([b, r]) => `${r.toFixed(2)}x at batch ${b}`)
    .join(', ');
  return `speed guard on ${where}: ${compared}${back}${ratio ? `; whole model vs float: ${ratio} (p50 of interleaved runs)` : ''}; --allow-slower keeps everything`;
}

/** A region with no kernel time on either side: the profile did not see it, so it was not judged. */
const unprofiled = (r: SpeedRegionRow): boolean => r.floatUs === 0 && r.candidateUs === 0;

/** Per-region time before and after, the slowest-ratio regions first (at most 8 lines). */
export function regionNotes(rows: readonly SpeedRegionRow[]): string[] {
  const shown = rows
    .filter((r) => !unprofiled(r))
    .sort((a, b) => b.ratio - a.ratio)
    .slice(0, 8);
  return shown.map(
    (r) =>
      `speed region ${r.nodes.slice(0, 3).join(', ')}${r.nodes.length > 3 ? ` (+${r.nodes.length - 3})` : ''} at batch ${r.batch}: float ${fmtUs(r.floatUs)}, quantized ${fmtUs(r.candidateUs)} (${Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : 'float fused it away'})${r.rolledBack ? ': rolled back' : ''}`,
  );
}
