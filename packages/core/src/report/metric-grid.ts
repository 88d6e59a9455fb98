/**
 * The metrics of a report as one grid: a row per metric key (orderedMetricKeys over every candidate), a
 * cell per candidate, humanized; methods numbered once for the whole grid. Markdown and HTML render it.
 */
import { formatChange, formatRatio, formatValue, metricLabel } from './format.js';
import { candidateVerdict, orderedMetricKeys, type Report, type Verdict } from './report.js';

export interface GridCell {
  value?: string;
  /** The delta and relative change, e.g. "-750 KB (-75.0 %)"; '' when unknown. */
  change: string;
  ratio?: string;
  verdict?: Verdict;
  /** This candidate's own baseline, set only where the row's baselines differ between candidates. */
  baseline?: string;
}

export interface GridRow {
  key: string;
  label: string;
  /** 1-based indexes into `methods`. */
  methodRefs: number[];
  baseline?: string;
  /**
   * The candidates were measured against different baseline runs (latency and energy are interleaved
   * with a fresh baseline run per candidate): `baseline` is unset and each cell carries its own.
   */
  paired?: boolean;
  /** One per candidate, undefined where that candidate lacks the metric. */
  cells: Array<GridCell | undefined>;
}

export interface MetricGrid {
  rows: GridRow[];
  methods: string[];
}

/** What a renderer states under a grid with paired rows. */
export const PAIRED_NOTE =
  'Rows marked † were measured per candidate, each interleaved with its own baseline run: the baselines differ, so each cell shows its baseline and the ratio is paired with it.';

export function metricGrid(report: Report): MetricGrid {
  const union: Record<string, true> = {};
  for (const c of report.candidates) for (const k of Object.keys(c.metrics)) union[k] = true;
  const methods: string[] = [];
  const rows = orderedMetricKeys(union).map((key): GridRow => {
    const ms = report.candidates.map((c) => c.metrics[key]);
    const refs = new Set<number>();
    for (const m of ms) {
      if (m?.method === undefined) continue;
      let i = methods.indexOf(m.method);
      if (i < 0) i = methods.push(m.method) - 1;
      refs.add(i + 1);
    }
    const withBase = ms.find((m) => m?.baseline !== undefined);
    const paired = ms.some((m) => m?.baseline !== undefined && m.baseline !== withBase!.baseline);
    const cells = ms.map((m, i): GridCell | undefined => {
      if (m === undefined) return undefined;
      const v = candidateVerdict(report.candidates[i]!, key);
      return {
        ...(m.candidate !== undefined ? { value: formatValue(m.candidate, m.unit) } : {}),
        change: formatChange(m),
        ...(m.ratio !== undefined ? { ratio: formatRatio(m.ratio) } : {}),
        ...(v !== undefined ? { verdict: v } : {}),
        ...(paired && m.baseline !== undefined ? { baseline: formatValue(m.baseline, m.unit) } : {}),
      };
    });
    const base = paired ? { paired: true } : withBase ? { baseline: formatValue(withBase.baseline!, withBase.unit) } : {};
    return { key, label: metricLabel(key), methodRefs: [...refs], ...base, cells };
  });
  return { rows, methods };
}
