import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFloors, DegradedModelError, DEFAULT_FLOORS, degradedLines, refuseDegraded } from './guard.js';
import { parseReport, renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import { renderHtml } from './html.js';
import { createReport, metric, type CandidateReport } from './report.js';
import { renderTable } from './table.js';

const rows = (cos: number, agree?: number, acc?: [number, number]) => ({
  'size.bytes': metric('size.bytes', 1000, 250),
  'fidelity.cosineSimilarity': metric('fidelity.cosineSimilarity', undefined, cos),
  ...(agree !== undefined ? { 'fidelity.top1Agreement': metric('fidelity.top1Agreement', undefined, agree) } : {}),
  ...(acc ? { accuracy: metric('accuracy', acc[0], acc[1]) } : {}),
});

test('checkFloors: each floor fails on its own side of the line and passes on the other', () => {
  assert.equal(checkFloors(rows(0.95, 0.9, [0.9, 0.85])).passed, true);
  assert.deepEqual(checkFloors(rows(0.95, 0.9, [0.9, 0.85])).checked, ['fidelity.cosineSimilarity', 'fidelity.top1Agreement', 'accuracy']);
  const cos = checkFloors(rows(0.899));
  assert.equal(cos.passed, false);
  assert.deepEqual(
    cos.failures.map((f) => f.metric),
    ['fidelity.cosineSimilarity'],
  );
  assert.match(cos.failures[0]!.text, /cosine similarity 0\.899 < 0\.9/);
  assert.equal(checkFloors(rows(0.9)).passed, true, 'the floor itself passes');
  assert.deepEqual(
    checkFloors(rows(0.99, 0.49)).failures.map((f) => f.metric),
    ['fidelity.top1Agreement'],
  );
  assert.equal(checkFloors(rows(0.99, 0.5)).passed, true);
  const acc = checkFloors(rows(0.99, 0.9, [0.95, 0.849]));
  assert.deepEqual(
    acc.failures.map((f) => f.metric),
    ['accuracy'],
  );
  assert.match(acc.failures[0]!.text, /95\.00 % -> 84\.90 % \(-10\.1 points/);
  assert.equal(checkFloors(rows(0.99, 0.9, [0.95, 0.851])).passed, true);
  // A zero cosine (one side all zeros, as a broken fp16 model gave) is a failure, not "no data".
  assert.equal(checkFloors(rows(0)).passed, false);
  assert.equal(checkFloors(rows(0.8), { ...DEFAULT_FLOORS, minCosine: 0.5 }).passed, true, 'floors can be set');
});

test('a failed guard leads every rendering, survives JSON, and refuseDegraded throws naming the metric', () => {
  const bad: CandidateReport = { name: 'model_fp16.onnx', metrics: rows(0.491, 0.12), guard: checkFloors(rows(0.491, 0.12)) };
  const good: CandidateReport = { name: 'model_q8.onnx', metrics: rows(0.9999, 0.99), guard: checkFloors(rows(0.9999, 0.99)) };
  const report = createReport({ baseline: { name: 'model.onnx' }, candidates: [good, bad] });
  assert.deepEqual(degradedLines(report.candidates), [
    'model_fp16.onnx FAILED the fidelity guard: cosine similarity 0.491 < 0.9; top-1 agreement 12.00 % < 50.00 %',
  ]);
  assert.match(renderTable(report), /Candidate: model_fp16\.onnx\nFAILED the fidelity guard .*cosine similarity 0\.491 < 0\.9/);
  assert.doesNotMatch(renderTable(createReport({ baseline: { name: 'm' }, candidates: [good] })), /FAILED/);
  const md = renderMarkdown(report);
  assert.match(md.split('\n')[0]!, /❌ .*fidelity guard/);
  assert.match(md, /> ❌ model\\_fp16\.onnx FAILED the fidelity guard/);
  assert.match(renderHtml(report), /class="verdict fail">✗ model_fp16\.onnx FAILED the fidelity guard/);
  const back = parseReport(renderJson(report));
  assert.equal(back.candidates[1]!.guard?.passed, false);
  assert.equal(back.candidates[1]!.guard?.failures[0]?.metric, 'fidelity.cosineSimilarity');
  assert.throws(
    () => refuseDegraded(report.candidates),
    (e: unknown) =>
      e instanceof DegradedModelError &&
      e.code === 'DEGRADED' &&
      e.candidate === 'model_fp16.onnx' &&
      /cosine similarity 0\.491 < 0\.9; top-1 agreement 12\.00 % < 50\.00 %; nothing written$/.test(e.message),
  );
  refuseDegraded(report.candidates, { allow: true });
  refuseDegraded([good]);
});

test('on synthetic inputs top-1 agreement is reported but not judged; cosine still is', () => {
  const g = checkFloors(rows(0.99, 0.3), DEFAULT_FLOORS, { synthetic: true });
  assert.equal(g.passed, true);
  assert.deepEqual(g.checked, ['fidelity.cosineSimilarity']);
  assert.equal(checkFloors(rows(0.5, 0.3), DEFAULT_FLOORS, { synthetic: true }).passed, false);
});

test('a guard with nothing to read says fidelity was NOT judged, in every rendering', () => {
  const g = checkFloors({ 'size.bytes': metric('size.bytes', 1000, 500) }, DEFAULT_FLOORS, {
    synthetic: true,
    unjudged: "the baseline's output 'y' is all zeros on the 64 synthetic inputs",
  });
  assert.equal(g.passed, true);
  assert.deepEqual(g.checked, []);
  const report = createReport({
    baseline: { name: 'det.onnx' },
    candidates: [{ name: 'det_fp16.onnx', metrics: { 'size.bytes': metric('size.bytes', 1000, 500) }, guard: g }],
  });
  assert.match(renderTable(report), /det_fp16\.onnx.*\nfidelity NOT judged: the baseline's output 'y' is all zeros/);
  assert.match(renderMarkdown(report), /> ⚠️ det\\_fp16\.onnx: fidelity NOT judged/);
  assert.equal(parseReport(renderJson(report)).candidates[0]!.guard!.unjudged, g.unjudged);
});

test('"better" never stands beside a model that failed the guard or could not be judged; the failed row says worse', () => {
  const bad: CandidateReport = { name: 'bad.onnx', metrics: rows(0.491), guard: checkFloors(rows(0.491)) };
  const blind: CandidateReport = {
    name: 'blind.onnx',
    metrics: { 'size.bytes': metric('size.bytes', 1000, 250) },
    guard: checkFloors({}, DEFAULT_FLOORS, { unjudged: 'the baseline stays within ±1e-4' }),
  };
  const good: CandidateReport = { name: 'good.onnx', metrics: rows(0.999), guard: checkFloors(rows(0.999)) };
  const sizeRow = (text: string) => text.split('\n').find((l) => /│ Size /.test(l)) ?? '';
  const cosRow = (text: string) => text.split('\n').find((l) => /Cosine/.test(l)) ?? '';
  for (const c of [bad, blind]) {
    const t = renderTable(createReport({ baseline: { name: 'm' }, candidates: [c] }));
    assert.doesNotMatch(t, /better/, c.name);
    assert.match(sizeRow(t), /0\.250×/);
    const md = renderMarkdown(createReport({ baseline: { name: 'm' }, candidates: [c] }));
    assert.doesNotMatch(md, /better/, c.name);
  }
  assert.match(cosRow(renderTable(createReport({ baseline: { name: 'm' }, candidates: [bad] }))), /worse/);
  assert.match(sizeRow(renderTable(createReport({ baseline: { name: 'm' }, candidates: [good] }))), /better/);
});
