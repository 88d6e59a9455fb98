/**
 * The accuracy fallback any pass can use, as Intel Neural Compressor's accuracy-aware tuning does it:
 * run the pass, measure, and while the task metric dropped too far, leave the node that hurts most as
 * it was and run the pass again from the original model (never on top of its own output).
 */
import { loggerOf, type Ctx } from '../context.js';
import type { Dataset } from '../data/dataset.js';
import { ShrinkError } from '../errors.js';
import type { GuardFailure } from '../report/guard.js';
import { findNode } from '../onnx/find-node.js';
import { Graph } from '../onnx/graph.js';
import type { onnx } from '../onnx/proto.js';
import { evaluate, type EvaluateResult } from './evaluate.js';
import { layerErrors, type LayerError } from './layer-errors.js';
import { createSession, type SessionOptions } from './session.js';

export interface FallbackStep {
  /** Nodes left as they were in this attempt (all so far). */
  excluded: string[];
  /** Task metric of the attempt: accuracy (classification) or MSE (regression). */
  metric: number;
}

export interface FallbackSummary {
  /** Metric of the original model. */
  baseline: number;
  /** Metric of the returned model. */
  final: number;
  /** One entry per re-run (none when the first attempt was within the limit). */
  steps: FallbackStep[];
  keptFloat: string[];
  /** Whether the returned model is within maxDrop. */
  met: boolean;
}

export interface FallbackSettings {
  /** Re-runs at most; default: until no changed node is left. */
  maxSteps?: number;
  /** Samples the per-layer comparison reads when ranking nodes. Default 64. */
  explainSamples?: number;
  /** Samples per onnxruntime run while evaluating and comparing. */
  batch?: number;
  session?: SessionOptions;
  /** How the report words the two models and a kept node (quantization: 'float', 'quantized', kept 'float'). */
  words?: { original: string; candidate: string; kept: string };
}

/** One run of the pass: its model and the nodes it changed, labelled as its report labels them. */
export interface FallbackAttempt {
  model: onnx.ModelProto;
  changed: ReadonlyArray<{ name: string; opType: string }>;
}

export interface FallbackOutcome<A extends FallbackAttempt> {
  attempt: A;
  fallback: FallbackSummary;
  /** Why each node was left as it was, by the name the pass was told. */
  why: ReadonlyMap<string, string>;
  /** One line for the report: the metric before and after, and what was kept. */
  note: string;
  /** Set when the returned model is beyond the limit: front ends refuse it as degraded (no silent misses). */
  unmet?: GuardFailure;
}

const metricOf = (r: EvaluateResult): number => (r.task === 'classification' ? r.accuracy : r.mse);

/** The drop the limit applies to: accuracy points lost, or the relative MSE increase. */
function dropOf(task: EvaluateResult['task'], baseline: number, metric: number): number {
  if (task === 'classification') return baseline - metric;
  if (baseline === 0) return metric === 0 ? 0 : Infinity;
  return (metric - baseline) / baseline;
}

function describeDrop(task: EvaluateResult['task'], d: number): string {
  return task === 'classification' ? `drop ${(d * 100).toFixed(2)} points` : `MSE +${(d * 100).toFixed(2)}%`;
}

const fmtDb = (db: number) => (db === Infinity ? 'identical' : `${db.toFixed(1)} dB`);
const fmtMetric = (task: EvaluateResult['task'], v: number) =>
  task === 'classification' ? `accuracy ${(v * 100).toFixed(2)}%` : `MSE ${v.toPrecision(4)}`;

/**
 * What ranks a node: the error of its replacement alone (fed the original inputs), else its trace error.
 * The trace includes upstream error, so ranking by it would blame the nodes after the culprit.
 */
const ownSqnr = (row: LayerError): number => row.localSqnrDb ?? row.sqnrDb;

/** The changed node with the worst error of its own, with a few words on why; undefined when none is left. */
function pickWorst(
  changed: FallbackAttempt['changed'],
  rows: readonly LayerError[],
  kept: ReadonlySet<string>,
): { node: string; detail: string } | undefined {
  // A node already kept that the pass still reports as changed would be picked forever: never twice.
  const candidate = (n: { name: string }) => n.name !== '' && !kept.has(n.name);
  const open = new Set(changed.filter(candidate).map((n) => n.name));
  let best: LayerError | undefined;
  for (const row of rows) {
    if (!row.comparable || !open.has(row.node)) continue;
    if (!best || ownSqnr(row) < ownSqnr(best) || (ownSqnr(row) === ownSqnr(best) && row.sqnrDb < best.sqnrDb)) best = row;
  }
  if (best) {
    const own = best.localSqnrDb === undefined ? '' : `, ${fmtDb(best.localSqnrDb)} on the original inputs`;
    return { node: best.node, detail: `output '${best.output}' SQNR ${fmtDb(best.sqnrDb)} in the candidate${own}` };
  }
  // Nothing comparable (outputs renamed, shapes changed): the first changed node, in the pass's order.
  const first = changed.find(candidate);
  return first ? { node: first.name, detail: 'no per-layer comparison available; first changed node' } : undefined;
}

