import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GITHUB_COMMENT_LIMIT, renderMarkdown } from './markdown.js';
import { bigSearchReport, fullReport, HOSTILE, plainReport } from './report.fixture.js';
import { metric, metricRow } from './report.js';
import { renderHtml } from './html.js';
import { energySummary } from './energy-summary.js';

/** The cells of the Markdown table row whose first cell starts with `first`. */
function rowCells(md: string, first: string): string[] {
  const line = md.split('\n').find((l) => l.startsWith(`| ${first}`));
  assert.ok(line, `no row starting with ${first}`);
  return line.slice(2, -2).split(' | ');
}

test('renderMarkdown, one candidate: baseline | candidate | change | ratio with humanized units, in METRICS order', () => {
  const md = renderMarkdown(plainReport('int8'));
  assert.match(md, /^## Shrink report\n/, 'no gates: a plain title, no verdict');
  assert.deepEqual(rowCells(md, 'Metric'), ['Metric', 'Baseline: mlp', 'int8', 'Change', 'Ratio', '']);
  assert.deepEqual(rowCells(md, 'Size'), ['Size', '1.00 MB', '250 KB', '-750 KB (-75.0 %)', '0.250×', '🟢 better']);
  assert.deepEqual(rowCells(md, 'Accuracy'), ['Accuracy (top-1)', '95.00 %', '93.75 %', '-1.25 pp', '0.987×', '🔴 worse']);
  assert.deepEqual(rowCells(md, 'custom'), ['custom', '2.000 widgets', '3.000 widgets', '+1.000 widgets (+50.0 %)', '1.50×', '🔴 worse']);
  assert.ok(md.indexOf('| Size') < md.indexOf('| Accuracy') && md.indexOf('| Accuracy') < md.indexOf('| custom'));
  for (const absent of ['### Gates', '### Steps', '### Search', '### Energy', '<details>'])
    assert.ok(!md.includes(absent), `${absent} without data`);
});

test('renderMarkdown, several candidates: one column each with value, ratio and verdict; methods as footnotes', () => {
  const md = renderMarkdown(fullReport());
  assert.deepEqual(rowCells(md, 'Metric'), ['Metric', 'Baseline: mlp', 'mlp-int8', 'mlp-pruned']);
  assert.deepEqual(rowCells(md, 'Size'), ['Size', '1.00 MB', '262 KB (0.262×) 🟢', '520 KB (0.520×) 🟢']);
  // a metric only one candidate has leaves a dash in the other column
  assert.deepEqual(rowCells(md, 'Non-zero'), ['Non-zero parameters', '250 k', '–', '125 k (0.500×) 🟢']);
  // the paired latency ratio, not 1.00/2.00
  assert.deepEqual(rowCells(md, 'Latency p50'), ['Latency p50 <sup>1</sup>', '2.00 ms', '1.00 ms (0.480×) 🟢', '1.80 ms (0.910×) 🟢']);
  assert.match(md, /^<sup>1<\/sup> interleaved A\/B, 50 pairs, batch 1 {2}$/m);
});

test('renderMarkdown: gate verdict in the title and each gate with the values it saw', () => {
  const md = renderMarkdown(fullReport());
  assert.match(md, /^## ❌ Shrink: 2 of 4 gates failed\n/);
  assert.match(md, /^- ❌ `accuracy\.delta >= -0\.01` on \*\*mlp-int8\*\* → accuracy\.delta = -1\.25 pp$/m);
  assert.match(md, /^- ✅ `size\.bytes\.ratio <= 0\.6` on \*\*mlp-int8\*\* → size\.bytes\.ratio = 0\.262×$/m);
  assert.match(md, /^- ❌ `macs\.ratio <= 0\.5` on \*\*mlp-pruned\*\* → macs\.ratio = missing; error: metric macs is missing$/m);

  const ok = fullReport();
  ok.gates = ok.gates!.filter((g) => g.passed);
  assert.match(renderMarkdown(ok), /^## ✅ Shrink: all 2 gates passed\n/);
});

test('renderMarkdown: steps, search, energy, notes and a collapsed environment', () => {
  const md = renderMarkdown(fullReport());
  assert.deepEqual(rowCells(md, '1 | prune'), [
    '1',
    'prune',
    '`{"sparsity":0.5,"structured":false}`',
    '14.5 s',
    '1.23 kJ, 342 mWh, 163 mg CO2e (cpu-power-model, 85 W/socket)',
    'fine-tuned 2 epochs',
  ]);
  assert.deepEqual(rowCells(md, '1 | quantize').slice(3, 5), ['1.25 s', '–']);
  assert.match(md, /Objective: smallest size\.bytes among trials passing every gate · 5 trials, 4 passed every gate · 2 workers · 17\.5 s/);
  assert.match(md, /^Best: ⭐ \*\*t5\*\*$/m);
  assert.deepEqual(rowCells(md, 't5').slice(0, 2), ['t5 ⭐ ◆', '✅']);
  assert.deepEqual(rowCells(md, 't3').slice(3), ['260 KB', '1.10 ms', '93.00 %', '3.30 s', '`accuracy.delta >= -0.01`']);
  assert.match(md, /^- Size vs Accuracy \(top-1\): t1, t2, t5$/m);
  assert.deepEqual(rowCells(md, 'mlp (baseline)'), ['mlp (baseline)', '170 µJ', '47.2 mWh', '22.4 mg CO2e']);
  assert.match(md, /^Grid intensity: 475 g CO2e\/kWh {2}$/m);
  assert.match(md, /^Method: energy x 475 gCO2e\/kWh {2}$/m);
  assert.match(md, /^Making \*\*mlp-pruned\*\* \(1 step\): 1\.23 kJ, 342 mWh, 163 mg CO2e {2}$/m);
  assert.match(md, /^- \*\*mlp-int8\*\*: Softmax skipped \(no handler\)$/m);
  assert.match(md, /<details><summary>Environment<\/summary>\n\n[\s\S]*\| onnxruntime \| 1\.30\.0 \|\n\n<\/details>\n$/);
});

test('renderMarkdown: names and notes cannot inject HTML, break tables, or mention anyone', () => {
  const md = renderMarkdown(plainReport(HOSTILE));
  assert.ok(!md.includes('<script'), md);
  assert.match(md, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  const piped = renderMarkdown(plainReport('a|b\n@team *x*'));
  assert.equal(rowCells(piped, 'Metric').length, 6, 'a pipe in a name does not add a column');
  assert.match(piped, /a\\\|b @\u200bteam \\\*x\\\*/);
  const r = fullReport();
  r.gates![0]!.expression = 'accuracy.delta >= `x` | 1';
  assert.match(renderMarkdown(r), /- ❌ ``accuracy\.delta >= `x` \| 1`` on/, 'a longer fence holds backticks');
});

test('renderMarkdown: a long search is cut to fit a comment, keeping the best and the Pareto members', () => {
  const md = renderMarkdown(bigSearchReport(5000));
  assert.ok(md.length < GITHUB_COMMENT_LIMIT, `${md.length} chars`);
  const listed = md.split('\n').filter((l) => /^\| t\d+/.test(l));
  assert.equal(listed.length, 50);
  assert.ok(
    listed.some((l) => l.startsWith('| t5000 ⭐ ◆')),
    'the best is listed although it is the last trial',
  );
  assert.match(md, /^_4950 of 5000 trials left out to fit a comment/m);
  assert.ok(md.endsWith('</details>\n'), 'the sections after the search are still there');

  // a smaller budget lists fewer trials instead of cutting the report
  const small = renderMarkdown(bigSearchReport(5000), { maxChars: 8000 });
  assert.ok(small.length <= 8000, `${small.length}`);
  assert.match(small, /trials left out/);
  assert.ok(small.includes('</details>'));

  // past what dropping trials can save, a hard cut at a line, saying so, closing the <details>
  const tiny = renderMarkdown(fullReport(), { maxChars: 2500 });
  assert.ok(tiny.length <= 2500, `${tiny.length}`);
  assert.match(tiny, /_Report cut: \d+ more characters did not fit GitHub's comment limit; the JSON report has everything\._/);
  assert.equal((tiny.match(/<details>/g) ?? []).length, (tiny.match(/<\/details>/g) ?? []).length);
});

test('renderMarkdown: the trial table keeps size, latency and accuracy when trials measured more than fits', () => {
  const r = fullReport();
  for (const t of r.search!.trials) {
    for (const k of ['size.gzipBytes', 'params', 'params.nonzero', 'macs', 'latency.p90', 'throughput'])
      t.metrics[k] = metricRow(1, 2, 'count', 'lower');
  }
  const head = rowCells(renderMarkdown(r), 'Trial');
  assert.deepEqual(head.slice(3, 9), ['Size', 'Latency p50', 'Accuracy (top-1)', 'Size (gzip)', 'Parameters', 'Non-zero parameters']);
});

test('several candidates with different baseline runs: each cell shows its own baseline, the table says ratios are paired', () => {
  const r = fullReport();
  const pruned = r.candidates[1]!;
  pruned.metrics['latency.p50'] = metric('latency.p50', 2.5, 1.8, { ratio: 0.7, method: 'interleaved A/B, 50 pairs, batch 1' });
  // Energy comes from each candidate's own baseline latency: all three energy rows differ together.
  pruned.metrics['energy.perInference'] = metric('energy.perInference', 0.0002, 0.000153, { method: 'cpu-power-model' });
  pruned.metrics['energy.kWhPerMillion'] = metric('energy.kWhPerMillion', 0.0002 / 3.6, 0.000153 / 3.6, { method: 'cpu-power-model' });
  pruned.metrics['co2e.perMillion'] = metric('co2e.perMillion', (0.0002 / 3.6) * 475, (0.000153 / 3.6) * 475, {
    method: 'energy x 475 gCO2e/kWh',
  });
  const md = renderMarkdown(r);
  assert.deepEqual(rowCells(md, 'Latency p50'), [
    'Latency p50 <sup>1</sup> †',
    'per candidate †',
    '1.00 ms (0.480×) 🟢 vs 2.00 ms',
    '1.80 ms (0.700×) 🟢 vs 2.50 ms',
  ]);
  assert.deepEqual(
    rowCells(md, 'Size'),
    ['Size', '1.00 MB', '262 KB (0.262×) 🟢', '520 KB (0.520×) 🟢'],
    'rows with one baseline keep its column',
  );
  assert.match(md, /† Rows marked † were measured per candidate, each interleaved with its own baseline run/);
  const html = renderHtml(r);
  assert.match(
    html,
    /<td>per candidate †<\/td><td class="better">1\.00 ms.*?vs baseline 2\.00 ms<\/span><\/td><td class="better">1\.80 ms.*?vs baseline 2\.50 ms/,
  );
  const e = energySummary(r)!;
  assert.deepEqual(
    e.rows.filter((x) => x.isBaseline).map((x) => [x.name, x.joulesPerInference]),
    [
      ['mlp (paired with mlp-int8)', 0.00017],
      ['mlp (paired with mlp-pruned)', 0.0002],
    ],
  );
});

test('renderMarkdown: the target under the title and each candidate’s kernels with their sources', () => {
  const md = renderMarkdown(fullReport());
  assert.match(
    md,
    /^\*\*Target\*\* cpu \(cpu-x86-avx512-vnni\) · onnxruntime-node 1\.30\.0 · ISA avx512-vnni · 1 thread · measured on this machine/m,
  );
  assert.ok(md.indexOf('**Target**') < md.indexOf('### Metrics'));
  assert.match(md, /^### Kernels on the target: mlp-int8$/m);
  assert.deepEqual(rowCells(md, '`MatMulInteger`'), [
    '`MatMulInteger`',
    'u8 x s8',
    '3',
    'MLAS u8s8 GEMM, VPDPBUSD (int32 sums)',
    'microsoft/onnxruntime PR #12088',
  ]);
  assert.ok(!md.includes('Kernels on the target: mlp-pruned'), 'a candidate without kernels has no table');
  const plain = renderMarkdown(plainReport('int8'));
  assert.ok(!plain.includes('**Target**') && !plain.includes('Kernels'), 'no target, no section');
  // text from the report stays inert
  const r = fullReport();
  r.target!.measurement = HOSTILE;
  r.candidates[0]!.kernels![0]!.path = `${HOSTILE} | x`;
  const hostile = renderMarkdown(r);
  assert.ok(!hostile.includes('<script>'));
});
