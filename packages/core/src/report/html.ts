/**
 * The report as one self-contained HTML file: inline CSS, inline SVG charts, no scripts and nothing
 * fetched (a Content-Security-Policy says so to the browser too), so it can be attached to a CI run or
 * mailed and opened anywhere. Every string from the report is escaped.
 */
import { energySummary } from './energy-summary.js';
import { escapeHtml as esc } from './escape-html.js';
import { environmentEntries, formatValue, metricLabel, targetText } from './format.js';
import { formatGateValues, gateVerdict } from './gate-values.js';
import { metricGrid, PAIRED_NOTE } from './metric-grid.js';
import { modelSeries, seriesUnit } from './model-series.js';
import { trialColumns } from './trial-columns.js';
import { type CandidateReport, type LayerDetail, type Report, type SearchRecord } from './report.js';
import { degradedLines } from './guard.js';
import { barChart, noData, scatterChart, scatterLegend, type Bar, type ScatterPoint } from './svg-charts.js';

const CSS = `
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#fff;--panel:#f6f8fa;--base:#8c959f;--cand:#3b6fd8;--front:#d9480f;--good:#1a7f37;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:var(--muted);margin:0 0 8px}
.verdict{display:inline-block;padding:4px 10px;border-radius:6px;font-weight:600;margin:8px 0}
.verdict.pass{background:#dafbe1;color:var(--good)}.verdict.fail{background:#ffebe9;color:var(--bad)}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.l,th.l{text-align:left}
th{background:var(--panel)}
.better{color:var(--good)}.worse{color:var(--bad)}.same{color:var(--muted)}
.ratio,.change{color:var(--muted);font-size:12px;display:block}
td.config{min-width:280px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--panel);padding:1px 4px;border-radius:4px;word-break:break-word}
ul.gates{list-style:none;padding:0}ul.gates li{margin:4px 0}
.pass-mark{color:var(--good);font-weight:700}.fail-mark{color:var(--bad);font-weight:700}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure.chart{margin:0;padding:12px;border:1px solid var(--line);border-radius:8px;background:var(--bg);max-width:100%}
figure.chart figcaption{font-weight:600;margin-bottom:6px}
svg.chart-svg{display:block;max-width:100%;height:auto}
.no-data{color:var(--muted);font-style:italic;margin:0}
.chart-note,.legend{color:var(--muted);font-size:12px;margin:6px 0 0}
.lg{margin-right:12px;white-space:nowrap}.lg svg{vertical-align:-2px;margin-right:4px}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--fg)}
svg .tick{fill:var(--muted)}svg .axis-label{font-weight:600}
svg .grid{stroke:#eaeef2}svg .axis{stroke:var(--muted)}svg .plot{fill:none;stroke:var(--line)}
.bar.candidate rect{fill:var(--cand)}.bar.baseline rect{fill:var(--base)}
.pt circle{fill:var(--cand);fill-opacity:.75;stroke:#fff;stroke-width:1}
.pt.front circle{fill:var(--front);fill-opacity:1}
.pt.failed circle{fill:#fff;stroke:var(--base);stroke-width:1.5}
.pt.baseline circle{fill:var(--base);fill-opacity:1}
.pt.best circle{stroke:var(--fg);stroke-width:2}
.front-line{fill:none;stroke:var(--front);stroke-width:1.5;stroke-dasharray:4 3}
.pt-label{fill:var(--muted)}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px;margin:8px 0}
details{margin:16px 0}summary{cursor:pointer;font-weight:600}
`;

// Marks are plain symbols (✓ ✗ ★ ◆), not emoji: they render with any system font, emoji fonts are not everywhere.
// Belt and braces for "self-contained": even markup that got through would load and run nothing.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

function code(s: string): string {
  return `<code>${esc(s)}</code>`;
}

