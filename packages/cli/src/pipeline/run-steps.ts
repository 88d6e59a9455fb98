/**
 * Applies a list of steps to a model, saving each step's model into the output folder: the part of a
 * pipeline shared by `shrink run` and every trial of `shrink search` (which runs it in a worker thread).
 */
import path from 'node:path';
import { isShrinkError, loggerOf, ShrinkError, type Ctx, type LayerDetail, type onnx, type StepRecord } from '@shrink/core';
import { loadModel, saveModel } from '@shrink/core/io';
import { resolveSplit, type Dataset, type Split } from '@shrink/core/data';
import { DEFAULT_GRID_INTENSITY, powerModel } from '@shrink/core/runtime';
import type { PruneReport } from '@shrink/prune';
import { calibrationSpecOf, fineTunes, type Step } from './config-schema.js';
import type { PipelineData } from './load-config.js';
import { evalData } from '../data-arg.js';

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
  private trainSplit?: Promise<Split>;

  constructor(readonly data: PipelineData) {}

  eval(): Promise<Dataset | undefined> {
    this.evalSet ??= this.data.eval !== undefined ? evalData(this.data.eval, undefined, this.data.cwd).catch(naming('data.eval')) : Promise.resolve(undefined);
    return this.evalSet;
  }

  train(): Promise<Split> {
    // load-config refuses training steps without data.train.
    this.trainSplit ??= resolveSplit(this.data.train!, { cwd: this.data.cwd }).catch(naming('data.train'));
    return this.trainSplit;
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

export async function runSteps(model: onnx.ModelProto, steps: readonly Step[], datasets: PipelineDatasets, opts: RunStepsOptions, ctx: Ctx = {}): Promise<StepsRun> {
  const log = loggerOf(ctx);
  const records: StepRecord[] = [];
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
      out = await applyStep(current, step, datasets, ctx, opts.label !== undefined ? `${opts.label}: steps[${i}]` : `steps[${i}]`);
      const seconds = (performance.now() - t0) / 1000;
      record = {
        kind: step.kind,
        options: step.options as Record<string, unknown>,
        seconds,
        notes: out.notes,
        ...(out.trained ? { energy: trainingEnergy(seconds, opts.gridIntensity) } : {}),
      };
      opts.memo?.set(key, { out, record, label: opts.label ?? 'an earlier run' });
    }
    // `run` has no --force: core's advice to use it does not apply here.
    const s = await saveModel(out.model, file, { inputs: opts.inputs }).catch((e: unknown) => {
      if (isShrinkError(e) && e.message.endsWith(' or use --force')) throw new ShrinkError(e.code, `${e.message.slice(0, -' or use --force'.length)} (set output to another folder)`, { cause: e });
      throw e;
    });
    saved = { path: s.path, bytes: s.bytes + (s.externalDataBytes ?? 0), files: [s.path, ...(s.externalDataPath ? [s.externalDataPath] : [])] };
    all.push({ path: s.path, model: out.model, files: saved.files });
    if (!memo) computed.push({ key, path: s.path, record, notes: out.notes, layers: out.layers, trained: out.trained, label: opts.label ?? 'an earlier run' });
    mergeLayers(layers, out.layers);
    records.push({ ...record, notes: [...record.notes, `saved ${path.basename(s.path)}`] });
    current = out.model;
  }
  if (!saved) throw new Error('runSteps needs at least one step');
  return { model: current, path: saved.path, files: saved.files, diskBytes: saved.bytes, steps: records, layers: [...layers.values()], computed, saved: all };
}

export interface StepOutput {
  model: onnx.ModelProto;
  notes: string[];
  layers: LayerDetail[];
  /** The step trained a model (fine-tuning, distillation): its energy is reported. */
  trained: boolean;
}

/**
 * What a prune step reached. Structured pruning removes units rather than zeroing weights, so its zero
 * share is near 0 % whatever it did: it reports the units removed instead.
 */
