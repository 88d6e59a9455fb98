/**
 * The report as versioned JSON with a fixed key order, so two reports of the same numbers are
 * byte-identical and diff cleanly; `parseReport` reads one back (e.g. a stored baseline report for a gate).
 */
import { z } from 'zod';
import { ShrinkError } from '../errors.js';
import { parseOptions } from '../options.js';
import { REPORT_SCHEMA, orderedMetricKeys, type CandidateReport, type Environment, type MetricValue, type ModelRef, type Report } from './report.js';

/** Copies `keys` of `obj` in that order, leaving out undefined values. */
function pick<T extends object>(obj: T, keys: ReadonlyArray<keyof T>): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

const METRIC_FIELDS = ['baseline', 'candidate', 'delta', 'ratio', 'unit', 'better', 'method'] as const satisfies ReadonlyArray<keyof MetricValue>;

function canonical(report: Report): unknown {
  const ref = (r: ModelRef) => pick(r, ['name', 'path']);
  const candidate = (c: CandidateReport) => ({
    ...ref(c),
    metrics: Object.fromEntries(orderedMetricKeys(c.metrics).map((k) => [k, pick(c.metrics[k]!, METRIC_FIELDS)])),
    ...(c.notes !== undefined ? { notes: c.notes } : {}),
    ...(c.steps !== undefined ? { steps: c.steps } : {}),
    ...(c.layers !== undefined ? { layers: c.layers } : {}),
  });
  const env: Environment = {};
  for (const k of Object.keys(report.environment).sort()) if (report.environment[k] !== undefined) env[k] = report.environment[k];
  return {
    schema: report.schema,
    createdAt: report.createdAt,
    baseline: ref(report.baseline),
    candidates: report.candidates.map(candidate),
    environment: env,
    notes: report.notes,
    ...(report.gates !== undefined ? { gates: report.gates } : {}),
    ...(report.search !== undefined ? { search: report.search } : {}),
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
const reportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA),
  createdAt: z.string(),
  baseline: z.object(refShape),
  candidates: z.array(z.object({ ...refShape, metrics: z.record(z.string(), metricSchema), notes: z.array(z.string()).optional() })),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  notes: z.array(z.string()),
});

/** Reads a report from JSON text or an already parsed object; `where` names the source in errors (a file path). */
export function parseReport(input: string | unknown, where = 'report'): Report {
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
  return parseOptions(reportSchema, data, where, 'INVALID_DATA') as Report;
}