/** A trial's steps as compact JSON, clipped; the whole of it in the hover title. */
function configCode(config: unknown): string {
  const json = JSON.stringify(config);
  return json.length <= 160 ? code(json) : `<code title="${esc(json)}">${esc(json.slice(0, 159))}…</code>`;
}

function seconds(s: number): string {
  return formatValue(s * 1000, 'ms');
}

function header(report: Report): string {
  const b = report.baseline;
  const v = gateVerdict(report);
  const n = v ? v.passed + v.failed : 0;
  const badge =
    v === undefined || n === 0
      ? ''
      : `<p class="verdict ${v.ok ? 'pass' : 'fail'}">${v.ok ? `✓ All ${n} gate${n === 1 ? '' : 's'} passed` : `✗ ${v.failed} of ${n} gate${n === 1 ? '' : 's'} failed`}</p>`;
  const degraded = degradedLines(report.candidates)
    .map((l) => `<p class="verdict fail">✗ ${esc(l)}</p>`)
    .join('');
  return (
    `<header><h1>Shrink report</h1>${badge}${degraded}` +
    `<p class="meta">Baseline <strong>${esc(b.name)}</strong>${b.path !== undefined ? ` (${code(b.path)})` : ''} · ${report.candidates.length} candidate${report.candidates.length === 1 ? '' : 's'} · ${esc(report.createdAt)}</p>` +
    (report.target !== undefined ? `<p class="meta target">Target <strong>${esc(targetText(report.target))}</strong></p>` : '') +
    '</header>'
  );
}

function metricsTable(report: Report): string {
  if (report.candidates.length === 0) return '<h2>Metrics</h2><p>No candidates.</p>';
  const grid = metricGrid(report);
  const head = `<tr><th>Metric</th><th>Baseline: ${esc(report.baseline.name)}</th>${report.candidates.map((c) => `<th>${esc(c.name)}</th>`).join('')}</tr>`;
  const rows = grid.rows.map((r) => {
    const sup = r.methodRefs.length > 0 ? ` <sup>${r.methodRefs.join(',')}</sup>` : '';
    const cells = r.cells.map((c) => {
      if (c?.value === undefined) return '<td>–</td>';
      const base = c.baseline !== undefined ? `<span class="change">vs baseline ${esc(c.baseline)}</span>` : '';
      return `<td class="${c.verdict ?? ''}">${esc(c.value)}${c.change !== '' ? `<span class="change">${esc(c.change)}</span>` : ''}${c.ratio !== undefined ? `<span class="ratio">${esc(c.ratio)}</span>` : ''}${base}</td>`;
    });
    return `<tr><td>${esc(r.label)}${sup}${r.paired ? ' †' : ''}</td><td>${r.paired ? 'per candidate †' : esc(r.baseline ?? '–')}</td>${cells.join('')}</tr>`;
  });
  const paired = grid.rows.some((r) => r.paired) ? `<p class="meta">† ${esc(PAIRED_NOTE)}</p>` : '';
  const methods =
    grid.methods.length === 0 ? '' : `<ol class="methods meta">${grid.methods.map((m) => `<li>${esc(m)}</li>`).join('')}</ol>`;
  return `<h2>Metrics</h2><table><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>${paired}${methods}`;
}

function gatesSection(report: Report): string {
  const gates = report.gates ?? [];
  if (gates.length === 0) return '';
  const items = gates.map((g) => {
    const seen = formatGateValues(report, g);
    return (
      `<li class="${g.passed ? 'pass' : 'fail'}"><span class="${g.passed ? 'pass-mark' : 'fail-mark'}">${g.passed ? '✓ pass' : '✗ fail'}</span> ${code(g.expression)} on <strong>${esc(g.candidate)}</strong>` +
      `${seen !== '' ? ` → ${esc(seen)}` : ''}${g.error !== undefined ? ` <em>(${esc(g.error)})</em>` : ''}</li>`
    );
  });
  return `<h2>Gates</h2><ul class="gates">${items.join('')}</ul>`;
}