export function pruneStepNote(report: Pick<PruneReport, 'method' | 'targetSparsity' | 'sparsity' | 'layers'>): string {
  const head = `${report.method}: target sparsity ${report.targetSparsity}`;
  const structured = report.layers.filter((l) => l.action === 'pruned' && l.unitsRemoved !== undefined);
  if (report.method === 'structured' || structured.length > 0) {
    const removed = structured.reduce((n, l) => n + (l.unitsRemoved ?? 0), 0);
    const total = structured.reduce((n, l) => n + (l.unitsRemoved ?? 0) + (l.unitsKept ?? 0), 0);
    return `${head}, removed ${removed} of ${total} units (${total > 0 ? ((removed / total) * 100).toFixed(1) : '0.0'}%) over ${structured.length} pruned layer(s)`;
  }
  return `${head}, reached ${(report.sparsity * 100).toFixed(1)}% over the pruned layers`;
}

async function applyStep(model: onnx.ModelProto, step: Step, datasets: PipelineDatasets, ctx: Ctx, where: string): Promise<StepOutput> {
  switch (step.kind) {
    case 'quantize': {
      const { quantizeModel, resolveCalibration, explainQuantization } = await import('@shrink/quantize/runtime');
      const { explain, ...options } = step.options;
      const calibSpec = options.mode === 'static' ? calibrationSpecOf(datasets.data, options.calibData) : undefined;
      const calibration = calibSpec !== undefined ? await resolveCalibration(calibSpec, model, { cwd: datasets.data.cwd }) : undefined;
      const r = await quantizeModel(model, options, calibration ? { calibration } : {}, ctx);
      const quantized = r.report.nodes.filter((n) => n.action === 'quantized').length;
      const notes = [`${r.report.dtype} ${r.report.mode}: ${quantized} of ${r.report.nodes.length} candidate nodes quantized`, ...r.report.notes];
      const byNode = new Map<string, LayerDetail>(
        r.report.nodes.map((n) => [n.name, { name: n.name, opType: n.opType, action: n.action === 'quantized' ? 'quantized' : `${n.action}${n.reason ? `: ${n.reason}` : ''}` }]),
      );
      const sample = (await datasets.eval()) ?? calibration;
      if (explain && sample) {
        try {
          for (const e of await explainQuantization(model, r.model, r.report, sample, { samples: 64 }, ctx)) {
            const row = byNode.get(e.node) ?? { name: e.node, opType: e.opType };
            // Infinity (identical outputs) has no JSON form; the action says the layer is there.
            if (Number.isFinite(e.sqnrDb)) row.sqnrDb = e.sqnrDb;
            byNode.set(e.node, row);
          }
        } catch (e) {
          notes.push(`per-layer SQNR not measured: ${(e as Error).message}`);
        }
      }
      return { model: r.model, notes, layers: [...byNode.values()], trained: false };
    }
    case 'prune': {
      const { pruneModel } = await import('@shrink/prune/runtime');
      const training = fineTunes(step.options);
      const { epochs, finetune, schedule, batchSize, lr, ...options } = step.options;
      const fineTune = training
        ? { ...(await datasets.train()), epochs: epochs ?? 3, ...(schedule ? { schedule } : {}), ...(batchSize ? { batchSize } : {}), ...(lr ? { lr } : {}) }
        : undefined;
      const r = await pruneModel(model, options, fineTune, ctx);
      const layers: LayerDetail[] = r.report.layers.map((l) => ({
        name: l.name,
        opType: l.opType,
        ...(l.sparsity !== undefined ? { sparsity: l.sparsity } : {}),
        action: l.action === 'pruned' ? (l.unitsRemoved !== undefined ? `pruned: ${l.unitsRemoved} units removed, ${l.unitsKept} kept` : 'pruned') : `skipped${l.reason ? `: ${l.reason}` : ''}`,
      }));
      return {
        model: r.model,
        notes: [pruneStepNote(r.report), ...r.report.notes],
        layers,
        trained: training,
      };
    }
    case 'distill': {
      const { distillModel } = await import('@shrink/distill/runtime');
      const split = await datasets.train();
      const r = await distillModel(model, step.options, { train: split.train, test: split.test }, {}, ctx).catch((e: unknown) => {
        // The pass speaks of its CLI flag; in a pipeline the value came from the config's key.
        if (isShrinkError(e) && e.message.startsWith('--student')) throw new ShrinkError(e.code, `${where}.distill.student${e.message.slice('--student'.length)}`, { cause: e });
        throw e;
      });
      r.student.dispose();
      return { model: r.model, notes: r.report.notes, layers: [], trained: true };
    }
  }
}
