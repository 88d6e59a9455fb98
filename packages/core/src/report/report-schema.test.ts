// The JSON report, its JSON Schema file and its documentation page must agree with the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseReport, renderJson, reportJsonSchema } from './json.js';
import { METRICS } from './report.js';
import { fullReport } from './report.fixture.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../../../docs/report.schema.json', import.meta.url));
const DOC_FILE = fileURLToPath(new URL('../../../../docs/report-schema.md', import.meta.url));

/** The full fixture with the one optional field it lacks (a trial's error), so every field of the type is exercised. */
function everything() {
  const r = fullReport();
  r.search!.trials[2]!.error = 'worker ran out of memory';
  return r;
}

test('renderJson carries the pipeline fields in a fixed order, and parseReport reads every field back', () => {
  const r = everything();
  const json = renderJson(r);
  const parsed = JSON.parse(json);
  assert.deepEqual(Object.keys(parsed), [
    'schema',
    'createdAt',
    'baseline',
    'candidates',
    'environment',
    'target',
    'notes',
    'gates',
    'search',
  ]);
  assert.deepEqual(Object.keys(parsed.candidates[0]), ['name', 'path', 'metrics', 'notes', 'steps', 'layers', 'kernels']);
  assert.deepEqual(Object.keys(parsed.candidates[1]), ['name', 'metrics', 'steps', 'layers']);
  assert.deepEqual(Object.keys(parsed.target), [
    'name',
    'resolved',
    'runtime',
    'runtimeVersion',
    'isa',
    'threads',
    'measured',
    'measurement',
  ]);
  assert.deepEqual(Object.keys(parsed.candidates[1].steps[0]), ['kind', 'options', 'seconds', 'notes', 'energy']);
  assert.deepEqual(Object.keys(parsed.search), ['objective', 'trials', 'best', 'pareto', 'workers', 'seconds']);
  assert.deepEqual(Object.keys(parsed.search.trials[2]), ['name', 'config', 'metrics', 'passed', 'failedGates', 'seconds', 'error']);
  assert.equal(parsed.gates[3].values['macs.ratio'], null);
  // nothing is lost on the way through JSON and back (zod would silently drop a field it does not know)
  const back = parseReport(json, 'report.json');
  assert.deepEqual(back, JSON.parse(JSON.stringify(r)));
  assert.equal(renderJson(back), json);
  assert.throws(() => parseReport({ ...parsed, gates: [{ ...parsed.gates[0], passed: 'yes' }] }, 'r.json'), /r\.json\.gates\[0\]\.passed/);
});

test('docs/report.schema.json is the JSON Schema of the code and validates a real report', () => {
  const want = `${JSON.stringify(reportJsonSchema(), null, 2)}\n`;
  if (process.env['SHRINK_UPDATE_SCHEMA'] === '1') writeFileSync(SCHEMA_FILE, want);
  const file = readFileSync(SCHEMA_FILE, 'utf8');
  assert.equal(
    file,
    want,
    'docs/report.schema.json is stale: regenerate with SHRINK_UPDATE_SCHEMA=1 node scripts/run-tests.mjs report/report-schema',
  );
  const schema = JSON.parse(file);
  assert.equal(schema.properties.schema.const, 'shrink.report/v1');

  // validate with the file itself (zod reads JSON Schema), not with the schema the file came from
  const fromFile = z.fromJSONSchema(schema);
  const real = JSON.parse(renderJson(everything()));
  const ok = fromFile.safeParse(real);
  assert.ok(ok.success, ok.success ? '' : JSON.stringify(ok.error.issues.slice(0, 3)));
  const bad = JSON.parse(renderJson(everything()));
  bad.candidates[0].metrics.accuracy.better = 'sideways';
  assert.equal(fromFile.safeParse(bad).success, false);
  assert.equal(fromFile.safeParse({ ...real, schema: 'shrink.report/v0' }).success, false);
  assert.equal(fromFile.safeParse({ ...real, search: { ...real.search, trials: 'none' } }).success, false);
  assert.equal(fromFile.safeParse({ ...real, target: { ...real.target, measured: 'yes' } }).success, false);
});

/** Every property name anywhere in a JSON Schema. */
function propertyNames(s: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(s)) for (const x of s) propertyNames(x, out);
  else if (s !== null && typeof s === 'object') {
    const o = s as Record<string, unknown>;
    if (o['properties'] !== null && typeof o['properties'] === 'object') for (const k of Object.keys(o['properties'])) out.add(k);
    for (const v of Object.values(o)) propertyNames(v, out);
  }
  return out;
}

test('docs/report-schema.md documents every field, every metric key and the schema id', () => {
  const doc = readFileSync(DOC_FILE, 'utf8');
  const fields = [...propertyNames(reportJsonSchema())];
  assert.ok(fields.length > 40, `only ${fields.length} fields found`);
  const missing = fields.filter((f) => !doc.includes(`| \`${f}\` |`));
  assert.deepEqual(missing, [], 'fields without a row in docs/report-schema.md');
  for (const k of ['joules', 'kWh', 'gCO2e', 'method']) assert.ok(doc.includes(`\`${k}\``), k);
  const keys = Object.keys(METRICS).filter((k) => !doc.includes(`\`${k}\``));
  assert.deepEqual(keys, [], 'metric keys missing from the doc');
  assert.ok(doc.includes('`"shrink.report/v1"`'));
});
