/**
 * A search worker thread: loads the input model and the data once, then runs the trials the main thread
 * posts, one at a time, and posts each result back. Latency measured here is disturbed by the other
 * workers; the main thread measures it again (see search.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CandidateReport, Ctx, MetricValue, TargetName } from '@shrink/core';
import { compareModels } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import type { Step } from './config-schema.js';
import type { PipelineData } from './load-config.js';
import { baselineUnderTest } from '../model-input.js';
import { memoFromShared, PipelineDatasets, runSteps, type SharedStep, type StepMemo } from './run-steps.js';
import { kernelsOn, measuringCtx, passCtx, pipelineTarget } from './pipeline-target.js';

export interface WorkerSetup {
  model: string;
  data: PipelineData;
  outDir: string;
  threads: number;
  gridIntensity?: number;
  evalBatch: number;
  batch: number;
  /** The config's `target:`; the worker detects its CPU and builds the context itself. */
  target: TargetName;
}

export interface TrialJob {
  name: string;
  steps: Step[];
  /** Prefixes of these steps other workers already computed and saved. */
  known?: SharedStep[];
}

export interface TrialOutcome {
  name: string;
  seconds: number;
  path?: string;
  diskBytes?: number;
  metrics?: Record<string, MetricValue>;
  steps?: CandidateReport['steps'];
  layers?: CandidateReport['layers'];
  /** The kernel each quantized op type of the trial's model reaches on the target. */
  kernels?: CandidateReport['kernels'];
  /** Prefixes this trial computed, for the other workers. */
  computed?: SharedStep[];
  error?: string;
}

export type WorkerMessage =
  { type: 'ready' } | { type: 'done'; outcome: TrialOutcome } | { type: 'log'; level: 'info' | 'warn'; msg: string };

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const ctx: Ctx = {
  threads: setup.threads,
  logger: {
    debug() {},
    info: (msg) => post({ type: 'log', level: 'info', msg }),
    warn: (msg) => post({ type: 'log', level: 'warn', msg }),
  },
};

const target = pipelineTarget(setup.target);
const input = await loadModelInput(setup.model, ctx);
const datasets = new PipelineDatasets(setup.data);
const evalSet = await datasets.eval();
const feeds = await datasets.feeds();
const memo = new Map<string, StepMemo>();

async function runTrial(job: TrialJob): Promise<TrialOutcome> {
  const t0 = performance.now();
  try {
    for (const k of job.known ?? []) if (!memo.has(k.key)) memo.set(k.key, await memoFromShared(k));
    const run = await runSteps(
      input.model,
      job.steps,
      datasets,
      {
        outDir: setup.outDir,
        prefix: `${job.name}-step`,
        inputs: input.inputs,
        memo,
        label: job.name,
        target,
        ...(setup.gridIntensity !== undefined ? { gridIntensity: setup.gridIntensity } : {}),
      },
      passCtx(ctx, target),
    );
    // Few latency runs: these numbers are replaced by the main thread's interleaved measurement.
    const cmp = await compareModels(
      baselineUnderTest(input),
      [{ name: job.name, model: run.model, path: run.path, diskBytes: run.diskBytes }],
      {
        runs: 5,
        warmup: 1,
        batch: setup.batch,
        evalBatch: setup.evalBatch,
        ...(evalSet ? { data: evalSet } : {}),
        ...(feeds ? { feeds } : {}),
        ...(setup.gridIntensity !== undefined ? { gridIntensity: setup.gridIntensity } : {}),
      },
      measuringCtx(ctx, target),
    );
    return {
      name: job.name,
      seconds: (performance.now() - t0) / 1000,
      path: run.path,
      diskBytes: run.diskBytes,
      metrics: cmp.report.candidates[0]!.metrics,
      steps: run.steps,
      layers: run.layers,
      kernels: kernelsOn(run.model, target),
      computed: run.computed,
    };
  } catch (e) {
    return { name: job.name, seconds: (performance.now() - t0) / 1000, error: e instanceof Error ? e.message : String(e) };
  }
}

port.on('message', (job: TrialJob) => {
  void runTrial(job).then((outcome) => post({ type: 'done', outcome }));
});
post({ type: 'ready' });