/** Bars of one metric for the baseline and every candidate. */
function modelBars(report: Report, key: string, id: string): string {
  const unit = seriesUnit(report, key) ?? '';
  const bars: Bar[] = modelSeries(report, key).map((p) => ({
    label: p.isBaseline ? `${p.name} (baseline)` : p.name,
    value: p.value,
    display: formatValue(p.value, unit),
    tone: p.isBaseline ? 'baseline' : 'candidate',
  }));
  const label = metricLabel(key);
  return barChart({
    id,
    title: `${label} per model`,
    valueLabel: label,
    categoryLabel: 'Model',
    bars,
    tick: (v) => formatValue(v, unit),
    emptyText: `no model in this report has ${label.toLowerCase()}`,
  });
}

const SCATTER_AXES: ReadonlyArray<readonly [string, string]> = [
  ['size.bytes', 'accuracy'],
  ['latency.p50', 'accuracy'],
];

function scatterFor(report: Report, x: string, y: string, id: string): string {
  const s = report.search;
  const xu = seriesUnit(report, x) ?? '';
  const yu = seriesUnit(report, y) ?? '';
  const title = `${metricLabel(y)} vs ${metricLabel(x)}${s && s.trials.length > 0 ? ' (search trials)' : ' (candidates)'}`;
  const tip = (name: string, xv: number, yv: number, extra = '') => `${name}: ${formatValue(xv, xu)}, ${formatValue(yv, yu)}${extra}`;
  const points: ScatterPoint[] = [];
  let baseline: { x?: number; y?: number } = {};
  if (s && s.trials.length > 0) {
    const front = new Set(s.pareto[`${x}/${y}`] ?? []);
    for (const t of s.trials) {
      const xv = t.metrics[x]?.candidate;
      const yv = t.metrics[y]?.candidate;
      baseline = { x: baseline.x ?? t.metrics[x]?.baseline, y: baseline.y ?? t.metrics[y]?.baseline };
      if (xv === undefined || yv === undefined) continue;
      const kind = front.has(t.name) ? 'front' : t.passed ? 'other' : 'failed';
      const best = t.name === s.best;
      points.push({
        label: t.name,
        x: xv,
        y: yv,
        kind,
        ...(best ? { best } : {}),
        tip: tip(
          t.name,
          xv,
          yv,
          `${best ? ' (best)' : ''}${kind === 'front' ? ' (Pareto front)' : ''}${t.passed ? '' : ' (failed a gate)'}`,
        ),
      });
    }
  } else {
    for (const c of report.candidates) {
      const xv = c.metrics[x]?.candidate;
      const yv = c.metrics[y]?.candidate;
      baseline = { x: baseline.x ?? c.metrics[x]?.baseline, y: baseline.y ?? c.metrics[y]?.baseline };
      if (xv !== undefined && yv !== undefined) points.push({ label: c.name, x: xv, y: yv, kind: 'other', tip: tip(c.name, xv, yv) });
    }
  }
  if (points.length > 0 && baseline.x !== undefined && baseline.y !== undefined) {
    points.push({
      label: report.baseline.name,
      x: baseline.x,
      y: baseline.y,
      kind: 'baseline',
      tip: tip(report.baseline.name, baseline.x, baseline.y, ' (baseline)'),
    });
  }
  return scatterChart({
    id,
    title,
    xLabel: `${metricLabel(x)} (${direction(report, x)})`,
    yLabel: `${metricLabel(y)} (${direction(report, y)})`,
    points,
    xTick: (v) => formatValue(v, xu),
    yTick: (v) => formatValue(v, yu),
    emptyText: `no ${s ? 'trial or candidate' : 'candidate'} has both ${metricLabel(x).toLowerCase()} and ${metricLabel(y).toLowerCase()}`,
    frontLine: true,
  });
}

function direction(report: Report, key: string): string {
  const m = [...report.candidates.map((c) => c.metrics[key]), ...(report.search?.trials ?? []).map((t) => t.metrics[key])].find(
    (v) => v !== undefined,
  );
  return m?.better === 'higher' ? 'higher is better' : 'lower is better';
}

