/**
 * Applies a list of steps to a model, saving each step's model into the output folder: the part of a
 * pipeline shared by `shrink run` and every trial of `shrink search` (which runs it in a worker thread).
 */
import path from 'node:path';
import {
  DegradedModelError,
  isShrinkError,
  loggerOf,
  renameOption,
  ShrinkError,
  type Ctx,
  type GuardFailure,
  type LayerDetail,
  type onnx,
  type PassData,
  type StepRecord,
} from '@shrink/core';
import { loadModel, saveModel } from '@shrink/core/io';
import { resolveSplit, type Dataset, type Split } from '@shrink/core/data';
import { DEFAULT_GRID_INTENSITY, powerModel, runPass, type FeedsSource } from '@shrink/core/runtime';
import { calibrationSpecOf, type Step } from './config-schema.js';
import { passOf } from '../registry.js';
import type { PipelineData } from './load-config.js';
import { evalData, isFeedsArg } from '../data-arg.js';
import { browserNotes, targetNotes, type TargetChoice } from '../target-flag.js';

/** Errors of loading a config's data name the key they came from. */
function naming(key: string): (e: unknown) => never {
  return (e) => {
    if (isShrinkError(e)) throw new ShrinkError(e.code, `${key}: ${e.message}`, { cause: e });
    throw e;
  };
}

/** Datasets a pipeline reads, each loaded once on first use. */
export class PipelineDatasets {
  private evalSet?: Promise<Dataset | undefined>;
  private feedsSource?: Promise<FeedsSource | undefined>;
  private trainSplit?: Promise<Split>;

  constructor(readonly data: PipelineData) {}

  eval(): Promise<Dataset | undefined> {
    this.evalSet ??= this.feeds().then((f) =>
      this.data.eval !== undefined && f === undefined
        ? evalData(this.data.eval, undefined, this.data.cwd).catch(naming('data.eval'))
        : undefined,
    );
    return this.evalSet;
  }

  /** data.eval when it is a feeds file (model inputs by name, no labels): what comparisons measure on. */
  feeds(): Promise<FeedsSource | undefined> {
    const spec = this.data.eval;
    this.feedsSource ??=
      spec === undefined
        ? Promise.resolve(undefined)
        : isFeedsArg(spec, this.data.cwd).then((yes) => (yes ? { file: path.resolve(this.data.cwd, spec) } : undefined));
    return this.feedsSource;
  }

  train(): Promise<Split> {
    // load-config refuses training steps without data.train.
    this.trainSplit ??= resolveSplit(this.data.train!, { cwd: this.data.cwd }).catch(naming('data.train'));
    return this.trainSplit;
  }

  /** The data as passes ask for it; the calibration default is data.calibration, else data.train, else data.eval. */
  passData(): PassData {
    const spec = calibrationSpecOf(this.data);
    return {
      ...(spec !== undefined ? { calibrationSpec: spec } : {}),
      train: () => this.train(),
      eval: () => this.eval(),
      cwd: this.data.cwd,
    };
  }
}

export interface StepsRun {
  model: onnx.ModelProto;
  /** The last step's saved model. */
  path: string;
  /** The last step's files (model, external data): a run whose final model fails to measure removes them. */
  files: string[];
  diskBytes: number;
  steps: StepRecord[];
  layers: LayerDetail[];
  /** Step prefixes this run computed (not reused), with the file each was saved to: other threads can reuse them. */
  computed: SharedStep[];
  /** Every step's saved model, in order: the fidelity guard finds which step broke a model among them. */
  saved: Array<{ path: string; model: onnx.ModelProto; files: string[] }>;
  /** Limits steps were asked to hold and missed, kept because degraded models are allowed (else a step throws). */
  unmet: GuardFailure[];
}

/** A computed step prefix as another thread can reuse it: the model is read back from `path`. */
export interface SharedStep {
  key: string;
  path: string;
  record: StepRecord;
  notes: string[];
  layers: LayerDetail[];
  trained: boolean;
  label: string;
}

