import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { csvToDataset, loadCsv, parseCsv } from './csv.js';
import { resolveData, resolveSplit } from './resolve.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('CSV with a header: last column is the label, integer labels with few values -> classification', () => {
  const t = parseCsv('a,b,cls\n1,2,0\n3,4,1\n\n5,6,1\n7,8,0\n', 'd.csv');
  assert.deepEqual(t.header, ['a', 'b', 'cls']);
  const ds = csvToDataset(t);
  assert.equal(ds.task, 'classification');
  assert.equal(ds.numClasses, 2);
  assert.deepEqual(ds.sampleShape, [2]);
  assert.deepEqual(Array.from(ds.x), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(Array.from(ds.y), [0, 1, 1, 0]);
});

test('CSV without header, label by name or index, float labels -> regression, task override', () => {
  const t = parseCsv('0.5;1;2.25\n1.5;2;3.5\n', 'r.csv');
  assert.equal(t.header, undefined);
  const reg = csvToDataset(t);
  assert.equal(reg.task, 'regression');
  assert.deepEqual(Array.from(reg.y), [2.25, 3.5]);
  const first = csvToDataset(t, { label: 0 });
  assert.deepEqual(Array.from(first.y), [0.5, 1.5]);
  assert.deepEqual(Array.from(first.x), [1, 2.25, 2, 3.5]);
  const byName = csvToDataset(parseCsv('y,x1\n0,4\n1,5\n', 'n.csv'), { label: 'y', task: 'regression' });
  assert.equal(byName.task, 'regression');
  assert.deepEqual(Array.from(byName.x), [4, 5]);
  // Many distinct integer labels read as regression unless forced.
  const many = parseCsv(Array.from({ length: 10 }, (_, i) => `${i},${i * 3}`).join('\n'), 'm.csv');
  assert.equal(csvToDataset(many).task, 'regression');
  assert.equal(csvToDataset(many, { task: 'classification' }).numClasses, 28);
});

test('CSV errors name file, line and column', () => {
  assert.throws(() => parseCsv('a,b\n1,2\n3\n', 'bad.csv'), { code: 'INVALID_DATA', message: /bad\.csv:3: 1 columns, expected 2/ });
  assert.throws(() => parseCsv('a,b\n1,2\n3,x\n', 'bad.csv'), { code: 'INVALID_DATA', message: /bad\.csv:3: column 2 \("b"\) is "x"/ });
  assert.throws(() => parseCsv('1,2\n3,\n', 'bad.csv'), { code: 'INVALID_DATA', message: /bad\.csv:2: column 2 is ""/ });
  assert.throws(() => parseCsv('\n\n', 'e.csv'), { code: 'INVALID_DATA', message: /e\.csv: no rows/ });
  const t = parseCsv('a,b\n1,0.5\n2,1\n', 'c.csv');
  assert.throws(() => csvToDataset(t, { task: 'classification' }), { code: 'INVALID_DATA', message: /c\.csv:2: label 0\.5/ });
  assert.throws(() => csvToDataset(t, { label: 'z' }), { code: 'INVALID_ARGUMENT', message: /"z" not found in c\.csv: columns are a, b/ });
  assert.throws(() => csvToDataset(t, { label: 5 }), { code: 'INVALID_ARGUMENT' });
});

test('loadCsv reads .csv.gz; resolveData picks files by extension relative to cwd', async () => {
  const rows = Array.from({ length: 20 }, (_, i) => `${i},${i % 2}`).join('\n');
  fs.writeFileSync(path.join(dir, 'p.csv.gz'), gzipSync(rows));
  const ds = await loadCsv(path.join(dir, 'p.csv.gz'));
  assert.equal(ds.n, 20);
  assert.equal(ds.task, 'classification');
  const s = await resolveSplit('p.csv.gz', { cwd: dir, testFraction: 0.5 });
  assert.equal(s.test.n, 10);
  assert.equal(s.train.n, 10);
  const lim = await resolveData('p.csv.gz', { cwd: dir, limit: 6, split: 'all' });
  assert.deepEqual(Array.from(lim.x), [0, 1, 2, 3, 4, 5]);
  await assert.rejects(resolveData('nope.csv', { cwd: dir }), { code: 'NOT_FOUND', message: /nope\.csv/ });
});
