/**
 * The report model: one object that every renderer (table, JSON, later Markdown/HTML) and every gate
 * reads. Plain data only, so it serializes as is and can be built in a browser.
 */
import { ShrinkError } from '../errors.js';
import type { GuardResult } from './guard.js';

export const REPORT_SCHEMA = 'shrink.report/v1';

export type Better = 'lower' | 'higher';

/**
 * Units the renderers know how to humanize. `fraction` is a 0..1 share shown as a percentage
 * (accuracy, agreement, sparsity); its deltas are shown in percentage points. Any other string is
 * printed verbatim after the number.
 */
export type KnownUnit = 'bytes' | 'count' | 'ms' | 'samples/s' | 'fraction' | '%' | 'J' | 'kWh' | 'gCO2e' | 'x' | '';
export type Unit = KnownUnit | (string & {});

/** One metric of one candidate against the baseline. */
export interface MetricValue {
  baseline?: number;
  candidate?: number;
  /** candidate - baseline, when both are known. */
  delta?: number;
  /** candidate / baseline, when both are known and the baseline is not 0; or a paired ratio measured directly. */
  ratio?: number;
  unit: Unit;
  better: Better;
  /** How the number was produced, e.g. "interleaved A/B, 50 pairs, batch 1" or "cpu-power-model, 85 W/socket". */
  method?: string;
}

export interface ModelRef {
  name: string;
  path?: string;
}

export interface CandidateReport extends ModelRef {
  /** Metric key (see METRICS for the common ones) -> row. */
  metrics: Record<string, MetricValue>;
  notes?: string[];
  /** The passes that made this candidate, in order (pipelines). */
  steps?: StepRecord[];
  /** Per-layer detail for charts: quantization error, sparsity, what a pass did to each layer. */
  layers?: LayerDetail[];
  /** The fidelity guard against the baseline (report/guard.ts); absent when it was not applied. */
  guard?: GuardResult;
  /** The kernel each quantized op type reaches on the report's target (kernelPaths in core/target). */
  kernels?: KernelRow[];
}

/** One quantized (or float16) op type of a candidate and the kernel it runs on the target. */
export interface KernelRow {
  opType: string;
  /** The form that decides the path, e.g. 'u8 x s8', 'int8 weights', 'QDQ u8 x s8', '4-bit blocks, accuracy_level 4'. */
  form: string;
  /** Nodes of that op type and form. */
  count: number;
  /** The kernel in words, e.g. 'MLAS u8s8 GEMM, VPDPBUSD (int32 sums)'. */
  path: string;
  /** Where the claim comes from (a probe, an onnxruntime source file, an issue). */
  source: string;
}

/**
 * Where the model is meant to run (--target, a config's `target:`) and whether the numbers were measured
 * there: a latency ratio from onnxruntime-node on an AVX512-VNNI machine says little about WebGPU.
 */
export interface TargetReport {
  /** The target asked for: cpu, cpu-x86-avx2, ..., wasm, webgpu. */
  name: string;
  /** The cpu-* target `cpu` stood for on this machine. */
  resolved?: string;
  /** The runtime the target means: onnxruntime-node, onnxruntime-web-wasm or onnxruntime-web-webgpu. */
  runtime: string;
  /** That runtime's package version (onnxruntime-node's or onnxruntime-web's). */
  runtimeVersion?: string;
  /** This machine's ISA as onnxruntime's int8 kernels use it (avx2, avx512-vnni, arm64-dotprod, ...). */
  isa: string;
  /** Intra-op threads the target's sessions used; absent when onnxruntime chose (one per physical core). */
  threads?: number;
  /** Whether latency and fidelity were measured in the target's runtime on this machine. */
  measured: boolean;
  /** The same in words, e.g. 'NOT measured on webgpu: no adapter under Node; ...'. */
  measurement: string;
}

/** One pass of a pipeline as it ran. */
export interface StepRecord {
  /** 'quantize' | 'prune' | 'distill' (or any later pass). */
  kind: string;
  /** Options as given (after defaults). */
  options: Record<string, unknown>;
  seconds: number;
  notes: string[];
  /** Energy of the step itself (training/distillation runs), with the method that estimated it. */
  energy?: { joules: number; kWh: number; gCO2e: number; method: string };
}

export interface LayerDetail {
  name: string;
  opType?: string;
  /** Signal-to-quantization-noise ratio of this layer's output vs the float model, dB. */
  sqnrDb?: number;
  /** Share of zero weights, 0..1. */
  sparsity?: number;
  /** What the pass did ('quantized', 'pruned', 'skipped: reason', ...). */
  action?: string;
}

