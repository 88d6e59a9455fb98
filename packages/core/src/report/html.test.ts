import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml } from './html.js';
import { barChart, niceTicks, scatterChart } from './svg-charts.js';
import { createReport } from './report.js';
import { fullReport, HOSTILE, plainReport } from './report.fixture.js';

/** The <figure> with this id, or undefined. */
function figure(html: string, id: string): string | undefined {
  const start = html.indexOf(`<figure class="chart" id="${id}">`);
  const nd = html.indexOf(`<figure class="chart no-data" id="${id}">`);
  const at = start >= 0 ? start : nd;
  if (at < 0) return undefined;
  return html.slice(at, html.indexOf('</figure>', at) + '</figure>'.length);
}

const ALL_CHARTS = [
  'bars-size',
  'bars-latency',
  'bars-accuracy',
  'scatter-0',
  'scatter-1',
  'layers-sqnr-0',
  'layers-sparsity-0',
  'bars-energy',
  'bars-co2e',
];

test('renderHtml: one self-contained document: no scripts, no external references, a CSP that forbids loading', () => {
  const html = renderHtml(fullReport());
  assert.match(html, /^<!doctype html>\n<html lang="en"><head><meta charset="utf-8">/);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
  assert.ok(!/<script|<link|<img|<iframe|@import|url\(/i.test(html), 'nothing that loads or runs');
  // the only URL is the SVG namespace, which browsers never fetch
  const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
  assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg']);
  assert.ok(html.endsWith('</main></body></html>\n'));
});

test('renderHtml: every chart kind is drawn for a report that has the data, each with a title, axis labels and an accessible <title>', () => {
  const html = renderHtml(fullReport());
  for (const id of ALL_CHARTS) {
    const f = figure(html, id);
    assert.ok(f, `chart ${id} missing`);
    assert.ok(!f.includes('no-data'), `${id} has data`);
    assert.match(f, /<figcaption>[^<]+<\/figcaption>/, `${id} caption`);
    assert.match(f, new RegExp(`<svg class="chart-svg" role="img" aria-labelledby="${id}-t ${id}-d"`), `${id} aria`);
    assert.match(f, new RegExp(`<title id="${id}-t">[^<]+</title><desc id="${id}-d">[^<]+</desc>`), `${id} title/desc`);
    assert.equal((f.match(/class="axis-label"/g) ?? []).length, 2, `${id} has two axis labels`);
    assert.match(f, /<rect |<circle /, `${id} draws shapes`);
  }
  assert.ok(html.includes('<figcaption>Size per model</figcaption>'));
  assert.ok(html.includes('<figcaption>Accuracy (top-1) vs Size (search trials)</figcaption>'));
  assert.ok(html.includes('<figcaption>Quantization error per layer: mlp-int8</figcaption>'));
  assert.ok(html.includes('<figcaption>Sparsity per layer: mlp-pruned</figcaption>'));
});

test('renderHtml: numbers appear humanized in tables, bars and tooltips', () => {
  const html = renderHtml(fullReport());
  const size = figure(html, 'bars-size')!;
  assert.match(size, /<title>mlp \(baseline\): 1\.00 MB<\/title>/);
  assert.match(size, />262 KB<\/text>/);
  assert.match(size, /<g class="bar baseline">/);
  assert.match(figure(html, 'layers-sqnr-0')!, />24\.90 dB<\/text>/);
  assert.match(figure(html, 'layers-sparsity-0')!, />52\.00 %<\/text>/);
  // table cells: value, change and ratio, verdict as a class
  assert.match(html, /<td class="better">262 KB<span class="change">-738 KB \(-73\.8 %\)<\/span><span class="ratio">0\.262×<\/span><\/td>/);
  assert.match(html, /<td class="worse">93\.75 %<span class="change">-1\.25 pp<\/span>/);
  // energy panel: per-model numbers, method and grid intensity; the step's own energy
  assert.match(html, /<tr><td>mlp \(baseline\)<\/td><td>170 µJ<\/td><td>47\.2 mWh<\/td><td>22\.4 mg CO2e<\/td><\/tr>/);
  assert.match(html, /Grid intensity: <strong>475 g CO2e\/kWh<\/strong>/);
  assert.match(html, /<li>cpu-power-model: 85 W\/socket x p50 latency; CO2e at 475 g\/kWh<\/li>/);
  assert.match(html, /<td>1\.23 kJ<\/td><td>342 mWh<\/td><td>163 mg CO2e<\/td><td class="l">cpu-power-model, 85 W\/socket<\/td>/);
});

test('renderHtml: gates verdict and each gate with the values it read', () => {
  const html = renderHtml(fullReport());
  assert.match(html, /<p class="verdict fail">✗ 2 of 4 gates failed<\/p>/);
  assert.match(
    html,
    /<li class="fail"><span class="fail-mark">✗ fail<\/span> <code>accuracy\.delta &gt;= -0\.01<\/code> on <strong>mlp-int8<\/strong> → accuracy\.delta = -1\.25 pp<\/li>/,
  );
  assert.match(
    html,
    /<code>macs\.ratio &lt;= 0\.5<\/code> on <strong>mlp-pruned<\/strong> → macs\.ratio = missing <em>\(metric macs is missing\)<\/em>/,
  );
  const ok = fullReport();
  ok.gates = ok.gates!.filter((g) => g.passed);
  assert.match(renderHtml(ok), /<p class="verdict pass">✓ All 2 gates passed<\/p>/);
  assert.ok(!renderHtml(plainReport('x')).includes('class="verdict'), 'no gates, no verdict');
});

test('renderHtml: the search front is highlighted and joined by a line; failed trials and the best are marked', () => {
  const sc = figure(renderHtml(fullReport()), 'scatter-0')!;
  assert.equal((sc.match(/<g class="pt front/g) ?? []).length, 3, 't1, t2, t5 on the size/accuracy front');
  assert.match(sc, /<g class="pt front best"><title>t5: 300 KB, 94\.20 % \(best\) \(Pareto front\)<\/title>/);
  assert.match(sc, /<g class="pt failed"><title>t3: 260 KB, 93\.00 % \(failed a gate\)<\/title>/);
  assert.match(sc, /<g class="pt baseline"><title>mlp: 1\.00 MB, 95\.00 % \(baseline\)<\/title>/);
  assert.match(sc, /<path class="front-line" d="M[\d.]+ [\d.]+ L[\d.]+ [\d.]+ L[\d.]+ [\d.]+"\/>/);
});

test('renderHtml: without search, candidates are the scatter; without layers or energy, "no data" instead of an empty chart', () => {
  const html = renderHtml(plainReport('int8'));
  const sc = figure(html, 'scatter-0')!;
  assert.match(sc, /<figcaption>Accuracy \(top-1\) vs Size \(candidates\)<\/figcaption>/);
  assert.equal((sc.match(/<circle /g) ?? []).length, 2, 'the candidate and the baseline');
  assert.ok(!sc.includes('front-line'));
  for (const [id, why] of [
    ['scatter-1', 'no candidate has both latency p50 and accuracy (top-1)'],
    ['bars-latency', 'no model in this report has latency p50'],
    ['layers-sqnr-none', 'no candidate reports per-layer SQNR'],
    ['layers-sparsity-none', 'no candidate reports per-layer sparsity'],
    ['energy-none', 'this report has no energy or CO2e numbers'],
  ] as const) {
    const f = figure(html, id);
    assert.ok(f, id);
    assert.ok(f.includes(`<p class="no-data">No data: ${why}</p>`), `${id}: ${f}`);
    assert.ok(!f.includes('<svg'), `${id} has no empty svg`);
  }
  const empty = renderHtml(createReport({ baseline: { name: 'm' } }));
  assert.ok(empty.includes('<p>No candidates.</p>'));
  assert.ok(!empty.includes('<svg class="chart-svg"'), 'nothing to draw, no chart');
});

test('renderHtml escapes every string from the report', () => {
  const r = fullReport();
  r.baseline.name = HOSTILE;
  r.candidates[0]!.name = HOSTILE;
  r.candidates[0]!.layers![0]!.name = `"><img src=x onerror=alert(1)>`;
  r.candidates[0]!.steps![0]!.notes = [HOSTILE];
  r.candidates[0]!.steps![0]!.options = { evil: HOSTILE };
  r.gates![0]!.expression = HOSTILE;
  r.search!.trials[0]!.name = HOSTILE;
  r.search!.objective = HOSTILE;
  r.notes = [HOSTILE];
  r.environment = { [HOSTILE]: HOSTILE };
  r.createdAt = HOSTILE;
  const html = renderHtml(r);
  assert.ok(!/<script|<img/i.test(html), 'no markup got through');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(html.includes('{&quot;evil&quot;:&quot;&lt;script&gt;'), 'JSON of options escaped too');
});

test('barChart and scatterChart: axes from round ticks, negative bars from zero, long layer lists capped', () => {
  assert.deepEqual(niceTicks(0, 0.95, 4), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(262_144, 1_000_000, 4), [200_000, 400_000, 600_000, 800_000, 1_000_000]);
  assert.deepEqual(niceTicks(5, 5, 4), [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6], 'one value still gets an axis');
  const neg = barChart({
    id: 'n',
    title: 'T',
    valueLabel: 'v',
    categoryLabel: 'c',
    bars: [
      { label: 'a', value: -3, display: '-3' },
      { label: 'b', value: 6, display: '6' },
    ],
    tick: String,
    emptyText: '',
  });
  const rects = [...neg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
  assert.equal(rects.length, 2);
  assert.ok(Math.abs(rects[0]![0] + rects[0]![1] - rects[1]![0]) < 0.11, 'the negative bar ends where the positive one starts (zero)');
  const one = scatterChart({
    id: 's',
    title: 'T',
    xLabel: 'x',
    yLabel: 'y',
    points: [{ label: 'p', x: 1, y: 1, kind: 'other', tip: 'p' }],
    xTick: String,
    yTick: String,
    emptyText: '',
  });
  assert.doesNotMatch(one, /NaN|Infinity/);

  const r = fullReport();
  r.candidates[0]!.layers = Array.from({ length: 200 }, (_, i) => ({ name: `layer${i}`, sqnrDb: 20 + (i % 40) }));
  const f = figure(renderHtml(r), 'layers-sqnr-0')!;
  assert.equal((f.match(/<g class="bar /g) ?? []).length, 80);
  assert.match(f, /<p class="chart-note">120 of 200 layers not shown \(those with the highest SQNR\)\.<\/p>/);
  assert.ok(!f.includes('>59.00 dB<'), 'the best layers are the ones left out');
});

test('scatterChart: points at the same spot share one label; labels stay inside the plot', () => {
  const pts = [
    { label: 'a', x: 1, y: 1, kind: 'front' as const, tip: 'a' },
    { label: 'b', x: 1, y: 1, kind: 'front' as const, tip: 'b' },
    { label: 'c', x: 2, y: 3, kind: 'other' as const, tip: 'c' },
  ];
  const svg = scatterChart({ id: 's', title: 'T', xLabel: 'x', yLabel: 'y', points: pts, xTick: String, yTick: String, emptyText: '' });
  const labels = [...svg.matchAll(/<text class="pt-label" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)<\/text>/g)];
  assert.deepEqual(labels.map((m) => m[3]).sort(), ['a, b', 'c']);
  for (const m of labels)
    assert.ok(
      Number(m[1]) >= 70 && Number(m[1]) <= 640 - 24 && Number(m[2]) >= 14 && Number(m[2]) <= 14 + 280 + 2,
      `label at ${m[1]},${m[2]}`,
    );
  assert.equal((svg.match(/<circle /g) ?? []).length, 3, 'every point is still drawn');
});

test('renderHtml: the target in the header and a kernels table per candidate, escaped', () => {
  const html = renderHtml(fullReport());
  assert.match(
    html,
    /<p class="meta target">Target <strong>cpu \(cpu-x86-avx512-vnni\) · onnxruntime-node 1\.30\.0 · ISA avx512-vnni · 1 thread · measured on this machine/,
  );
  assert.match(html, /<h2>Kernels on the target<\/h2><h3>mlp-int8<\/h3>/);
  assert.match(html, /<td class="l">u8 x s8<\/td><td>3<\/td><td class="l">MLAS u8s8 GEMM, VPDPBUSD \(int32 sums\)<\/td>/);
  assert.ok(!renderHtml(plainReport('x')).includes('Kernels on the target'));
  const r = fullReport();
  r.target!.name = HOSTILE;
  r.candidates[0]!.kernels![0]!.source = HOSTILE;
  assert.ok(!renderHtml(r).includes('<script>'));
});
