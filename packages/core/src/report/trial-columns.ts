/** Which metrics a table of search trials shows when it cannot show them all. */
import { orderedMetricKeys, type SearchRecord } from './report.js';

// What a search trades off, so these come first whatever else the trials measured.
const CORE = ['size.bytes', 'latency.p50', 'accuracy'];

/** The Pareto axes and size/latency/accuracy first (in METRICS order), then the other metrics, `max` in all. */
export function trialColumns(search: SearchRecord, max: number): string[] {
  const present: Record<string, true> = {};
  for (const t of search.trials) for (const k of Object.keys(t.metrics)) present[k] = true;
  const axes = new Set([...CORE, ...Object.keys(search.pareto).flatMap((pair) => pair.split('/'))]);
  const first: Record<string, true> = {};
  for (const k of Object.keys(present)) if (axes.has(k)) first[k] = true;
  const lead = orderedMetricKeys(first);
  const rest = orderedMetricKeys(present).filter((k) => !(k in first));
  return [...lead, ...rest].slice(0, max);
}