function tradeOffs(report: Report): string {
  const s = report.search;
  const pairs = [...SCATTER_AXES];
  for (const k of Object.keys(s?.pareto ?? {})) {
    const [x, y] = k.split('/');
    if (x !== undefined && y !== undefined && !pairs.some(([a, b]) => a === x && b === y)) pairs.push([x, y]);
  }
  const charts = pairs.map(([x, y], i) => scatterFor(report, x, y, `scatter-${i}`));
  const legend =
    s && s.trials.length > 0 ? scatterLegend(['front', 'other', 'failed', 'baseline', 'best']) : scatterLegend(['other', 'baseline']);
  return `<h2>Trade-offs</h2>${legend}<div class="charts">${charts.join('')}</div>${s ? searchTable(s) : ''}`;
}

// Wider tables stop being readable; the JSON report has every metric of every trial.
const MAX_TRIAL_METRICS = 8;

function searchTable(s: SearchRecord): string {
  const passed = s.trials.filter((t) => t.passed).length;
  const front = new Set(Object.values(s.pareto).flat());
  const keys = trialColumns(s, MAX_TRIAL_METRICS);
  const rows = s.trials.map((t) => {
    const badges = `${t.name === s.best ? ' ★ best' : ''}${front.has(t.name) ? ' ◆ front' : ''}`;
    const failed = [...t.failedGates.map(code), ...(t.error !== undefined ? [`error: ${esc(t.error)}`] : [])].join('<br>');
    return (
      `<tr><td>${esc(t.name)}${badges}</td><td class="l ${t.passed ? 'better' : 'worse'}">${t.passed ? '✓' : '✗'}</td><td class="l config">${configCode(t.config)}</td>` +
      keys
        .map((k) => {
          const m = t.metrics[k];
          return `<td>${m?.candidate === undefined ? '–' : esc(formatValue(m.candidate, m.unit))}</td>`;
        })
        .join('') +
      `<td>${esc(seconds(t.seconds))}</td><td class="l">${failed}</td></tr>`
    );
  });
  const pareto = Object.entries(s.pareto)
    .map(
      ([pair, names]) =>
        `<li>${esc(pair.split('/').map(metricLabel).join(' vs '))}: ${names.length === 0 ? 'none' : names.map(esc).join(', ')}</li>`,
    )
    .join('');
  return (
    `<h3>Search</h3><p>Objective: ${esc(s.objective)} · ${s.trials.length} trials, ${passed} passed every gate · ${s.workers} worker${s.workers === 1 ? '' : 's'} · ${esc(seconds(s.seconds))} · ` +
    `best: ${s.best !== undefined ? `<strong>★ ${esc(s.best)}</strong>` : 'none (no trial passed every gate)'}</p>` +
    (pareto !== '' ? `<p>Pareto front:</p><ul>${pareto}</ul>` : '') +
    (s.trials.length > 0
      ? `<table><thead><tr><th>Trial</th><th class="l">Passed</th><th class="l">Steps</th>${keys.map((k) => `<th>${esc(metricLabel(k))}</th>`).join('')}<th>Time</th><th class="l">Failed gates</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
      : '')
  );
}

const MAX_LAYER_BARS = 80;

/** One bar chart per candidate with per-layer `field`; one "no data" figure when no candidate has any. */
function layerCharts(
  report: Report,
  field: 'sqnrDb' | 'sparsity',
  what: string,
  valueLabel: string,
  fmt: (v: number) => string,
  idPrefix: string,
): string {
  const withData = report.candidates.filter((c) => c.layers?.some((l) => l[field] !== undefined));
  if (withData.length === 0)
    return noData(`${idPrefix}-none`, what, `no candidate reports per-layer ${field === 'sqnrDb' ? 'SQNR' : 'sparsity'}`);
  return withData
    .map((c: CandidateReport, i) => {
      let layers = c.layers!.filter((l): l is LayerDetail & Record<typeof field, number> => l[field] !== undefined);
      let footnote: string | undefined;
      if (layers.length > MAX_LAYER_BARS) {
        // For SQNR the worst layers are the ones worth seeing; for sparsity, the first ones in graph order.
        const keep = new Set(
          field === 'sqnrDb' ? [...layers].sort((a, b) => a.sqnrDb - b.sqnrDb).slice(0, MAX_LAYER_BARS) : layers.slice(0, MAX_LAYER_BARS),
        );
        footnote = `${layers.length - keep.size} of ${layers.length} layers not shown${field === 'sqnrDb' ? ' (those with the highest SQNR)' : ''}.`;
        layers = layers.filter((l) => keep.has(l));
      }
      const bars: Bar[] = layers.map((l) => ({ label: l.name, value: l[field], display: fmt(l[field]) }));
      return barChart({
        id: `${idPrefix}-${i}`,
        title: `${what}: ${c.name}`,
        valueLabel,
        categoryLabel: 'Layer',
        bars,
        tick: fmt,
        emptyText: 'no layers',
        ...(footnote ? { footnote } : {}),
      });
    })
    .join('');
}

function energyPanel(report: Report): string {
  const e = energySummary(report);
  const stepEnergy = report.candidates.flatMap((c) => (c.steps ?? []).flatMap((s, i) => (s.energy ? [{ c, s, i }] : [])));
  if (e === undefined && stepEnergy.length === 0)
    return `<h2>Energy and CO2e</h2>${noData('energy-none', 'Energy per inference', 'this report has no energy or CO2e numbers')}`;
  const parts: string[] = ['<h2>Energy and CO2e</h2>'];
  if (e !== undefined) {
    parts.push(
      `<div class="charts">${modelBars(report, 'energy.perInference', 'bars-energy')}${modelBars(report, 'co2e.perMillion', 'bars-co2e')}</div>`,
    );
    const f = (x: number | undefined, unit: string) => (x === undefined ? '–' : esc(formatValue(x, unit)));
    parts.push(
      `<div class="panel"><table><thead><tr><th>Model</th><th>Energy / inference</th><th>Energy / 1M inferences</th><th>CO2e / 1M inferences</th></tr></thead><tbody>` +
        e.rows
          .map(
            (r) =>
              `<tr><td>${esc(r.name)}${r.isBaseline ? ' (baseline)' : ''}</td><td>${f(r.joulesPerInference, 'J')}</td><td>${f(r.kWhPerMillion, 'kWh')}</td><td>${f(r.gCO2ePerMillion, 'gCO2e')}</td></tr>`,
          )
          .join('') +
        `</tbody></table>` +
        (e.gridIntensity !== undefined ? `<p>Grid intensity: <strong>${esc(formatValue(e.gridIntensity, 'gCO2e'))}/kWh</strong></p>` : '') +
        (e.methods.length > 0 ? `<p>Method:</p><ul>${e.methods.map((m) => `<li>${esc(m)}</li>`).join('')}</ul>` : '') +
        `</div>`,
    );
  }
  if (stepEnergy.length > 0) {
    parts.push(
      `<h3>Energy of the compression steps</h3><table><thead><tr><th>Candidate</th><th class="l">Step</th><th>Energy</th><th>kWh</th><th>CO2e</th><th class="l">Method</th></tr></thead><tbody>` +
        stepEnergy
          .map(
            ({ c, s, i }) =>
              `<tr><td>${esc(c.name)}</td><td class="l">${i + 1}. ${esc(s.kind)}</td><td>${esc(formatValue(s.energy!.joules, 'J'))}</td><td>${esc(formatValue(s.energy!.kWh, 'kWh'))}</td><td>${esc(formatValue(s.energy!.gCO2e, 'gCO2e'))}</td><td class="l">${esc(s.energy!.method)}</td></tr>`,
          )
          .join('') +
        `</tbody></table>`,
    );
  }
  return parts.join('');
}

function stepsSection(report: Report): string {
  const withSteps = report.candidates.filter((c) => (c.steps ?? []).length > 0);
  if (withSteps.length === 0) return '';
  return (
    '<h2>Steps</h2>' +
    withSteps
      .map(
        (c) =>
          `<h3>${esc(c.name)}</h3><table><thead><tr><th>#</th><th class="l">Pass</th><th class="l">Options</th><th>Time</th><th class="l">Notes</th></tr></thead><tbody>` +
          c
            .steps!.map(
              (s, i) =>
                `<tr><td>${i + 1}</td><td class="l">${esc(s.kind)}</td><td class="l">${code(JSON.stringify(s.options))}</td><td>${esc(seconds(s.seconds))}</td><td class="l">${s.notes.map(esc).join('<br>')}</td></tr>`,
            )
            .join('') +
          '</tbody></table>',
      )
      .join('')
  );
}

