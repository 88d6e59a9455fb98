/** Human form of the numbers a gate read, e.g. 'accuracy.delta' -> "-0.40 pp", 'latency.p50.ratio' -> "0.480×". */
import { formatChange, formatRatio, formatValue } from './format.js';
import type { GateResult, Report } from './report.js';
import { seriesUnit } from './model-series.js';

const FIELDS = ['baseline', 'candidate', 'delta', 'ratio'] as const;

export function formatGateValue(report: Report, name: string, value: number | null): string {
  if (value === null) return 'missing';
  const dot = name.lastIndexOf('.');
  const field = name.slice(dot + 1);
  const key = dot > 0 && (FIELDS as readonly string[]).includes(field) ? name.slice(0, dot) : name;
  const unit = seriesUnit(report, key);
  if (unit === undefined) return formatValue(value, '');
  if (field === 'ratio') return formatRatio(value);
  if (field === 'delta') return formatChange({ delta: value, unit, better: 'lower' });
  return formatValue(value, unit);
}

/** "accuracy.delta = -0.40 pp, size.bytes.ratio = 0.250×" for one gate. */
export function formatGateValues(report: Report, gate: GateResult): string {
  return Object.entries(gate.values)
    .map(([k, v]) => `${k} = ${formatGateValue(report, k, v)}`)
    .join(', ');
}

export interface GateVerdict {
  passed: number;
  failed: number;
  /** True when no gate failed. */
  ok: boolean;
}

/** Undefined when the report has no gates. */
export function gateVerdict(report: Report): GateVerdict | undefined {
  if (report.gates === undefined) return undefined;
  const passed = report.gates.filter((g) => g.passed).length;
  const failed = report.gates.length - passed;
  return { passed, failed, ok: failed === 0 };
}