/** The memo entry of a prefix another thread computed and saved. */
export async function memoFromShared(s: SharedStep): Promise<StepMemo> {
  const model = await loadModel(s.path);
  return { out: { model, notes: s.notes, layers: s.layers, trained: s.trained }, record: s.record, label: s.label };
}

/** The key of the first `n` steps in a memo. */
export function prefixKey(steps: readonly Step[], n: number): string {
  return JSON.stringify(steps.slice(0, n));
}

export interface RunStepsOptions {
  /** Folder the step models go to. */
  outDir: string;
  /** File name prefix: `<prefix><n>-<kind>.onnx`. */
  prefix?: string;
  /** Files no output may replace (the input model and its data). */
  inputs: readonly string[];
  gridIntensity?: number;
  /**
   * Results of step prefixes already run in this thread, by the steps' JSON: a search's trials share
   * prefixes (the same fine-tuned pruning under q8, q4, fp16...), and the passes are deterministic, so
   * the prefix is computed once. `label` names this run in the reused steps' notes.
   */
  memo?: Map<string, StepMemo>;
  label?: string;
  /**
   * Where the model will run: every step's output is checked against its op table (a form it rejects fails
   * the step, naming the node; risks become step notes). The passes see it through ctx.target.
   */
  target?: TargetChoice;
  /**
   * A step whose model misses a limit it was asked to hold (maxAccuracyDrop, a fidelity floor) fails the
   * run unless this is set; then the misses are kept in `unmet` for the report's guard.
   */
  allowDegraded?: boolean;
}

export interface StepMemo {
  out: StepOutput;
  record: StepRecord;
  label: string;
}

/**
 * Energy of a training run by the CPU power model (TensorFlow.js keeps every core busy while training):
 * the same constants as the inference figures, times the wall time.
 */
export function trainingEnergy(seconds: number, gridIntensity = DEFAULT_GRID_INTENSITY): NonNullable<StepRecord['energy']> {
  const power = powerModel();
  const joules = power.watts * seconds;
  const kWh = joules / 3.6e6;
  return {
    joules,
    kWh,
    gCO2e: kWh * gridIntensity,
    method: `cpu-power-model: ${power.note} = ${Number(power.watts.toPrecision(4))} W × ${seconds.toFixed(1)} s wall time; CO2e at ${gridIntensity} g/kWh`,
  };
}

function mergeLayers(into: Map<string, LayerDetail>, layers: readonly LayerDetail[]): void {
  for (const l of layers) into.set(l.name, { ...into.get(l.name), ...l });
}

