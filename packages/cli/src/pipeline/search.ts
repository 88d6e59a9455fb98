/**
 * Accuracy-aware search (`shrink search`, or a `search:` block): every trial of the space runs in a
 * worker thread, every result is kept, and the smallest (or fastest) trial that passes every gate is the
 * answer, with the Pareto fronts of size and latency against accuracy.
 *
 * Latency measured by trials running side by side on a few cores is disturbed by the other trials, so
 * after the parallel part the main thread measures every successful trial again, alone and interleaved
 * with the baseline, and those numbers are the ones the gates, the objective and the fronts use.
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import {
  checkFloors,
  createReport,
  guardText,
  loggerOf,
  ShrinkError,
  type CandidateReport,
  type Ctx,
  type GateResult,
  type GuardResult,
  type MetricValue,
  type SearchRecord,
  type TrialRecord,
} from '@shrink/core';
import { loadModel } from '@shrink/core/io';
import { collectEnvironment, compareModels } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ensureDir } from '../paths.js';
import { evaluateGates } from './gates.js';
import type { PipelineConfig } from './load-config.js';
import { paretoFront } from './pareto.js';
import { configNotes, floorsOf, profileOptionsOf, trains, type PipelineResult } from './run-pipeline.js';
import { baselineUnderTest } from '../model-input.js';
import { PipelineDatasets } from './run-steps.js';
import { expandTrials } from './search-space.js';
import { runTrialsInWorkers } from './worker-pool.js';
import { writeReports } from './write-reports.js';
import { measuringCtx, pipelineTarget, reportTarget } from './pipeline-target.js';
import type { TrialOutcome } from './trial-worker.js';
import type { QueueRun, QueueSettings } from '../queue/queue-search.js';
import type { SearchSettings } from './config-schema.js';

export interface SearchOptions {
  workers?: number;
  objective?: 'size' | 'latency';
  /** Run the trials on `shrink worker` processes through this queue (`--queue`), instead of worker threads. */
  queue?: QueueSettings;
  /** Called with the queue's run (timings per trial) before the report is built; for benchmarks. */
  onQueueRun?: (run: QueueRun) => void;
}

/** `search.queue` of a config: a URL, or the URL with its settings. */
export function queueSettingsOf(q: SearchSettings['queue']): QueueSettings | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'string') return { url: q, from: 'search.queue' };
  return {
    url: q.url,
    from: 'search.queue.url',
    redisTimeout: q.redisTimeout,
    ...(q.store !== undefined ? { store: q.store } : {}),
    ...(q.timeBudget !== undefined ? { timeBudget: q.timeBudget } : {}),
  };
}

const OBJECTIVE_METRIC = { size: 'size.bytes', latency: 'latency.p50' } as const;

/** What the objective ranks: bytes on disk, or the paired latency ratio against the baseline. */
function objectiveValue(objective: 'size' | 'latency', metrics: Record<string, MetricValue>): number {
  const m = metrics[OBJECTIVE_METRIC[objective]];
  return (objective === 'size' ? m?.candidate : m?.ratio) ?? Infinity;
}

/** Trials passing every gate, best first for the objective (ties keep the space's order). */
export function rankPassing(trials: readonly TrialRecord[], objective: 'size' | 'latency'): TrialRecord[] {
  return trials.filter((r) => r.passed).sort((a, b) => objectiveValue(objective, a.metrics) - objectiveValue(objective, b.metrics));
}

/** Failed trials, one line per distinct error with the trials it stopped (a bad variant fails many alike). */
export function failedTrialsNotes(failed: ReadonlyArray<Pick<TrialRecord, 'name' | 'error'>>): string[] {
  const byError = new Map<string, string[]>();
  for (const r of failed) byError.set(r.error ?? 'no result', [...(byError.get(r.error ?? 'no result') ?? []), r.name]);
  return [...byError].map(([error, names]) => `${names.length} trial(s) failed to run (${names.join(', ')}): ${error}`);
}