/** The kernel each quantized op type reaches on the target, per candidate. */
function kernelsSection(report: Report): string {
  const withKernels = report.candidates.filter((c) => (c.kernels ?? []).length > 0);
  if (withKernels.length === 0) return '';
  return (
    '<h2>Kernels on the target</h2>' +
    withKernels
      .map(
        (c) =>
          `<h3>${esc(c.name)}</h3><table><thead><tr><th class="l">Op</th><th class="l">Form</th><th>Nodes</th><th class="l">Kernel</th><th class="l">Source</th></tr></thead><tbody>` +
          c
            .kernels!.map(
              (k) =>
                `<tr><td class="l">${code(k.opType)}</td><td class="l">${esc(k.form)}</td><td>${k.count}</td><td class="l">${esc(k.path)}</td><td class="l">${esc(k.source)}</td></tr>`,
            )
            .join('') +
          '</tbody></table>',
      )
      .join('')
  );
}

function notesSection(report: Report): string {
  const notes = [
    ...report.notes.map(esc),
    ...report.candidates.flatMap((c) => (c.notes ?? []).map((n) => `<strong>${esc(c.name)}</strong>: ${esc(n)}`)),
  ];
  return notes.length === 0 ? '' : `<h2>Notes</h2><ul>${notes.map((n) => `<li>${n}</li>`).join('')}</ul>`;
}