/** One gate expression evaluated against one candidate. */
export interface GateResult {
  expression: string;
  candidate: string;
  passed: boolean;
  /** The metric values the expression read, by name (e.g. 'accuracy.delta' -> -0.004). */
  values: Record<string, number | null>;
  /** Why it could not be evaluated (a missing metric); such a gate fails. */
  error?: string;
}

/** One trial of an accuracy-aware search. */
export interface TrialRecord {
  name: string;
  /** The steps tried, as in a config file. */
  config: Record<string, unknown>[];
  metrics: Record<string, MetricValue>;
  passed: boolean;
  failedGates: string[];
  seconds: number;
  error?: string;
}

export interface SearchRecord {
  /** What "best" means, e.g. 'smallest size.bytes among trials passing every gate'. */
  objective: string;
  trials: TrialRecord[];
  /** Name of the chosen trial, if any passed. */
  best?: string;
  /** Trial names on the Pareto front, per pair of axes, e.g. { 'size.bytes/accuracy': [...] }. */
  pareto: Record<string, string[]>;
  workers: number;
  seconds: number;
}

/** Where the numbers were measured; free-form beyond the common fields. */
export interface Environment {
  shrink?: string;
  node?: string;
  platform?: string;
  arch?: string;
  cpuModel?: string;
  /** Instruction set onnxruntime's int8 kernels use here (avx2, avx512-vnni, arm64-dotprod, ...): int8 accuracy and speed ratios depend on it. */
  isa?: string;
  /** How those kernels sum uint8 x int8 products (e.g. 'VPMADDUBSW (saturating int16 pair sums)'). */
  int8Kernels?: string;
  logicalCores?: number;
  /** Intra-op threads the sessions used. */
  threads?: number;
  onnxruntime?: string;
  [key: string]: string | number | boolean | undefined;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  /** ISO 8601 time the report was built. */
  createdAt: string;
  baseline: ModelRef;
  candidates: CandidateReport[];
  environment: Environment;
  notes: string[];
  /** Gate results (pipelines); absent when no gates were given. */
  gates?: GateResult[];
  /** Accuracy-aware search trials (pipelines with a search block / `shrink search`). */
  search?: SearchRecord;
  /** Where the candidates are meant to run and whether they were measured there (absent in older reports). */
  target?: TargetReport;
}

/**
 * A metric that came out NaN or ±Infinity (a model computing non-finite outputs, mostly): which metric
 * and which side, so the caller that knows the models can name the one at fault.
 */
export class NonFiniteMetricError extends ShrinkError {
  constructor(
    readonly metric: string | undefined,
    readonly side: 'baseline' | 'candidate' | 'ratio',
    readonly value: number,
  ) {
    super('INVALID_ARGUMENT', `metric ${metric ? `'${metric}' ` : ''}of the ${side} is ${value}; a report holds finite numbers or nothing`);
  }
}

function finiteOrUndefined(v: number | undefined, side: NonFiniteMetricError['side'], key: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v)) throw new NonFiniteMetricError(key, side, v);
  return v;
}

/**
 * A metric row with delta and ratio computed from baseline and candidate. Either side may be missing
 * (then delta and ratio are too); a 0 baseline leaves the ratio undefined rather than Infinity or NaN.
 * `opts.ratio` replaces the computed ratio when a better estimate exists (e.g. a paired latency ratio).
 */
export function metricRow(
  baseline: number | undefined,
  candidate: number | undefined,
  unit: Unit,
  better: Better,
  opts: { method?: string; ratio?: number; key?: string } = {},
): MetricValue {
  const b = finiteOrUndefined(baseline, 'baseline', opts.key);
  const c = finiteOrUndefined(candidate, 'candidate', opts.key);
  const row: MetricValue = { unit, better };
  if (b !== undefined) row.baseline = b;
  if (c !== undefined) row.candidate = c;
  if (b !== undefined && c !== undefined) {
    row.delta = c - b;
    if (b !== 0) row.ratio = c / b;
  }
  const r = finiteOrUndefined(opts.ratio, 'ratio', opts.key);
  if (r !== undefined) row.ratio = r;
  if (opts.method !== undefined) row.method = opts.method;
  return row;
}

export type Verdict = 'better' | 'worse' | 'same';

/**
 * Whether the candidate improved on the baseline for this metric; undefined when either side is missing.
 * A ratio measured on its own (latency: the median of interleaved per-pair ratios) can disagree in
 * direction with the difference of the two medians; then the difference is within noise: 'same'.
 */
export function verdict(m: MetricValue): Verdict | undefined {
  if (m.delta === undefined) return undefined;
  if (m.delta === 0) return 'same';
  if (m.ratio !== undefined && m.baseline !== undefined && m.baseline > 0 && (m.ratio - 1) * m.delta <= 0) return 'same';
  return m.delta < 0 === (m.better === 'lower') ? 'better' : 'worse';
}

