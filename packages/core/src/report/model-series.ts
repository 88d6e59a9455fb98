/** One metric across the baseline and every candidate, for the side-by-side views (Markdown columns, HTML bars). */
import type { Report } from './report.js';

export interface ModelPoint {
  name: string;
  value: number;
  isBaseline: boolean;
}

/**
 * The baseline's value (from the first candidate row that carries one: every row of a report compares
 * against the same baseline) followed by each candidate's value; models without the metric are left out.
 */
export function modelSeries(report: Report, key: string): ModelPoint[] {
  const out: ModelPoint[] = [];
  const base = report.candidates.map((c) => c.metrics[key]?.baseline).find((v) => v !== undefined);
  if (base !== undefined) out.push({ name: report.baseline.name, value: base, isBaseline: true });
  for (const c of report.candidates) {
    const v = c.metrics[key]?.candidate;
    if (v !== undefined) out.push({ name: c.name, value: v, isBaseline: false });
  }
  return out;
}

/** The unit of `key` as the report states it (first row that has the key). */
export function seriesUnit(report: Report, key: string): string | undefined {
  for (const c of report.candidates) if (c.metrics[key] !== undefined) return c.metrics[key]!.unit;
  for (const t of report.search?.trials ?? []) if (t.metrics[key] !== undefined) return t.metrics[key]!.unit;
  return undefined;
}
