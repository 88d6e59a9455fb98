/**
 * The report as versioned JSON with a fixed key order, so two reports of the same numbers are
 * byte-identical and diff cleanly; `parseReport` reads one back (e.g. a stored baseline report for a gate).
 */
import { z } from 'zod';
import { ShrinkError } from '../errors.js';
import { optionsJsonSchema, parseOptions } from '../options.js';
import type { GuardResult } from './guard.js';
import {
  REPORT_SCHEMA,
  orderedMetricKeys,
  type CandidateReport,
  type Environment,
  type GateResult,
  type KernelRow,
  type LayerDetail,
  type MetricValue,
  type ModelRef,
  type Report,
  type SearchRecord,
  type StepRecord,
  type TargetReport,
  type TrialRecord,
} from './report.js';

/** Copies `keys` of `obj` in that order, leaving out undefined values. */
function pick<T extends object>(obj: T, keys: ReadonlyArray<keyof T>): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

const METRIC_FIELDS = ['baseline', 'candidate', 'delta', 'ratio', 'unit', 'better', 'method'] as const satisfies ReadonlyArray<
  keyof MetricValue
>;

const metrics = (ms: Record<string, MetricValue>) => Object.fromEntries(orderedMetricKeys(ms).map((k) => [k, pick(ms[k]!, METRIC_FIELDS)]));
const step = (s: StepRecord) => ({
  ...pick(s, ['kind', 'options', 'seconds', 'notes']),
  ...(s.energy !== undefined ? { energy: pick(s.energy, ['joules', 'kWh', 'gCO2e', 'method']) } : {}),
});
const layer = (l: LayerDetail) => pick(l, ['name', 'opType', 'sqnrDb', 'sparsity', 'action']);
const guard = (g: GuardResult) => ({
  passed: g.passed,
  failures: g.failures.map((f) => pick(f, ['metric', 'value', 'floor', 'text'])),
  floors: pick(g.floors, ['minCosine', 'minTop1Agreement', 'maxAccuracyDrop', 'maxPerplexityIncrease']),
  checked: g.checked,
  ...(g.unjudged !== undefined ? { unjudged: g.unjudged } : {}),
});
const kernel = (k: KernelRow) => pick(k, ['opType', 'form', 'count', 'path', 'source']);
const target = (t: TargetReport) => pick(t, ['name', 'resolved', 'runtime', 'runtimeVersion', 'isa', 'threads', 'measured', 'measurement']);
const gate = (g: GateResult) => pick(g, ['expression', 'candidate', 'passed', 'values', 'error']);
const trial = (t: TrialRecord) => ({
  ...pick(t, ['name', 'config']),
  metrics: metrics(t.metrics),
  ...pick(t, ['passed', 'failedGates', 'seconds', 'error']),
});
const search = (s: SearchRecord) => ({
  ...pick(s, ['objective']),
  trials: s.trials.map(trial),
  ...pick(s, ['best', 'pareto', 'workers', 'seconds']),
});

function canonical(report: Report): unknown {
  const ref = (r: ModelRef) => pick(r, ['name', 'path']);
  const candidate = (c: CandidateReport) => ({
    ...ref(c),
    metrics: metrics(c.metrics),
    ...(c.notes !== undefined ? { notes: c.notes } : {}),
    ...(c.steps !== undefined ? { steps: c.steps.map(step) } : {}),
    ...(c.layers !== undefined ? { layers: c.layers.map(layer) } : {}),
    ...(c.guard !== undefined ? { guard: guard(c.guard) } : {}),
    ...(c.kernels !== undefined ? { kernels: c.kernels.map(kernel) } : {}),
  });
  const env: Environment = {};
  for (const k of Object.keys(report.environment).sort()) if (report.environment[k] !== undefined) env[k] = report.environment[k];
  return {
    schema: report.schema,
    createdAt: report.createdAt,
    baseline: ref(report.baseline),
    candidates: report.candidates.map(candidate),
    environment: env,
    ...(report.target !== undefined ? { target: target(report.target) } : {}),
    notes: report.notes,
    // Pipeline fields: present only when the run had gates or a search, so plain comparisons keep their shape.
    ...(report.gates !== undefined ? { gates: report.gates.map(gate) } : {}),
    ...(report.search !== undefined ? { search: search(report.search) } : {}),
  };
}