export async function runSteps(
  model: onnx.ModelProto,
  steps: readonly Step[],
  datasets: PipelineDatasets,
  opts: RunStepsOptions,
  ctx: Ctx = {},
): Promise<StepsRun> {
  const log = loggerOf(ctx);
  const records: StepRecord[] = [];
  const unmet: GuardFailure[] = [];
  const layers = new Map<string, LayerDetail>();
  const computed: SharedStep[] = [];
  let current = model;
  let saved: { path: string; bytes: number; files: string[] } | undefined;
  const all: StepsRun['saved'] = [];
  for (const [i, step] of steps.entries()) {
    const file = path.join(opts.outDir, `${opts.prefix ?? 'step'}${i + 1}-${step.kind}.onnx`);
    const key = prefixKey(steps, i + 1);
    const memo = opts.memo?.get(key);
    let out: StepOutput;
    let record: StepRecord;
    if (memo) {
      log.info(`step ${i + 1}/${steps.length}: ${step.kind} (same as in ${memo.label}, reused)`);
      out = memo.out;
      record = { ...memo.record, notes: [...memo.record.notes, `computed once for ${memo.label} and reused (same steps so far)`] };
    } else {
      log.info(`step ${i + 1}/${steps.length}: ${step.kind}`);
      const t0 = performance.now();
      out = await applyStep(
        current,
        step,
        datasets,
        ctx,
        opts.label !== undefined ? `${opts.label}: steps[${i}]` : `steps[${i}]`,
        opts.target,
        opts.allowDegraded === true,
      );
      const seconds = (performance.now() - t0) / 1000;
      record = {
        kind: step.kind,
        options: step.options,
        seconds,
        notes: out.notes,
        ...(out.trained ? { energy: trainingEnergy(seconds, opts.gridIntensity) } : {}),
      };
      opts.memo?.set(key, { out, record, label: opts.label ?? 'an earlier run' });
    }
    // `run` has no --force: a save refused over an input points at the config's output folder instead.
    const s = await saveModel(out.model, file, { inputs: opts.inputs }).catch((e: unknown) => {
      if (isShrinkError(e) && e.option === 'force')
        throw new ShrinkError(e.code, `${e.detail} (set output to another folder)`, { cause: e });
      throw e;
    });
    saved = {
      path: s.path,
      bytes: s.bytes + (s.externalDataBytes ?? 0),
      files: [s.path, ...(s.externalDataPath ? [s.externalDataPath] : [])],
    };
    all.push({ path: s.path, model: out.model, files: saved.files });
    if (!memo)
      computed.push({
        key,
        path: s.path,
        record,
        notes: out.notes,
        layers: out.layers,
        trained: out.trained,
        label: opts.label ?? 'an earlier run',
      });
    mergeLayers(layers, out.layers);
    unmet.push(...(out.unmet ?? []));
    records.push({ ...record, notes: [...record.notes, `saved ${path.basename(s.path)}`] });
    current = out.model;
  }
  if (!saved) throw new Error('runSteps needs at least one step');
  return {
    model: current,
    path: saved.path,
    files: saved.files,
    diskBytes: saved.bytes,
    steps: records,
    layers: [...layers.values()],
    computed,
    saved: all,
    unmet,
  };
}

export interface StepOutput {
  model: onnx.ModelProto;
  notes: string[];
  layers: LayerDetail[];
  /** The step trained a model (fine-tuning, distillation): its energy is reported. */
  trained: boolean;
  /** Limits the step was asked to hold and missed, each naming the step (only when degraded models are allowed). */
  unmet?: readonly GuardFailure[];
}

/**
 * A step through its registered pass: options already parsed by the pass's schema; errors name the step's
 * keys. With a target, the output is checked against its op table: the first line of targetNotes (where
 * the model is measured) is the report's `target`, so a step keeps only the findings.
 */
async function applyStep(
  model: onnx.ModelProto,
  step: Step,
  datasets: PipelineDatasets,
  ctx: Ctx,
  where: string,
  target: TargetChoice | undefined,
  allowDegraded: boolean,
): Promise<StepOutput> {
  const pass = passOf(step.kind);
  let out: Awaited<ReturnType<typeof runPass>>;
  try {
    out = await runPass(pass, model, step.options, { data: datasets.passData(), ctx });
  } catch (e) {
    throw renameOption(e, (option) => `${where}.${step.kind}.${option}`);
  }
  // What a pass holds besides the model (a trained tfjs student) is not kept by a pipeline.
  out.dispose?.();
  if (out.unmet && out.unmet.length > 0 && !allowDegraded)
    throw new DegradedModelError(`the ${step.kind} step's model`, out.unmet, `${where}.${step.kind}`, 'it was not saved');
  const onTarget = target ? targetNotes(out.model, target, `${where}.${step.kind}`).slice(1) : [];
  // wasm/webgpu: the step's output beside its input in Chromium; below the browser floor the run stops
  // (with allowDegraded it goes on, the miss kept for the report's guard).
  const browser = target
    ? await browserNotes(target, model, out.model, `${where}.${step.kind}`, allowDegraded, ctx, (await datasets.feeds())?.file)
    : undefined;
  if (browser) onTarget.push(...browser.notes);
  const unmet = [...(out.unmet ?? []), ...(browser?.unmet ?? [])].map((f) => ({
    ...f,
    text: `${where}.${step.kind}: ${f.text}`,
  }));
  return {
    model: out.model,
    notes: [...out.notes, ...onTarget],
    layers: out.layers,
    trained: out.trained,
    ...(unmet.length > 0 ? { unmet } : {}),
  };
}