/**
 * The node labelled `label` (a name, or the first output of an unnamed node, as passes label them) with a
 * name an exclude list can match: the same model when it has one, else a copy where it is named.
 */
function nameNode<M extends onnx.IModelProto>(model: M, label: string): { model: M | onnx.ModelProto; name: string } {
  const probe = Graph.from(model);
  const node = findNode(probe, label);
  if (!node) throw new ShrinkError('NOT_FOUND', `accuracy fallback: the pass reports node '${label}', which is not in the original model`);
  if (node.name !== '') return { model, name: label };
  const name = probe.uniqueNodeName(label);
  probe.editNode(node, (n) => {
    n.name = name;
  });
  return { model: probe.toModel(), name };
}

/**
 * What a fallback keeps within a limit: the original model's value, a candidate's, how far a candidate is
 * from the original (compared with `limit`), and the words its notes use.
 */
export interface FallbackObjective {
  /** 'accuracy fallback', 'fidelity fallback': the first words of its notes. */
  readonly what: string;
  /** The key of a limit it did not meet in the guard's failures ('fallback.accuracy', 'fallback.cosine'). */
  readonly key: string;
  readonly baseline: number;
  measure(model: onnx.IModelProto): Promise<number>;
  /** How far `metric` is from the baseline; more than `limit` is too far. */
  distance(metric: number): number;
  readonly limit: number;
  /** "accuracy 91.20%"; "drop 1.10 points". */
  formatMetric(metric: number): string;
  formatDistance(distance: number): string;
  /** Where it was measured, for the summary ("on digits-test", "on 8 synthetic samples in onnxruntime-web"). */
  readonly where: string;
}

/**
 * Runs `attempt(model, keep)` — the pass, told to leave the nodes in `keep` alone — and while the task
 * metric on `evalData` drops by more than `maxDrop` from the original model's, adds the changed node whose
 * own output error is worst to `keep` and runs it again. Stops when within the limit, when no changed
 * node is left, or after `maxSteps`; `fallback.met` says which.
 *
 * maxDrop: for classification, accuracy lost as a fraction (0.01 = one point); for regression, the
 * relative MSE increase (0.05 = 5 % higher MSE).
 */
export async function withAccuracyFallback<A extends FallbackAttempt, M extends onnx.IModelProto>(
  model: M,
  attempt: (from: M | onnx.ModelProto, keep: readonly string[]) => Promise<A>,
  evalData: Dataset,
  maxDrop: number,
  settings: FallbackSettings = {},
  ctx?: Ctx,
): Promise<FallbackOutcome<A>> {
  if (typeof maxDrop !== 'number' || Number.isNaN(maxDrop) || maxDrop < 0) {
    throw new ShrinkError('INVALID_ARGUMENT', `must be a number >= 0 (e.g. 0.01 for one accuracy point), got ${maxDrop}`, {
      option: 'maxAccuracyDrop',
    });
  }
  checkMaxSteps(settings);
  const evalOpts = settings.batch !== undefined ? { batch: settings.batch } : {};
  const measure = async (m: onnx.IModelProto, label: string): Promise<EvaluateResult> => {
    const session = await createSession(m, { label, ...settings.session }, ctx);
    try {
      return await evaluate(session, evalData, evalOpts, ctx);
    } finally {
      await session.release();
    }
  };
  const base = await measure(model, 'original model');
  const task = base.task;
  const baseline = metricOf(base);
  const objective: FallbackObjective = {
    what: 'accuracy fallback',
    key: 'fallback.accuracy',
    baseline,
    measure: async (m) => metricOf(await measure(m, 'candidate model')),
    distance: (metric) => dropOf(task, baseline, metric),
    limit: maxDrop,
    formatMetric: (v) => fmtMetric(task, v),
    formatDistance: (d) => describeDrop(task, d),
    where: `on ${evalData.name}`,
  };
  return withFallback(model, attempt, objective, evalData, settings, ctx);
}