function environmentSection(report: Report): string {
  const entries = environmentEntries(report.environment);
  if (entries.length === 0) return '';
  return `<details><summary>Environment</summary><table><tbody>${entries.map(([k, v]) => `<tr><td>${esc(k)}</td><td class="l">${esc(String(v))}</td></tr>`).join('')}</tbody></table></details>`;
}

/** The report as one self-contained HTML file with charts. */
export function renderHtml(report: Report): string {
  const body = [
    header(report),
    metricsTable(report),
    gatesSection(report),
    `<h2>Size, latency and accuracy</h2><div class="charts">${modelBars(report, 'size.bytes', 'bars-size')}${modelBars(report, 'latency.p50', 'bars-latency')}${modelBars(report, 'accuracy', 'bars-accuracy')}</div>`,
    tradeOffs(report),
    `<h2>Per layer</h2><div class="charts">${layerCharts(report, 'sqnrDb', 'Quantization error per layer', 'SQNR (dB, higher is better)', (v) => `${formatValue(v, '')} dB`, 'layers-sqnr')}` +
      `${layerCharts(report, 'sparsity', 'Sparsity per layer', 'Share of zero weights', (v) => formatValue(v, 'fraction'), 'layers-sparsity')}</div>`,
    energyPanel(report),
    stepsSection(report),
    kernelsSection(report),
    notesSection(report),
    environmentSection(report),
  ];
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><title>Shrink report: ${esc(report.baseline.name)}</title><style>${CSS}</style></head>` +
    `<body><main>${body.filter((s) => s !== '').join('\n')}</main></body></html>\n`
  );
}