export async function runSearch(config: PipelineConfig, ctx: Ctx = {}, opts: SearchOptions = {}): Promise<PipelineResult> {
  const log = loggerOf(ctx);
  const started = performance.now();
  const target = pipelineTarget(config.target);
  const objective = opts.objective ?? config.search?.objective ?? 'size';
  const queue = opts.queue ?? queueSettingsOf(config.search?.queue);
  let workers = opts.workers ?? config.search?.workers ?? Math.min(2, availableParallelism());
  const remeasure = config.search?.remeasure ?? true;
  // Model and data first: a wrong path must fail here, once, not in every worker.
  const input = await loadModelInput(config.model, ctx);
  const datasets = new PipelineDatasets(config.data);
  const evalSet = await datasets.eval();
  const feeds = await datasets.feeds();
  const trials = expandTrials(config);
  if (trials.some((t) => t.steps.some(trains))) await datasets.train();
  await ensureDir(config.output);
  const trialsDir = path.join(config.output, 'trials');
  await mkdir(trialsDir, { recursive: true });
  // Each worker gets its share of the cores for onnxruntime, so two workers do not fight over both.
  const threads = config.evaluation.threads ?? Math.max(1, Math.floor(availableParallelism() / workers));
  let outcomes: TrialOutcome[];
  const notes: string[] = [];
  if (queue) {
    // Loaded only here: a local search never loads BullMQ or ioredis.
    const { runTrialsOnQueue } = await import('../queue/queue-search.js');
    const run = await runTrialsOnQueue(trials, config, input, trialsDir, queue, log);
    opts.onQueueRun?.(run);
    outcomes = run.outcomes;
    workers = run.workers;
    notes.push(`search: ${trials.length} trials in ${((performance.now() - started) / 1000).toFixed(1)} s on a queue`, ...run.notes);
  } else {
    log.info(`search: ${trials.length} trials on ${workers} worker thread(s)`);
    outcomes = await runTrialsInWorkers(
      trials,
      workers,
      {
        model: config.model,
        data: config.data,
        outDir: trialsDir,
        threads,
        batch: config.evaluation.batch,
        evalBatch: config.evaluation.evalBatch,
        target: config.target,
        ...(config.grid.value !== undefined ? { gridIntensity: config.grid.value } : {}),
      },
      log,
    );
    const parallelSeconds = (performance.now() - started) / 1000;
    notes.push(
      `search: ${trials.length} trials in ${parallelSeconds.toFixed(1)} s on ${workers} worker thread(s) (${threads} onnxruntime thread(s) each)`,
    );
  }

  const ok = outcomes.filter((o) => o.error === undefined && o.path !== undefined);
  let measured = new Map<string, Record<string, MetricValue>>();
  if (remeasure && ok.length > 0) {
    log.info(`search: measuring ${ok.length} trial(s) again in the main thread, interleaved with the baseline`);
    const cmp = await compareModels(
      baselineUnderTest(input),
      await Promise.all(ok.map(async (o) => ({ name: o.name, model: await loadModel(o.path!), path: o.path!, diskBytes: o.diskBytes! }))),
      profileOptionsOf(config, evalSet, feeds ? { feeds } : {}),
      measuringCtx(ctx, target),
    );
    measured = new Map(cmp.report.candidates.map((c) => [c.name, c.metrics]));
    notes.push(
      "latency, throughput and energy: measured again after the parallel trials, in the main thread, each trial interleaved with the baseline (trials running side by side disturb each other's timing)",
    );
  } else if (ok.length > 0) {
    notes.push(
      `latency, throughput and energy: measured inside the worker threads while ${workers} trials ran side by side (5 pairs each): disturbed, compare with care`,
    );
  }

  const guards = new Map<string, GuardResult>();
  const records: TrialRecord[] = outcomes.map((o) => {
    const trial = trials.find((t) => t.name === o.name)!;
    const config_ = trial.steps.map((s) => ({ [s.kind]: s.options }));
    if (o.error !== undefined || !o.metrics) {
      return {
        name: o.name,
        config: config_,
        metrics: {},
        passed: false,
        failedGates: [],
        seconds: o.seconds,
        error: o.error ?? 'no result',
      };
    }
    const metrics = measured.get(o.name) ?? o.metrics;
    const gates = evaluateGates(config.gates, { name: o.name, metrics });
    // A trial whose model fails the fidelity guard is never a candidate, whatever the gates say.
    const guard = checkFloors(metrics, floorsOf(config), { synthetic: evalSet === undefined && feeds === undefined });
    guards.set(o.name, guard);
    const failed = [
      ...(guard.passed ? [] : [`fidelity guard: ${guardText(guard)}`]),
      ...gates.filter((g) => !g.passed).map((g) => g.expression),
    ];
    return { name: o.name, config: config_, metrics, passed: failed.length === 0, failedGates: failed, seconds: o.seconds };
  });
  const best = rankPassing(records, objective)[0];
  const successful = records.filter((r) => r.error === undefined);
  const front = (metric: string, field: 'candidate' | 'ratio') =>
    paretoFront(
      successful.map((r) => ({ name: r.name, cost: r.metrics[metric]?.[field] ?? NaN, quality: r.metrics['accuracy']?.candidate ?? NaN })),
    );
  const pareto: Record<string, string[]> = {};
  if (successful.some((r) => r.metrics['accuracy'] !== undefined)) {
    pareto['size.bytes/accuracy'] = front('size.bytes', 'candidate');
    pareto['latency.p50/accuracy'] = front('latency.p50', 'ratio');
  } else {
    notes.push('no accuracy (data.eval not given): no Pareto fronts');
  }
  const failedTrials = records.filter((r) => r.error !== undefined);
  if (failedTrials.length > 0) notes.push(...failedTrialsNotes(failedTrials));
  if (!config.search?.space)
    notes.push(
      'search space: the built-in one (structured pruning 0/25/50 %, q8, q8 per-channel, q8 static, q4, fp16); distillation is tried only when search.space.distill lists students',
    );

  // Candidates: the best first, then the other successful trials by the objective.
  const byName = new Map(outcomes.map((o) => [o.name, o]));
  const ordered = [
    ...(best ? [best] : []),
    ...successful.filter((r) => r !== best).sort((a, b) => objectiveValue(objective, a.metrics) - objectiveValue(objective, b.metrics)),
  ];
  const candidates: CandidateReport[] = ordered.map((r) => {
    const o = byName.get(r.name)!;
    return {
      name: r.name,
      path: o.path!,
      metrics: r.metrics,
      notes: [
        r === best
          ? `best: ${objective === 'size' ? 'smallest' : 'fastest'} trial passing every gate`
          : r.passed
            ? 'passes every gate'
            : `fails: ${r.failedGates.join('; ')}`,
      ],
      ...(o.steps ? { steps: o.steps } : {}),
      ...(o.layers && o.layers.length ? { layers: o.layers } : {}),
      ...(guards.has(r.name) ? { guard: guards.get(r.name)! } : {}),
      ...(o.kernels ? { kernels: o.kernels } : {}),
    };
  });

  const report = createReport({
    baseline: { name: path.basename(input.path), ...(input.onnxPath ? { path: input.onnxPath } : {}) },
    candidates,
    environment: collectEnvironment(config.evaluation.threads !== undefined ? { threads: config.evaluation.threads } : {}),
    notes: [
      ...(evalSet
        ? [`data: ${evalSet.name} (${evalSet.n} samples)`]
        : feeds
          ? [`data.eval: inputs from ${feeds.file}; no accuracy (no labels)`]
          : ['no data.eval: no accuracy; fidelity on synthetic inputs']),
      ...notes,
      ...configNotes(config),
    ],
  });
  const search: SearchRecord = {
    objective: `${objective === 'size' ? 'smallest size.bytes' : 'lowest latency.p50 ratio'} among trials passing every gate`,
    trials: records,
    ...(best ? { best: best.name } : {}),
    pareto,
    workers,
    seconds: (performance.now() - started) / 1000,
  };
  report.search = search;
  report.target = reportTarget(target, config.evaluation.threads, ctx);
  if (config.gates.length > 0) {
    // The best trial's gates; when none passed, every trial's, so the failures say what each one missed.
    report.gates = best
      ? evaluateGates(config.gates, { name: best.name, metrics: best.metrics })
      : successful.length > 0
        ? successful.flatMap((r) => evaluateGates(config.gates, { name: r.name, metrics: r.metrics }))
        : config.gates.map((g): GateResult => ({
            expression: g.expression,
            candidate: '(no trial)',
            passed: false,
            values: {},
            error: 'every trial failed to run',
          }));
  }
  const failed = best ? [] : (report.gates ?? []).filter((g) => !g.passed);
  const files = await writeReports(report, config.output);
  if (successful.length === 0) {
    throw new ShrinkError(
      'RUNTIME',
      `search: every trial failed to run (first: ${failedTrials[0]?.name}: ${failedTrials[0]?.error}); report in ${config.output}`,
    );
  }
  return { report, failed, files };
}