/**
 * A row's verdict as a candidate's table shows it: a metric the fidelity guard failed on is 'worse',
 * and nothing is 'better' beside a model that failed the guard or that the guard could not judge (a
 * smaller file is no gain when the model may be broken).
 */
export function candidateVerdict(c: Pick<CandidateReport, 'metrics' | 'guard'>, key: string): Verdict | undefined {
  const m = c.metrics[key];
  if (m === undefined) return undefined;
  if (c.guard?.failures.some((f) => f.metric === key)) return 'worse';
  const v = verdict(m);
  return v === 'better' && c.guard !== undefined && (!c.guard.passed || c.guard.unjudged !== undefined) ? undefined : v;
}

export interface MetricDef {
  readonly label: string;
  readonly unit: Unit;
  readonly better: Better;
}

/**
 * The metric keys Shrink itself reports, in display order. Passes, the CLI and gates use these keys so a
 * gate like `latency.p50: { maxRatio: 0.8 }` means the same thing everywhere.
 */
export const METRICS = {
  'size.bytes': { label: 'Size', unit: 'bytes', better: 'lower' },
  'size.gzipBytes': { label: 'Size (gzip)', unit: 'bytes', better: 'lower' },
  params: { label: 'Parameters', unit: 'count', better: 'lower' },
  'params.nonzero': { label: 'Non-zero parameters', unit: 'count', better: 'lower' },
  macs: { label: 'MACs / sample', unit: 'count', better: 'lower' },
  'latency.p50': { label: 'Latency p50', unit: 'ms', better: 'lower' },
  'latency.p90': { label: 'Latency p90', unit: 'ms', better: 'lower' },
  'latency.p99': { label: 'Latency p99', unit: 'ms', better: 'lower' },
  throughput: { label: 'Throughput', unit: 'samples/s', better: 'higher' },
  accuracy: { label: 'Accuracy (top-1)', unit: 'fraction', better: 'higher' },
  mse: { label: 'MSE', unit: '', better: 'lower' },
  mae: { label: 'MAE', unit: '', better: 'lower' },
  'fidelity.top1Agreement': { label: 'Top-1 agreement', unit: 'fraction', better: 'higher' },
  'fidelity.maxAbsError': { label: 'Max abs error', unit: '', better: 'lower' },
  'fidelity.meanAbsError': { label: 'Mean abs error', unit: '', better: 'lower' },
  'fidelity.relativeL2': { label: 'Relative L2 error', unit: '', better: 'lower' },
  'fidelity.cosineSimilarity': { label: 'Cosine similarity', unit: '', better: 'higher' },
  'fidelity.meanKL': { label: 'Mean KL(baseline || candidate)', unit: 'nats', better: 'lower' },
  'lm.perplexity': { label: 'Perplexity', unit: '', better: 'lower' },
  'lm.meanKL': { label: 'Next-token KL(baseline || candidate)', unit: 'nats', better: 'lower' },
  'lm.top1Agreement': { label: 'Next-token top-1 agreement', unit: 'fraction', better: 'higher' },
  'energy.perInference': { label: 'Energy / inference', unit: 'J', better: 'lower' },
  'energy.kWhPerMillion': { label: 'Energy / 1M inferences', unit: 'kWh', better: 'lower' },
  'co2e.perMillion': { label: 'CO2e / 1M inferences', unit: 'gCO2e', better: 'lower' },
} as const satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof METRICS;

/** `metricRow` for a key of METRICS, taking its unit and direction from there. */
export function metric(
  key: MetricKey,
  baseline: number | undefined,
  candidate: number | undefined,
  opts: { method?: string; ratio?: number } = {},
): MetricValue {
  const def: MetricDef = METRICS[key];
  return metricRow(baseline, candidate, def.unit, def.better, { ...opts, key });
}

/** Metric keys in display order: the METRICS order first, then any others alphabetically. */
export function orderedMetricKeys(metrics: Readonly<Record<string, unknown>>): string[] {
  const known = Object.keys(METRICS).filter((k) => k in metrics);
  const rest = Object.keys(metrics)
    .filter((k) => !(k in METRICS))
    .sort();
  return [...known, ...rest];
}

export function createReport(init: {
  baseline: ModelRef;
  candidates?: CandidateReport[];
  environment?: Environment;
  notes?: string[];
  createdAt?: Date | string;
}): Report {
  const at = init.createdAt ?? new Date();
  return {
    schema: REPORT_SCHEMA,
    createdAt: typeof at === 'string' ? at : at.toISOString(),
    baseline: { ...init.baseline },
    candidates: init.candidates ?? [],
    environment: init.environment ?? {},
    notes: init.notes ?? [],
  };
}
