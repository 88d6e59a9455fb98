/**
 * `shrink run`: the input model through the config's steps, baseline vs final candidate measured with
 * the evaluation settings, gates evaluated, and every model and report written to the output folder.
 */
import { rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  DEFAULT_FLOORS,
  DegradedModelError,
  loggerOf,
  ShrinkError,
  type Ctx,
  type FidelityFloors,
  type GateResult,
  type GuardFailure,
  type Report,
  withUnmetLimits,
} from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { checkAgainstBaseline, compareModels, evaluateLm, type FeedsSource, type ProfileOptions } from '@shrink/core/runtime';
import type { TokenRows } from '@shrink/core/data';
import { addLmRows, lmOptions, lmTokens } from '../commands/lm-flags.js';
import { baselineUnderTest, loadModelInput, type ModelInput } from '../model-input.js';
import { ensureDir, removeOnFailure } from '../paths.js';
import { evaluateGates } from './gates.js';
import type { Step } from './config-schema.js';
import { passOf } from '../registry.js';
import type { PipelineConfig } from './load-config.js';
import { PipelineDatasets, runSteps, type StepsRun } from './run-steps.js';
import { writeReports } from './write-reports.js';
import { DEFAULT_RUNS, LATENCY_BUDGET_MS } from '../measure-options.js';
import { kernelsOn, measuringCtx, passCtx, pipelineTarget, reportTarget } from './pipeline-target.js';

export interface PipelineResult {
  report: Report;
  /** Gates that did not hold (empty when all passed or none were given). */
  failed: GateResult[];
  /** Reports written (json, md, html, txt). */
  files: string[];
}

/** The measurement settings of a config, as core's compare/profile functions take them. */
export function profileOptionsOf(
  config: PipelineConfig,
  data: Dataset | undefined,
  overrides: Partial<ProfileOptions> = {},
): ProfileOptions {
  const e = config.evaluation;
  return {
    batch: e.batch,
    evalBatch: e.evalBatch,
    ...(e.runs !== undefined ? { runs: e.runs } : { runs: DEFAULT_RUNS, maxTimeMs: LATENCY_BUDGET_MS }),
    warmup: e.warmup,
    ...(e.threads !== undefined ? { threads: e.threads } : {}),
    ...(config.grid.value !== undefined ? { gridIntensity: config.grid.value } : {}),
    ...(data ? { data } : {}),
    floors: floorsOf(config),
    ...overrides,
  };
}

/** The config's fidelity floors over the defaults. */
export function floorsOf(config: PipelineConfig): FidelityFloors {
  return { ...DEFAULT_FLOORS, ...config.evaluation.floors };
}

/** The config's evaluation.lm tokens (paths relative to the config's folder), read before any step runs. */
export async function pipelineLmTokens(config: PipelineConfig): Promise<TokenRows | undefined> {
  const lm = config.evaluation.lm;
  if (lm === undefined) return undefined;
  const at = (f: string | undefined) => (f !== undefined ? path.resolve(config.data.cwd, f) : undefined);
  return lmTokens({ tokens: at(lm.tokens), text: at(lm.text), tokenizer: at(lm.tokenizer) }).catch(lmConfigError);
}

/** An LM error naming its option as the config's key (evaluation.lm.tokens), not as a flag. */
function lmConfigError(e: unknown): never {
  if (!(e instanceof ShrinkError) || e.option === undefined) throw e;
  throw new ShrinkError(e.code, e.detail, { cause: e, subject: `evaluation.lm.${e.option}` });
}

/** Notes every pipeline report carries: where the config and the grid intensity came from. */
export function configNotes(config: PipelineConfig): string[] {
  return [`config: ${config.file}`, ...(config.grid.source ? [`grid intensity: ${config.grid.source}`] : [])];
}

