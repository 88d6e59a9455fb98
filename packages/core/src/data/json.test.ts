import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { jsonToDataset, loadJsonDataset } from './json.js';
import { resolveData } from './resolve.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('JSON nested x rows give the sample shape; integer y -> classification', () => {
  const ds = jsonToDataset(
    {
      x: [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ],
      y: [1, 0],
    },
    'a.json',
  );
  assert.deepEqual(ds.sampleShape, [2, 2]);
  assert.deepEqual(Array.from(ds.x), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(ds.task, 'classification');
  assert.equal(ds.numClasses, 2);
});

test('JSON float or array y -> regression with targetSize', () => {
  const scalar = jsonToDataset({ x: [1, 2, 3], y: [0.5, 1, 1.5] }, 'b.json');
  assert.equal(scalar.task, 'regression');
  assert.deepEqual(scalar.sampleShape, [1]);
  assert.equal(scalar.targetSize, 1);
  const vec = jsonToDataset(
    {
      x: [[1], [2]],
      y: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
    'c.json',
  );
  assert.equal(vec.task, 'regression');
  assert.equal(vec.targetSize, 3);
  assert.deepEqual(Array.from(vec.y), [1, 2, 3, 4, 5, 6]);
  const forced = jsonToDataset({ x: [[1], [2]], y: [0, 1] }, 'd.json', { task: 'regression' });
  assert.equal(forced.task, 'regression');
});

test('JSON errors name the file and the key', async () => {
  assert.throws(() => jsonToDataset({ x: [[1, 2], [3]], y: [0, 1] }, 'e.json'), {
    code: 'INVALID_DATA',
    message: /e\.json: x\[1\] is an array of 1, expected an array of 2/,
  });
  assert.throws(
    () =>
      jsonToDataset(
        {
          x: [
            [1, 2],
            [3, 'a'],
          ],
          y: [0, 1],
        },
        'e.json',
      ),
    { message: /x\[1\]\[1\] is "a"/ },
  );
  assert.throws(() => jsonToDataset({ x: [[1], [2]], y: [0] }, 'e.json'), { message: /key "y" is 1 entries; expected an array of 2/ });
  assert.throws(() => jsonToDataset({ y: [0] }, 'e.json'), { message: /key "x" must be a non-empty array/ });
  assert.throws(() => jsonToDataset([1, 2], 'e.json'), { message: /expected an object/ });
  assert.throws(
    () =>
      jsonToDataset(
        {
          x: [[1], [2]],
          y: [
            [1, 2],
            [3, 4],
          ],
        },
        'e.json',
        { task: 'classification' },
      ),
    {
      message: /y holds arrays/,
    },
  );
  fs.writeFileSync(path.join(dir, 'broken.json'), '{"x": [1,');
  await assert.rejects(loadJsonDataset(path.join(dir, 'broken.json')), { code: 'INVALID_DATA', message: /broken\.json: not valid JSON/ });
});

test('resolveData loads .json files', async () => {
  const file = path.join(dir, 'ok.json');
  fs.writeFileSync(file, JSON.stringify({ x: [[0], [1], [2], [3], [4]], y: [0, 1, 0, 1, 0] }));
  const all = await resolveData(file, { split: 'all' });
  assert.equal(all.n, 5);
  assert.equal(all.name, file);
});
