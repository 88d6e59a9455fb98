/**
 * The report as Markdown for a GitHub pull-request comment: verdict first, then the numbers, then the
 * detail (steps, search trials, energy), with the environment folded away. Always under GitHub's
 * comment limit: long trial lists are cut first, anything still too long is cut with a line saying so.
 */
import { energySummary } from './energy-summary.js';
import { environmentEntries, formatValue, metricLabel, targetText } from './format.js';
import { formatGateValues, gateVerdict } from './gate-values.js';
import { metricGrid, PAIRED_NOTE, type GridRow } from './metric-grid.js';
import { trialColumns } from './trial-columns.js';
import { type CandidateReport, type Report, type SearchRecord, type StepRecord } from './report.js';
import { degradedLines } from './guard.js';

/** GitHub refuses comments longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

export interface MarkdownOptions {
  /** Trials listed in the search table before the rest are summarized in one line (default 50). */
  maxTrials?: number;
  /** Length the output never exceeds (default GITHUB_COMMENT_LIMIT). */
  maxChars?: number;
}

/**
 * Text from the report (names, notes, methods) as inert Markdown: no HTML, no emphasis or links, no
 * table breaks, no @-mentions (a bot comment must not ping whoever a model name happens to name).
 */
function text(s: string): string {
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/@/g, '@\u200b');
}