export async function runPipeline(config: PipelineConfig, ctx: Ctx = {}): Promise<PipelineResult> {
  if (config.search) {
    const { runSearch } = await import('./search.js');
    return runSearch(config, ctx);
  }
  const log = loggerOf(ctx);
  const target = pipelineTarget(config.target);
  // Model and data first: a wrong path must fail before any folder is made or any step trains.
  const input = await loadModelInput(config.model, ctx);
  const datasets = new PipelineDatasets(config.data);
  const evalSet = await datasets.eval();
  const feeds = await datasets.feeds();
  if (config.steps.some(trains)) await datasets.train();
  const lmData = await pipelineLmTokens(config);
  const existed = await stat(config.output).then(
    () => true,
    () => false,
  );
  await ensureDir(config.output);
  // A step that fails, or a final model that cannot be measured (onnxruntime rejects it, it computes NaN),
  // fails the run; only the models of the steps before it stay (docs/pipelines.md), and a folder this run
  // made is removed when nothing is left in it (rmdir refuses a non-empty one).
  const measured = async () => {
    const run = await runSteps(
      input.model,
      config.steps,
      datasets,
      {
        outDir: config.output,
        inputs: input.inputs,
        target,
        allowDegraded: config.evaluation.allowDegraded,
        ...(config.grid.value !== undefined ? { gridIntensity: config.grid.value } : {}),
      },
      passCtx(ctx, target),
    );
    log.info(`measuring baseline vs candidate (target ${config.target})`);
    const cmp = await removeOnFailure(run.files, () =>
      compareModels(
        baselineUnderTest(input),
        [{ name: path.basename(run.path), model: run.model, path: run.path, diskBytes: run.diskBytes }],
        profileOptionsOf(config, evalSet, feeds ? { feeds } : {}),
        measuringCtx(ctx, target),
      ),
    );
    if (lmData) {
      const lm = await removeOnFailure(run.files, () =>
        evaluateLm(
          [
            { model: input.onnxPath ?? input.model, label: input.path },
            { model: run.path, label: run.path },
          ],
          lmData,
          lmOptions({ ...config.evaluation.lm, threads: config.evaluation.threads }),
          ctx,
        ).catch(lmConfigError),
      );
      addLmRows(cmp.report.candidates[0]!, lm, floorsOf(config));
    }
    return { run, cmp };
  };
  const { run, cmp } = await measured().catch(async (e: unknown) => {
    if (!existed) await rmdir(config.output).catch(() => undefined);
    throw e;
  });
  const report = cmp.report;
  const cand = report.candidates[0]!;
  // Only with allowDegraded: a step that missed its own limit otherwise failed the run already.
  const guard = withUnmetLimits(cand.guard, run.unmet);
  if (guard) cand.guard = guard;
  if (cand.guard && !cand.guard.passed && !config.evaluation.allowDegraded) {
    await refuseDegradedStep(input, run, cand.guard.failures, { evalSet, feeds }, config, measuringCtx(ctx, target)).catch(
      async (e: unknown) => {
        if (!existed) await rmdir(config.output).catch(() => undefined);
        throw e;
      },
    );
  }
  cand.steps = run.steps;
  if (run.layers.length > 0) cand.layers = run.layers;
  cand.notes = [config.steps.map((s) => s.kind).join(' -> '), ...run.steps.flatMap((s) => s.notes.map((n) => `${s.kind}: ${n}`))];
  cand.kernels = kernelsOn(run.model, target);
  report.target = reportTarget(target, config.evaluation.threads, ctx);
  report.notes.push(...configNotes(config));
  return finish(report, config);
}

/**
 * The final model fails the fidelity guard: finds the first step whose model does (each step's saved model
 * against the baseline, fidelity only), removes that step's model and the ones after it, as for a step
 * that fails, and throws naming the step.
 */
async function refuseDegradedStep(
  input: ModelInput,
  run: StepsRun,
  finalFailures: readonly GuardFailure[],
  { evalSet, feeds }: { evalSet: Dataset | undefined; feeds: FeedsSource | undefined },
  config: PipelineConfig,
  ctx: Ctx,
): Promise<never> {
  const floors = floorsOf(config);
  const threads = config.evaluation.threads;
  for (const [i, saved] of run.saved.entries()) {
    const last = i === run.saved.length - 1;
    const [guard] = last
      ? [undefined]
      : await checkAgainstBaseline(
          baselineUnderTest(input),
          [{ name: path.basename(saved.path), model: saved.model, path: saved.path }],
          {
            ...(evalSet ? { data: evalSet } : {}),
            ...(feeds ? { feeds } : {}),
            floors,
            evalBatch: config.evaluation.evalBatch,
            ...(threads !== undefined ? { threads } : {}),
          },
          ctx,
        );
    if (guard?.passed) continue;
    for (const later of run.saved.slice(i)) for (const f of later.files) await rm(f, { force: true });
    throw new DegradedModelError(
      path.basename(saved.path),
      guard?.failures ?? finalFailures,
      `steps[${i}].${config.steps[i]!.kind}`,
      'its model and those after it were removed',
    );
  }
  throw new Error('unreachable: the final model failed the guard');
}

/** Whether a step trains on data.train (its data is then loaded before any step runs). */
export function trains(s: Step): boolean {
  return passOf(s.kind).needs(s.options).train === true;
}

/** Gates against the first candidate, then the four report files. */
export async function finish(report: Report, config: PipelineConfig): Promise<PipelineResult> {
  const cand = report.candidates[0];
  if (config.gates.length > 0) report.gates = cand ? evaluateGates(config.gates, cand) : [];
  const failed = (report.gates ?? []).filter((g) => !g.passed);
  const files = await writeReports(report, config.output);
  return { report, failed, files };
}
