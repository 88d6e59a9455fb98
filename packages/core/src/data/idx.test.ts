import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ShrinkError } from '../errors.js';
import { fashionMnistCandidates, findFashionMnist, loadFashionMnist } from './fashion-mnist.js';
import { loadIdxFolder, parseIdx } from './idx.js';
import { resolveData, resolveSplit } from './resolve.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function idx(dims: number[], data: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

// 3 train images and 2 test images of 2x2 pixels.
const trainPixels = [0, 255, 51, 102, 1, 2, 3, 4, 10, 20, 30, 40];
fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 2, 2], trainPixels)));
fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([3], [2, 0, 1])));
fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), idx([2, 2, 2], [255, 255, 0, 0, 5, 5, 5, 5]));
fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idx([2], [1, 1]));

test('IDX folder: gzipped or plain files, pixels /255, samples [h, w, 1]', async () => {
  const { train, test: t } = await loadIdxFolder(dir);
  assert.equal(train.n, 3);
  assert.deepEqual(train.sampleShape, [2, 2, 1]);
  assert.deepEqual(Array.from(train.x.subarray(0, 4)), [0, 1, 0.2, 0.4].map(Math.fround));
  assert.deepEqual(Array.from(train.y), [2, 0, 1]);
  assert.equal(t.n, 2);
  assert.deepEqual(Array.from(t.y), [1, 1]);
  const viaSpec = await resolveSplit(dir, { limit: 2 });
  assert.equal(viaSpec.train.n, 2);
  assert.equal(viaSpec.test.n, 2);
  const all = await resolveData(dir, { split: 'all' });
  assert.equal(all.n, 5);
});

test('IDX validation: magic, type, truncation and count mismatch name the file', async () => {
  assert.throws(() => parseIdx(Buffer.from([1, 0, 8, 1, 0, 0, 0, 0]), 'm.idx'), {
    code: 'INVALID_DATA',
    message: /m\.idx: not an IDX file/,
  });
  assert.throws(() => parseIdx(Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 0]), 'f.idx'), { message: /f\.idx: IDX element type 0xd \(float32\)/ });
  assert.throws(() => parseIdx(idx([3], [1, 2]), 't.idx'), {
    message: /t\.idx: IDX dims \[3\] need 3 data bytes, the file has 2 \(truncated\)/,
  });
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
  try {
    fs.writeFileSync(path.join(bad, 'train-images-idx3-ubyte'), idx([2, 1, 1], [1, 2]));
    fs.writeFileSync(path.join(bad, 'train-labels-idx1-ubyte'), idx([3], [0, 1, 0]));
    fs.writeFileSync(path.join(bad, 't10k-images-idx3-ubyte.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    fs.writeFileSync(path.join(bad, 't10k-labels-idx1-ubyte'), idx([1], [0]));
    await assert.rejects(resolveData(bad, { split: 'train' }), {
      code: 'INVALID_DATA',
      message: /train-labels-idx1-ubyte: 3 labels but .* has 2 images/,
    });
    await assert.rejects(resolveData(bad, { split: 'test' }), {
      code: 'INVALID_DATA',
      message: /t10k-images-idx3-ubyte\.gz looks gzipped/,
    });
  } finally {
    fs.rmSync(bad, { recursive: true, force: true });
  }
});

test('fashion-mnist: search order, and NOT_FOUND listing the places and the install hint', async () => {
  const cwd = path.dirname(dir);
  const places = fashionMnistCandidates({ env: { SHRINK_FASHION_MNIST: path.basename(dir) }, cwd });
  const besideCwd = path.resolve(cwd, '..', 'shared', 'data', 'fashion-mnist');
  assert.equal(places[0], dir);
  assert.equal(places[1], '/usr/share/datasets/fashion-mnist');
  assert.equal(places.at(-1), besideCwd);
  assert.ok(places.some((p) => p.endsWith(path.join('shared', 'data', 'fashion-mnist')) && p !== besideCwd));
  const missing = [path.join(dir, 'missing'), path.join(dir, 'also-missing')];
  await assert.rejects(findFashionMnist(['test'], { places: missing }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'NOT_FOUND');
    assert.match(e.message, /missing, .*also-missing/);
    assert.match(e.message, /apt-get install dataset-fashion-mnist/);
    return true;
  });
  assert.equal(await findFashionMnist(['train', 'test'], { env: { SHRINK_FASHION_MNIST: dir } }), dir);
});

test('fashion-mnist test set (real data when present)', async (t) => {
  let where: string;
  try {
    where = await findFashionMnist(['test'], { env: {} });
  } catch {
    t.skip('Fashion-MNIST not present (apt-get install dataset-fashion-mnist)');
    return;
  }
  const ds = await loadFashionMnist('test', { env: {} });
  assert.equal(ds.n, 10000, `from ${where}`);
  assert.deepEqual(ds.sampleShape, [28, 28, 1]);
  assert.equal(ds.numClasses, 10);
  const counts = new Array(10).fill(0);
  for (const c of ds.y) counts[c]++;
  assert.deepEqual(counts, new Array(10).fill(1000));
  // The first test image is an ankle boot (class 9).
  assert.equal(ds.y[0], 9);
  const small = await resolveData('fashion-mnist:100', { env: {} });
  assert.equal(small.n, 100);
  assert.equal(small.name, 'fashion-mnist:test');
});

test('SHRINK_FASHION_MNIST naming a missing folder is an error, not a silent fallback', () => {
  assert.throws(
    () => fashionMnistCandidates({ env: { SHRINK_FASHION_MNIST: '/nonexistent/fashion' } }),
    (e: unknown) =>
      e instanceof ShrinkError && e.code === 'NOT_FOUND' && /SHRINK_FASHION_MNIST=\/nonexistent\/fashion: no such folder/.test(e.message),
  );
});
