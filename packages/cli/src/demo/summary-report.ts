import Table from 'cli-table3';
import { escapeHtml, formatValue, targetText, type Report } from '@shrink/core';
import type { TrainOutcome } from '../commands/train.js';

export interface DemoEntry {
  preset: string;
  train: TrainOutcome;
  /** Where the fp32 weights came from (shipped, cache or trained now). */
  weights: string;
  report: Report;
}

const HEAD = ['preset', 'variant', 'quality (test)', 'size', 'size x', 'gzip x', 'p50 b1', 'p50 x', 'J / inference', 'gCO2e / 1M'];
const NOTE = 'ratios (x) against fp32 in the same run; latency interleaved pair by pair';

/** One row per model of each preset: fp32 first, then its variants, as the terminal, Markdown and HTML show them. */
export function demoRows(entries: readonly DemoEntry[]): string[][] {
  const out: string[][] = [];
  for (const e of entries) {
    const rows: Array<[string, (k: string) => number | undefined, (k: string) => number | undefined]> = [
      ['fp32', (k) => e.report.candidates[0]?.metrics[k]?.baseline, () => undefined],
      ...e.report.candidates.map((c): [string, (k: string) => number | undefined, (k: string) => number | undefined] => [
        c.name,
        (k) => c.metrics[k]?.candidate,
        (k) => c.metrics[k]?.ratio,
      ]),
    ];
    for (const [name, v, ratio] of rows) {
      const acc = v('accuracy');
      const quality = acc !== undefined ? `${(acc * 100).toFixed(2)}% acc` : `MSE ${v('mse')?.toPrecision(3)}`;
      const x = (k: string) => (ratio(k) !== undefined ? `${ratio(k)!.toFixed(2)}x` : '');
      out.push([
        name === 'fp32' ? e.preset : '',
        e.report.candidates.find((c) => c.name === name)?.guard?.passed === false ? `${name} (FAILED fidelity guard)` : name,
        quality,
        formatValue(v('size.bytes') ?? 0, 'bytes'),
        x('size.bytes'),
        x('size.gzipBytes'),
        formatValue(v('latency.p50') ?? 0, 'ms'),
        x('latency.p50'),
        formatValue(v('energy.perInference') ?? 0, 'J'),
        formatValue(v('co2e.perMillion') ?? 0, 'gCO2e'),
      ]);
    }
  }
  return out;
}

/** The target every preset was compressed for and measured on (all the same: the demo runs on `cpu`). */
function targetLine(entries: readonly DemoEntry[]): string | undefined {
  const t = entries.find((e) => e.report.target !== undefined)?.report.target;
  return t ? `Target: ${targetText(t)}` : undefined;
}

export function summaryTable(entries: readonly DemoEntry[], out: string): string {
  const t = new Table({ head: HEAD, style: { head: [], border: [] } });
  t.push(...demoRows(entries));
  const target = targetLine(entries);
  return `${t.toString()}\n${NOTE}\n${target !== undefined ? `${target}\n` : ''}reports and models in ${out}/ (report.html/.md/.json; <preset>/model*.onnx, tfjs/, report.html/.md/.json/.txt)`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

/** The demo's front page as Markdown: the table, where each preset's weights came from, links to the preset reports. */
export function demoMarkdown(entries: readonly DemoEntry[]): string {
  const lines = [
    '# Shrink demo',
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map(() => '---').join('|')}|`,
    ...demoRows(entries).map((r) => `| ${r.map(mdCell).join(' | ')} |`),
    '',
    NOTE,
    '',
    ...(targetLine(entries) !== undefined ? [mdCell(targetLine(entries)!), ''] : []),
    ...entries.map((e) => `- **${e.preset}**: ${mdCell(e.weights)}; [report](${e.preset}/report.md)`),
    '',
  ];
  return lines.join('\n');
}

const CSS =
  'body{margin:0;font:14px/1.45 system-ui,sans-serif;color:#1f2328}main{max-width:1200px;margin:0 auto;padding:24px}' +
  'table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right}th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}' +
  'tr.first td{border-top:2px solid #8c959f}.muted{color:#656d76}';

/** The demo's front page: one self-contained HTML file (no scripts, no requests) linking each preset's report. */
export function demoHtml(entries: readonly DemoEntry[]): string {
  const rows = demoRows(entries)
    .map((r) => `<tr${r[0] ? ' class="first"' : ''}>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  const presets = entries
    .map((e) => `<li><a href="${escapeHtml(e.preset)}/report.html">${escapeHtml(e.preset)}</a>: ${escapeHtml(e.weights)}</li>`)
    .join('\n');
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><title>Shrink demo</title><style>${CSS}</style></head>` +
    `<body><main><h1>Shrink demo</h1>\n<table><thead><tr>${HEAD.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${rows}\n</tbody></table>\n` +
    `<p class="muted">${escapeHtml(NOTE)}</p>\n` +
    (targetLine(entries) !== undefined ? `<p>${escapeHtml(targetLine(entries)!)}</p>\n` : '') +
    `<h2>Presets</h2><ul>\n${presets}\n</ul></main></body></html>\n`
  );
}
