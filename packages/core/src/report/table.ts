/** Terminal rendering of a report: one table per candidate, footnotes for how each number was measured. */
import Table from 'cli-table3';
import { environmentEntries, formatChange, formatRatio, formatValue, metricLabel, targetText } from './format.js';
import { candidateVerdict, orderedMetricKeys, type CandidateReport, type Environment, type Report } from './report.js';
import { guardText } from './guard.js';

export interface TableOptions {
  /** ANSI colors for headers and verdicts; off by default so output is stable in logs and tests. */
  color?: boolean;
}

const GREEN = (s: string) => `\u001b[32m${s}\u001b[39m`;
const RED = (s: string) => `\u001b[31m${s}\u001b[39m`;
const BOLD = (s: string) => `\u001b[1m${s}\u001b[22m`;

function candidateTable(c: CandidateReport, opts: TableOptions): string {
  const table = new Table({
    head: ['Metric', 'Baseline', 'Candidate', 'Change', 'Ratio', ''].map((h) => (opts.color ? BOLD(h) : h)),
    colAligns: ['left', 'right', 'right', 'right', 'right', 'left'],
    style: { head: [], border: [], compact: true },
  });
  // One footnote per distinct method, numbered in order of first use.
  const methods: string[] = [];
  for (const key of orderedMetricKeys(c.metrics)) {
    const m = c.metrics[key]!;
    let name = metricLabel(key);
    if (m.method !== undefined) {
      let i = methods.indexOf(m.method);
      if (i < 0) i = methods.push(m.method) - 1;
      name += ` [${i + 1}]`;
    }
    const v = candidateVerdict(c, key);
    const mark = v === undefined ? '' : opts.color ? (v === 'better' ? GREEN(v) : v === 'worse' ? RED(v) : v) : v;
    table.push([
      name,
      m.baseline === undefined ? '-' : formatValue(m.baseline, m.unit),
      m.candidate === undefined ? '-' : formatValue(m.candidate, m.unit),
      formatChange(m),
      m.ratio === undefined ? '' : formatRatio(m.ratio),
      mark,
    ]);
  }
  const failed =
    c.guard && !c.guard.passed
      ? `FAILED the fidelity guard (the numbers below are of a broken model): ${guardText(c.guard)}`
      : c.guard?.unjudged !== undefined
        ? `fidelity NOT judged: ${c.guard.unjudged}`
        : undefined;
  const lines = [
    `Candidate: ${c.name}${c.path !== undefined ? ` (${c.path})` : ''}`,
    ...(failed ? [opts.color ? RED(failed) : failed] : []),
    table.toString(),
  ];
  methods.forEach((m, i) => lines.push(`  [${i + 1}] ${m}`));
  for (const k of c.kernels ?? []) lines.push(`  kernel: ${k.opType} (${k.form}) x${k.count}: ${k.path} [${k.source}]`);
  for (const n of c.notes ?? []) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

export function formatEnvironment(env: Environment): string {
  return environmentEntries(env)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

/** The report as text for a terminal: header, one table per candidate, environment and notes. */
export function renderTable(report: Report, opts: TableOptions = {}): string {
  const out = [
    `Shrink report (${report.createdAt})`,
    `Baseline: ${report.baseline.name}${report.baseline.path !== undefined ? ` (${report.baseline.path})` : ''}`,
    ...(report.target !== undefined ? [`Target: ${targetText(report.target)}`] : []),
  ];
  if (report.candidates.length === 0) out.push('No candidates.');
  for (const c of report.candidates) out.push('', candidateTable(c, opts));
  const env = formatEnvironment(report.environment);
  if (env !== '') out.push('', `Environment: ${env}`);
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `Note: ${n}`));
  return out.join('\n') + '\n';
}
