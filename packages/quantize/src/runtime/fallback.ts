/**
 * `--max-accuracy-drop`: accuracy-aware fallback, as Intel Neural Compressor's accuracy-aware tuning
 * does it — quantize, measure, and while the task metric dropped too far, keep the node that hurts most
 * in float and quantize again.
 */
import { Graph, loggerOf, parseOptions, ShrinkError, type Ctx, type onnx } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { createSession, evaluate, type EvaluateResult, type SessionOptions } from '@shrink/core/runtime';
import { quantizeOptionsSchema, type QuantizeOptions } from '../options.js';
import type { NodeOutcome, PassResult } from '../types.js';
import { explainQuantization, type LayerError } from './explain.js';
import { findNode } from './find-node.js';
import { quantizeModel, type QuantizeEnv } from './quantize-model.js';

export interface FallbackStep {
  /** Nodes kept float in this attempt (all so far). */
  excluded: string[];
  /** Task metric of the attempt: accuracy (classification) or MSE (regression). */
  metric: number;
}

export interface FallbackSummary {
  /** Metric of the float model. */
  baseline: number;
  /** Metric of the returned model. */
  final: number;
  /** One entry per re-quantization (none when the first attempt was within the limit). */
  steps: FallbackStep[];
  keptFloat: string[];
  /** Whether the returned model is within maxDrop. */
  met: boolean;
}

export type FallbackResult = PassResult & { fallback: FallbackSummary };

export interface FallbackOptions {
  /** Re-quantizations at most; default: until no quantized node is left. */
  maxSteps?: number;
  /** Samples explainQuantization compares when ranking nodes. Default 64. */
  explainSamples?: number;
  /** Samples per onnxruntime run while evaluating and explaining. */
  batch?: number;
  session?: SessionOptions;
}

const metricOf = (r: EvaluateResult): number => (r.task === 'classification' ? r.accuracy : r.mse);

/** The drop the limit applies to: accuracy points lost, or the relative MSE increase. */
function dropOf(task: EvaluateResult['task'], baseline: number, metric: number): number {
  if (task === 'classification') return baseline - metric;
  if (baseline === 0) return metric === 0 ? 0 : Infinity;
  return (metric - baseline) / baseline;
}

/**
 * What ranks a node for fallback: the SQNR of its replacement alone (fed the float inputs), else its
 * trace SQNR. The trace includes upstream error, so ranking by it would blame the nodes after the culprit.
 */
const ownSqnr = (row: LayerError): number => row.localSqnrDb ?? row.sqnrDb;

const fmtDb = (db: number) => (db === Infinity ? 'identical' : `${db.toFixed(1)} dB`);
const fmtMetric = (task: EvaluateResult['task'], v: number) => (task === 'classification' ? `accuracy ${(v * 100).toFixed(2)}%` : `MSE ${v.toPrecision(4)}`);

/**
 * Quantizes `model` (as quantizeModel) and, while the task metric on `evalData` drops by more than
 * `maxDrop` from the float model's, keeps one more node float and quantizes again from the original
 * float model (never on top of a quantized one). The node kept float each step is the quantized node
 * whose replacement alone has the lowest SQNR in explainQuantization (its localSqnrDb). Stops when
 * within the limit, when no quantized node is left, or after `maxSteps`; `fallback.met` says which.
 *
 * maxDrop: for classification, accuracy lost as a fraction (0.01 = one point); for regression, the
 * relative MSE increase (0.05 = 5% higher MSE). Nodes kept float are marked 'kept-float' in the report.
 */