export function renderJson(report: Report, opts: { indent?: number } = {}): string {
  return JSON.stringify(canonical(report), null, opts.indent ?? 2) + '\n';
}

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const metricSchema = z.object({
  baseline: finite.optional(),
  candidate: finite.optional(),
  delta: finite.optional(),
  ratio: finite.optional(),
  unit: z.string(),
  better: z.enum(['lower', 'higher']),
  method: z.string().optional(),
});
const refShape = { name: z.string(), path: z.string().optional() };
const metricsSchema = z.record(z.string(), metricSchema);
const energySchema = z.object({ joules: finite, kWh: finite, gCO2e: finite, method: z.string() });
const stepSchema = z.object({
  kind: z.string(),
  options: z.record(z.string(), z.unknown()),
  seconds: finite,
  notes: z.array(z.string()),
  energy: energySchema.optional(),
});
const layerSchema = z.object({
  name: z.string(),
  opType: z.string().optional(),
  sqnrDb: finite.optional(),
  sparsity: finite.optional(),
  action: z.string().optional(),
});
const guardSchema = z.object({
  passed: z.boolean(),
  failures: z.array(z.object({ metric: z.string(), value: finite, floor: finite, text: z.string() })),
  floors: z.object({ minCosine: finite, minTop1Agreement: finite, maxAccuracyDrop: finite, maxPerplexityIncrease: finite.optional() }),
  checked: z.array(z.string()),
  unjudged: z.string().optional(),
});
const kernelSchema = z.object({
  opType: z.string(),
  form: z.string(),
  count: z.number().int().min(0),
  path: z.string(),
  source: z.string(),
});
const targetReportSchema = z.object({
  name: z.string(),
  resolved: z.string().optional(),
  runtime: z.string(),
  runtimeVersion: z.string().optional(),
  isa: z.string(),
  threads: z.number().int().positive().optional(),
  measured: z.boolean(),
  measurement: z.string(),
});
const gateSchema = z.object({
  expression: z.string(),
  candidate: z.string(),
  passed: z.boolean(),
  values: z.record(z.string(), finite.nullable()),
  error: z.string().optional(),
});
const trialSchema = z.object({
  name: z.string(),
  config: z.array(z.record(z.string(), z.unknown())),
  metrics: metricsSchema,
  passed: z.boolean(),
  failedGates: z.array(z.string()),
  seconds: finite,
  error: z.string().optional(),
});
const searchSchema = z.object({
  objective: z.string(),
  trials: z.array(trialSchema),
  best: z.string().optional(),
  pareto: z.record(z.string(), z.array(z.string())),
  workers: z.number().int(),
  seconds: finite,
});
const reportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA),
  createdAt: z.string(),
  baseline: z.object(refShape),
  candidates: z.array(
    z.object({
      ...refShape,
      metrics: metricsSchema,
      notes: z.array(z.string()).optional(),
      steps: z.array(stepSchema).optional(),
      layers: z.array(layerSchema).optional(),
      guard: guardSchema.optional(),
      kernels: z.array(kernelSchema).optional(),
    }),
  ),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  target: targetReportSchema.optional(),
  notes: z.array(z.string()),
  gates: z.array(gateSchema).optional(),
  search: searchSchema.optional(),
});

/** JSON Schema (draft 2020-12) of a `shrink.report/v1` document, from the same zod schema parseReport uses (docs/report.schema.json). */
export function reportJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = optionsJsonSchema(reportSchema);
  return { $schema, title: `Shrink report (${REPORT_SCHEMA})`, ...rest };
}

/** Reads a report from JSON text or an already parsed object; `where` names the source in errors (a file path). */
export function parseReport(input: unknown, where = 'report'): Report {
  let data: unknown = input;
  if (typeof input === 'string') {
    try {
      data = JSON.parse(input);
    } catch (e) {
      throw new ShrinkError('INVALID_DATA', `${where}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
  }
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (typeof data === 'object' && data !== null && schema !== REPORT_SCHEMA) {
    throw new ShrinkError('INVALID_DATA', `${where}: schema ${JSON.stringify(schema)} is not supported; expected "${REPORT_SCHEMA}"`);
  }
  return parseOptions(reportSchema, data, where, 'INVALID_DATA');
}
