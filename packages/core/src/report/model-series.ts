/** One metric across the baseline and every candidate, for the side-by-side views (Markdown columns, HTML bars). */
import type { Report } from './report.js';

export interface ModelPoint {
  name: string;
  value: number;
  isBaseline: boolean;
}

/**
 * The baseline's value followed by each candidate's value; models without the metric are left out. When
 * the candidates were compared with different baseline runs (interleaved latency and energy), each
 * candidate comes after its own baseline, named "<baseline> (paired with <candidate>)".
 */
export function modelSeries(report: Report, key: string): ModelPoint[] {
  const out: ModelPoint[] = [];
  const bases = report.candidates.map((c) => c.metrics[key]?.baseline);
  const first = bases.find((v) => v !== undefined);
  const paired = bases.some((v) => v !== undefined && v !== first);
  if (first !== undefined && !paired) out.push({ name: report.baseline.name, value: first, isBaseline: true });
  for (const [i, c] of report.candidates.entries()) {
    const b = bases[i];
    if (paired && b !== undefined) out.push({ name: `${report.baseline.name} (paired with ${c.name})`, value: b, isBaseline: true });
    const v = c.metrics[key]?.candidate;
    if (v !== undefined) out.push({ name: c.name, value: v, isBaseline: false });
  }
  return out;
}

/** The unit of `key` as the report states it (first row that has the key). */
export function seriesUnit(report: Report, key: string): string | undefined {
  for (const c of report.candidates) if (c.metrics[key] !== undefined) return c.metrics[key].unit;
  for (const t of report.search?.trials ?? []) if (t.metrics[key] !== undefined) return t.metrics[key].unit;
  return undefined;
}