function checkMaxSteps(settings: FallbackSettings): void {
  const maxSteps = settings.maxSteps ?? Infinity;
  if (maxSteps !== Infinity && (!Number.isInteger(maxSteps) || maxSteps < 0)) {
    throw new ShrinkError('INVALID_ARGUMENT', `fallback maxSteps must be an integer >= 0, got ${maxSteps}`);
  }
}

/**
 * The loop every fallback runs: the pass, then while `objective` is beyond its limit, the changed node
 * with the worst error of its own (per-layer comparison on `rankData`) is left alone and the pass runs
 * again from the original model.
 */
export async function withFallback<A extends FallbackAttempt, M extends onnx.IModelProto>(
  model: M,
  attempt: (from: M | onnx.ModelProto, keep: readonly string[]) => Promise<A>,
  objective: FallbackObjective,
  rankData: Dataset,
  settings: FallbackSettings = {},
  ctx?: Ctx,
): Promise<FallbackOutcome<A>> {
  checkMaxSteps(settings);
  const maxSteps = settings.maxSteps ?? Infinity;
  const log = loggerOf(ctx);
  const words = settings.words ?? { original: 'original', candidate: 'candidate', kept: 'as it was' };
  const evalOpts = settings.batch !== undefined ? { batch: settings.batch } : {};
  // Exclusion works by node name: unnamed nodes are named (in a copy) the first time one must be kept.
  let original: M | onnx.ModelProto = model;
  const kept: string[] = [];
  const why = new Map<string, string>();
  const steps: FallbackStep[] = [];
  const run = async (): Promise<{ a: A; metric: number }> => {
    const a = await attempt(original, [...kept]);
    return { a, metric: await objective.measure(a.model) };
  };
  const tooFar = (metric: number) => !(objective.distance(metric) <= objective.limit);

  let { a, metric } = await run();
  let stopReason: string | undefined;
  while (tooFar(metric)) {
    if (steps.length >= maxSteps) {
      stopReason = `stopped after ${maxSteps} step(s) (maxSteps)`;
      break;
    }
    const rows = await layerErrors(
      original,
      a.model,
      a.changed,
      rankData,
      {
        ...(settings.explainSamples !== undefined ? { samples: settings.explainSamples } : {}),
        ...evalOpts,
        ...(settings.session ? { session: settings.session } : {}),
      },
      ctx,
    );
    const pick = pickWorst(a.changed, rows, new Set(kept));
    if (!pick) {
      stopReason = `no changed node is left to keep ${words.kept}`;
      break;
    }
    const named: { model: M | onnx.ModelProto; name: string } = nameNode(original, pick.node);
    original = named.model;
    kept.push(named.name);
    why.set(
      named.name,
      `${objective.what}: kept ${words.kept} at step ${steps.length + 1} (${objective.formatDistance(objective.distance(metric))} > ${objective.formatDistance(objective.limit)}; ${pick.detail})`,
    );
    log.info(`${objective.what}: keeping '${named.name}' ${words.kept} (${pick.detail})`);
    ({ a, metric } = await run());
    steps.push({ excluded: [...kept], metric });
  }

  const met = !tooFar(metric);
  const distance = objective.formatDistance(objective.distance(metric));
  const summary = `${objective.what}: ${words.original} ${objective.formatMetric(objective.baseline)}, ${words.candidate} ${objective.formatMetric(metric)} ${objective.where} (${distance}, limit ${objective.formatDistance(objective.limit)})`;
  const note = met
    ? `${summary}; ${kept.length === 0 ? `no node needed to stay ${words.kept}` : `${kept.length} node(s) kept ${words.kept}: ${kept.join(', ')}`}`
    : `${summary}: the limit is NOT met — ${stopReason ?? 'no step was possible'}; ${kept.length} node(s) kept ${words.kept}`;
  // No warning here: `unmet` makes every front end refuse the model, in its own words.
  const unmet: GuardFailure | undefined = met
    ? undefined
    : {
        metric: objective.key,
        value: objective.distance(metric),
        floor: objective.limit,
        text: `${objective.what} limit not met ${objective.where}: ${distance} > ${objective.formatDistance(objective.limit)} (${stopReason ?? 'no step was possible'})`,
      };
  return {
    attempt: a,
    fallback: { baseline: objective.baseline, final: metric, steps, keptFloat: kept, met },
    why,
    note,
    ...(unmet ? { unmet } : {}),
  };
}