/** An inline code span that holds any text; `inTable` escapes pipes, which GitHub splits cells on even inside code. */
function code(s: string, inTable = false): string {
  let body = s.replace(/[\r\n]+/g, ' ');
  if (inTable) body = body.replace(/\|/g, '\\|');
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function tableHead(cells: string[], align: Array<'l' | 'r'>): string[] {
  return [row(cells), row(align.map((a) => (a === 'r' ? '---:' : ':---')))];
}

const MARK = { better: '🟢', worse: '🔴', same: '⚪' } as const;

function metricsTable(report: Report): string[] {
  const cands = report.candidates;
  if (cands.length === 0) return ['No candidates.'];
  const grid = metricGrid(report);
  const label = (r: GridRow) => text(r.label) + (r.methodRefs.length > 0 ? ` <sup>${r.methodRefs.join(',')}</sup>` : '');
  const out: string[] = [];
  if (cands.length === 1) {
    out.push(
      ...tableHead(
        ['Metric', `Baseline: ${text(report.baseline.name)}`, text(cands[0]!.name), 'Change', 'Ratio', ''],
        ['l', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
    for (const r of grid.rows) {
      const c = r.cells[0]!;
      out.push(
        row([label(r), r.baseline ?? '–', c.value ?? '–', c.change, c.ratio ?? '', c.verdict ? `${MARK[c.verdict]} ${c.verdict}` : '']),
      );
    }
  } else {
    out.push(
      ...tableHead(
        ['Metric', `Baseline: ${text(report.baseline.name)}`, ...cands.map((c) => text(c.name))],
        ['l', 'r', ...cands.map(() => 'r' as const)],
      ),
    );
    for (const r of grid.rows) {
      const cells = r.cells.map((c) =>
        c?.value === undefined
          ? '–'
          : [
              c.value,
              c.ratio !== undefined ? `(${c.ratio})` : '',
              c.verdict ? MARK[c.verdict] : '',
              c.baseline !== undefined ? `vs ${c.baseline}` : '',
            ]
              .filter((s) => s !== '')
              .join(' '),
      );
      out.push(row([label(r) + (r.paired ? ' †' : ''), r.paired ? 'per candidate †' : (r.baseline ?? '–'), ...cells]));
    }
    if (grid.rows.some((r) => r.paired)) out.push('', `† ${PAIRED_NOTE}`);
  }
  if (grid.methods.length > 0) out.push('', ...grid.methods.map((m, i) => `<sup>${i + 1}</sup> ${text(m)}  `));
  return out;
}

function gatesSection(report: Report): string[] {
  const gates = report.gates ?? [];
  if (gates.length === 0) return [];
  const lines = gates.map((g) => {
    const seen = formatGateValues(report, g);
    const detail = [seen, g.error !== undefined ? `error: ${g.error}` : ''].filter((s) => s !== '').join('; ');
    return `- ${g.passed ? '✅' : '❌'} ${code(g.expression)} on **${text(g.candidate)}**${detail !== '' ? ` → ${text(detail)}` : ''}`;
  });
  return ['### Gates', '', ...lines];
}

function energyText(e: NonNullable<StepRecord['energy']>): string {
  return `${formatValue(e.joules, 'J')}, ${formatValue(e.kWh, 'kWh')}, ${formatValue(e.gCO2e, 'gCO2e')} (${text(e.method)})`;
}

function stepsSection(c: CandidateReport): string[] {
  if (c.steps === undefined || c.steps.length === 0) return [];
  const out = [
    `### Steps: ${text(c.name)}`,
    '',
    ...tableHead(['#', 'Pass', 'Options', 'Time', 'Energy', 'Notes'], ['r', 'l', 'l', 'r', 'r', 'l']),
  ];
  c.steps.forEach((s, i) => {
    out.push(
      row([
        String(i + 1),
        text(s.kind),
        code(clip(JSON.stringify(s.options), 300), true),
        formatValue(s.seconds * 1000, 'ms'),
        s.energy ? energyText(s.energy) : '–',
        s.notes.map(text).join('<br>'),
      ]),
    );
  });
  return out;
}

/** The trials worth listing when not all fit: the best and the Pareto members always, then the first others. */
function shownTrials(search: SearchRecord, max: number): Set<number> {
  const keep = new Set<number>();
  const front = new Set(Object.values(search.pareto).flat());
  search.trials.forEach((t, i) => {
    if ((t.name === search.best || front.has(t.name)) && keep.size < max) keep.add(i);
  });
  for (let i = 0; i < search.trials.length && keep.size < max; i++) keep.add(i);
  return keep;
}

const MAX_TRIAL_METRICS = 6;

function searchSection(search: SearchRecord, maxTrials: number): string[] {
  const passed = search.trials.filter((t) => t.passed).length;
  const out = [
    '### Search',
    '',
    `Objective: ${text(search.objective)} · ${search.trials.length} trials, ${passed} passed every gate · ${search.workers} worker${search.workers === 1 ? '' : 's'} · ${formatValue(search.seconds * 1000, 'ms')}`,
    '',
    search.best !== undefined ? `Best: ⭐ **${text(search.best)}**` : 'Best: none (no trial passed every gate)',
  ];
  if (search.trials.length === 0) return out;
  const keys = trialColumns(search, MAX_TRIAL_METRICS);
  const front = new Set(Object.values(search.pareto).flat());
  const shown = shownTrials(search, maxTrials);
  out.push(
    '',
    ...tableHead(
      ['Trial', 'Passed', 'Steps', ...keys.map((k) => text(metricLabel(k))), 'Time', 'Failed gates'],
      ['l', 'l', 'l', ...keys.map(() => 'r' as const), 'r', 'l'],
    ),
  );
  search.trials.forEach((t, i) => {
    if (!shown.has(i)) return;
    const badges = `${t.name === search.best ? ' ⭐' : ''}${front.has(t.name) ? ' ◆' : ''}`;
    const failed = [...t.failedGates.map((g) => code(g, true)), ...(t.error !== undefined ? [`error: ${text(t.error)}`] : [])].join('<br>');
    out.push(
      row([
        text(t.name) + badges,
        t.passed ? '✅' : '❌',
        code(clip(JSON.stringify(t.config), 160), true),
        ...keys.map((k) => {
          const m = t.metrics[k];
          return m?.candidate === undefined ? '–' : formatValue(m.candidate, m.unit);
        }),
        formatValue(t.seconds * 1000, 'ms'),
        failed,
      ]),
    );
  });
  const left = search.trials.length - shown.size;
  if (left > 0)
    out.push(
      '',
      `_${left} of ${search.trials.length} trials left out to fit a comment (listed: the best, the Pareto members, then the first ones); the JSON report has them all._`,
    );
  const axes = Object.entries(search.pareto);
  if (axes.length > 0) {
    out.push('', '**Pareto front** (◆)', '');
    for (const [pair, names] of axes) {
      const label = pair.split('/').map(metricLabel).join(' vs ');
      out.push(`- ${text(label)}: ${names.length === 0 ? 'none' : names.map(text).join(', ')}`);
    }
  }
  return out;
}

function energySection(report: Report): string[] {
  const e = energySummary(report);
  const steps = report.candidates.filter((c) => c.steps?.some((s) => s.energy !== undefined));
  if (e === undefined && steps.length === 0) return [];
  const out = ['### Energy and CO2e', ''];
  if (e !== undefined) {
    const f = (x: number | undefined, unit: string) => (x === undefined ? '–' : formatValue(x, unit));
    out.push(...tableHead(['Model', 'Energy / inference', 'Energy / 1M inferences', 'CO2e / 1M inferences'], ['l', 'r', 'r', 'r']));
    for (const r of e.rows)
      out.push(
        row([
          `${text(r.name)}${r.isBaseline ? ' (baseline)' : ''}`,
          f(r.joulesPerInference, 'J'),
          f(r.kWhPerMillion, 'kWh'),
          f(r.gCO2ePerMillion, 'gCO2e'),
        ]),
      );
    out.push('');
    if (e.gridIntensity !== undefined) out.push(`Grid intensity: ${formatValue(e.gridIntensity, 'gCO2e')}/kWh  `);
    for (const m of e.methods) out.push(`Method: ${text(m)}  `);
  }
  for (const c of steps) {
    const en = c.steps!.flatMap((s) => (s.energy ? [s.energy] : []));
    const total = { joules: 0, kWh: 0, gCO2e: 0 };
    for (const s of en) {
      total.joules += s.joules;
      total.kWh += s.kWh;
      total.gCO2e += s.gCO2e;
    }
    out.push(
      `Making **${text(c.name)}** (${en.length} step${en.length === 1 ? '' : 's'}): ${formatValue(total.joules, 'J')}, ${formatValue(total.kWh, 'kWh')}, ${formatValue(total.gCO2e, 'gCO2e')}  `,
    );
  }
  return out;
}

function targetSection(report: Report): string[] {
  return report.target === undefined ? [] : [`**Target** ${text(targetText(report.target))}`];
}

/** The kernel each quantized op type reaches on the target, one table per candidate that has rows. */
function kernelsSection(c: CandidateReport): string[] {
  if (c.kernels === undefined || c.kernels.length === 0) return [];
  return [
    `### Kernels on the target: ${text(c.name)}`,
    '',
    ...tableHead(['Op', 'Form', 'Nodes', 'Kernel', 'Source'], ['l', 'l', 'r', 'l', 'l']),
    ...c.kernels.map((k) => row([code(k.opType, true), text(k.form), String(k.count), text(k.path), text(clip(k.source, 200))])),
  ];
}

function notesSection(report: Report): string[] {
  const notes = [
    ...report.notes.map(text),
    ...report.candidates.flatMap((c) => (c.notes ?? []).map((n) => `**${text(c.name)}**: ${text(n)}`)),
  ];
  return notes.length === 0 ? [] : ['### Notes', '', ...notes.map((n) => `- ${n}`)];
}

function environmentSection(report: Report): string[] {
  const entries = environmentEntries(report.environment);
  if (entries.length === 0) return [];
  return [
    '<details><summary>Environment</summary>',
    '',
    ...tableHead(['', ''], ['l', 'l']),
    ...entries.map(([k, v]) => row([text(k), text(String(v))])),
    '',
    '</details>',
  ];
}

function degradedSection(report: Report): string[] {
  const lines = degradedLines(report.candidates);
  return lines.length === 0 ? [] : lines.map((l) => `> ${l.includes('NOT judged') ? '⚠️' : '❌'} ${text(l)}`);
}

function title(report: Report): string {
  if (report.candidates.some((c) => c.guard && !c.guard.passed)) return '## ❌ Shrink: a candidate fails the fidelity guard';
  const v = gateVerdict(report);
  if (v === undefined || v.passed + v.failed === 0) return '## Shrink report';
  const n = v.passed + v.failed;
  return v.ok
    ? `## ✅ Shrink: all ${n} gate${n === 1 ? '' : 's'} passed`
    : `## ❌ Shrink: ${v.failed} of ${n} gate${n === 1 ? '' : 's'} failed`;
}

function build(report: Report, maxTrials: number): string {
  const b = report.baseline;
  const sections: string[][] = [
    [
      title(report),
      '',
      `Baseline **${text(b.name)}**${b.path !== undefined ? ` (${code(b.path)})` : ''} · ${report.candidates.length} candidate${report.candidates.length === 1 ? '' : 's'} · ${text(report.createdAt)}`,
    ],
    degradedSection(report),
    targetSection(report),
    ['### Metrics', '', ...metricsTable(report)],
    gatesSection(report),
    ...report.candidates.map(stepsSection),
    ...report.candidates.map(kernelsSection),
    report.search ? searchSection(report.search, maxTrials) : [],
    energySection(report),
    notesSection(report),
    environmentSection(report),
  ];
  return (
    sections
      .filter((s) => s.length > 0)
      .map((s) => s.join('\n'))
      .join('\n\n') + '\n'
  );
}

/** Hard cut at a line boundary, closing a <details> the cut left open. */
function cut(md: string, limit: number): string {
  const note = (n: number) =>
    `\n\n_Report cut: ${n} more characters did not fit GitHub's comment limit; the JSON report has everything._\n`;
  let head = md.slice(0, Math.max(0, limit - note(md.length).length - '\n</details>'.length));
  head = head.slice(0, Math.max(0, head.lastIndexOf('\n')));
  const open = (head.match(/<details>/g) ?? []).length - (head.match(/<\/details>/g) ?? []).length;
  return `${head}${note(md.length - head.length)}${open > 0 ? '</details>\n' : ''}`;
}

/** The report as Markdown that fits a pull-request comment. */
export function renderMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const limit = opts.maxChars ?? GITHUB_COMMENT_LIMIT;
  let maxTrials = Math.max(0, opts.maxTrials ?? 50);
  for (;;) {
    const md = build(report, maxTrials);
    if (md.length <= limit) return md;
    if (maxTrials === 0) return cut(md, limit);
    maxTrials = Math.floor(maxTrials / 2);
  }
}