export async function quantizeWithFallback(
  model: onnx.IModelProto,
  options: QuantizeOptions,
  env: QuantizeEnv,
  evalData: Dataset,
  maxDrop: number,
  opts: FallbackOptions = {},
  ctx?: Ctx,
): Promise<FallbackResult> {
  if (typeof maxDrop !== 'number' || Number.isNaN(maxDrop) || maxDrop < 0) {
    throw new ShrinkError('INVALID_ARGUMENT', `must be a number >= 0 (e.g. 0.01 for one accuracy point), got ${maxDrop}`, { option: 'maxAccuracyDrop' });
  }
  const maxSteps = opts.maxSteps ?? Infinity;
  if (maxSteps !== Infinity && (!Number.isInteger(maxSteps) || maxSteps < 0)) {
    throw new ShrinkError('INVALID_ARGUMENT', `fallback maxSteps must be an integer >= 0, got ${maxSteps}`);
  }
  // Invalid options fail here, before the float model is evaluated.
  const userExclude = parseOptions(quantizeOptionsSchema, options, 'quantize').exclude ?? [];
  const log = loggerOf(ctx);
  const evalOpts = opts.batch !== undefined ? { batch: opts.batch } : {};
  const measure = async (m: onnx.IModelProto, label: string): Promise<EvaluateResult> => {
    const session = await createSession(m, { label, ...opts.session }, ctx);
    try {
      return await evaluate(session, evalData, evalOpts, ctx);
    } finally {
      await session.release();
    }
  };

  const base = await measure(model, 'float model');
  const task = base.task;
  const baseline = metricOf(base);
  // Exclusion works by node name: unnamed nodes are named (in a copy) the first time one must be kept float.
  let float: onnx.IModelProto = model;
  const keptFloat: string[] = [];
  const why = new Map<string, string>();
  const steps: FallbackStep[] = [];
  const attempt = async (): Promise<{ result: PassResult; metric: number }> => {
    const exclude = [...userExclude, ...keptFloat];
    const result = await quantizeModel(float, { ...options, ...(exclude.length > 0 ? { exclude } : {}) }, env, ctx);
    return { result, metric: metricOf(await measure(result.model, 'quantized model')) };
  };

  let { result, metric } = await attempt();
  let stopReason: string | undefined;
  while (dropOf(task, baseline, metric) > maxDrop) {
    if (steps.length >= maxSteps) {
      stopReason = `stopped after ${maxSteps} step(s) (maxSteps)`;
      break;
    }
    const rows = await explainQuantization(
      float,
      result.model,
      result.report,
      evalData,
      { ...(opts.explainSamples !== undefined ? { samples: opts.explainSamples } : {}), ...evalOpts, ...(opts.session ? { session: opts.session } : {}) },
      ctx,
    );
    const pick = pickWorst(result.report.nodes, rows, new Set(keptFloat));
    if (!pick) {
      stopReason = 'no quantized node is left to keep float';
      break;
    }
    const named = nameNode(float, pick.node);
    float = named.model;
    const drop = dropOf(task, baseline, metric);
    keptFloat.push(named.name);
    why.set(
      named.name,
      `accuracy fallback: kept float at step ${steps.length + 1} (${describeDrop(task, drop)} > ${describeDrop(task, maxDrop)}; ${pick.detail})`,
    );
    log.info(`accuracy fallback: keeping '${named.name}' float (${pick.detail})`);
    ({ result, metric } = await attempt());
    steps.push({ excluded: [...keptFloat], metric });
  }

  const finalDrop = dropOf(task, baseline, metric);
  const met = finalDrop <= maxDrop;
  const report = { ...result.report, nodes: result.report.nodes.map((n) => markKept(n, why)), notes: [...result.report.notes] };
  const summary = `accuracy fallback: float ${fmtMetric(task, baseline)}, quantized ${fmtMetric(task, metric)} on ${evalData.name} (${describeDrop(task, finalDrop)}, limit ${describeDrop(task, maxDrop)})`;
  if (met) {
    report.notes.push(`${summary}; ${keptFloat.length === 0 ? 'no node needed to stay float' : `${keptFloat.length} node(s) kept float: ${keptFloat.join(', ')}`}`);
  } else {
    report.notes.push(`${summary}: the limit is NOT met — ${stopReason ?? 'no step was possible'}; ${keptFloat.length} node(s) kept float`);
    log.warn(report.notes[report.notes.length - 1]!);
  }
  return { model: result.model, report, fallback: { baseline, final: metric, steps, keptFloat, met } };
}

function describeDrop(task: EvaluateResult['task'], d: number): string {
  return task === 'classification' ? `drop ${(d * 100).toFixed(2)} points` : `MSE +${(d * 100).toFixed(2)}%`;
}

/** The quantized node with the worst error of its own, with a few words on why; undefined when none is quantized. */
function pickWorst(nodes: readonly NodeOutcome[], rows: readonly LayerError[], kept: ReadonlySet<string>): { node: string; detail: string } | undefined {
  // A node already kept float that still reports 'quantized' would be picked forever: never twice.
  const candidate = (n: NodeOutcome) => n.action === 'quantized' && n.name !== '' && !kept.has(n.name);
  const quantized = new Set(nodes.filter(candidate).map((n) => n.name));
  let best: LayerError | undefined;
  for (const row of rows) {
    if (!row.comparable || !quantized.has(row.node)) continue;
    if (!best || ownSqnr(row) < ownSqnr(best) || (ownSqnr(row) === ownSqnr(best) && row.sqnrDb < best.sqnrDb)) best = row;
  }
  if (best) {
    const own = best.localSqnrDb === undefined ? '' : `, ${fmtDb(best.localSqnrDb)} on float inputs`;
    return { node: best.node, detail: `output '${best.output}' SQNR ${fmtDb(best.sqnrDb)} in the quantized model${own}` };
  }
  // Nothing comparable (outputs renamed or folded away): keep the first quantized node, in graph order.
  const first = nodes.find(candidate);
  return first ? { node: first.name, detail: 'no per-layer comparison available; first quantized node' } : undefined;
}

/**
 * The node labelled `label` (a name, or the first output of an unnamed node, as the passes label them)
 * with a name --exclude can match: the same model when it has one, else a copy where it is named.
 */
function nameNode(model: onnx.IModelProto, label: string): { model: onnx.IModelProto; name: string } {
  const probe = Graph.from(model);
  const node = findNode(probe, label);
  if (!node) throw new ShrinkError('NOT_FOUND', `accuracy fallback: the report names node '${label}', which is not in the float model`);
  if (node.name !== '') return { model, name: label };
  const name = probe.uniqueNodeName(label);
  probe.editNode(node, (n) => {
    n.name = name;
  });
  return { model: probe.toModel(), name };
}

function markKept(n: NodeOutcome, why: ReadonlyMap<string, string>): NodeOutcome {
  const reason = why.get(n.name);
  if (reason === undefined) return n;
  const { replacedBy: _r, weights: _w, ...rest } = n;
  return { ...rest, action: 'kept-float', reason };
}
