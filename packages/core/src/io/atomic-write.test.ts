import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { writeChunksAtomic, writeFileAtomic } from './atomic-write.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

test('writes and replaces files, leaving no temp files', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'ok-'));
  const file = path.join(dir, 'report.json');
  assert.equal(await writeFileAtomic(file, '{"a":1}'), 7);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}');
  assert.equal(await writeFileAtomic(file, new Uint8Array([1, 2, 3])), 3);
  assert.deepEqual([...fs.readFileSync(file)], [1, 2, 3]);
  assert.deepEqual(leftovers(dir), []);
});

test('chunks of mixed sizes arrive in order (staged small ones, direct large ones)', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'chunks-'));
  const file = path.join(dir, 'data.bin');
  const chunks: Uint8Array[] = [];
  let expected = 0;
  for (let i = 0; i < 300; i++) {
    const size = i % 50 === 0 ? (3 << 20) + i : 1 + ((i * 7919) % 5000);
    chunks.push(new Uint8Array(size).fill(i % 251));
    expected += size;
  }
  async function* gen(): AsyncGenerator<Uint8Array> {
    for (const c of chunks) yield c;
  }
  assert.equal(await writeChunksAtomic(file, gen()), expected);
  const got = fs.readFileSync(file);
  assert.equal(got.length, expected);
  let pos = 0;
  for (const c of chunks) {
    assert.ok(got.subarray(pos, pos + c.length).equals(c), `chunk at ${pos}`);
    pos += c.length;
  }
});

test('a failing write keeps the old file whole and removes the temp file', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'fail-'));
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, 'old contents');
  function* failing(): Generator<Uint8Array> {
    yield new Uint8Array(8 << 20);
    throw new ShrinkError('RUNTIME', 'producer failed');
  }
  await assert.rejects(writeChunksAtomic(file, failing()), /producer failed/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'old contents');
  assert.deepEqual(leftovers(dir), []);
});

test('a missing folder or a folder in the way is a clear IO error, and nothing is left behind', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'missing-'));
  const missing = path.join(dir, 'no', 'such', 'out.onnx');
  await assert.rejects(writeFileAtomic(missing, 'x'), (e: unknown) => {
    assert.ok(e instanceof ShrinkError);
    assert.equal(e.code, 'IO');
    assert.match(e.message, /folder .*no\/such does not exist/);
    return true;
  });
  const asDir = path.join(dir, 'taken');
  fs.mkdirSync(path.join(asDir, 'inner'), { recursive: true });
  await assert.rejects(writeFileAtomic(asDir, 'x'), (e: unknown) => {
    assert.ok(e instanceof ShrinkError);
    assert.equal(e.code, 'IO');
    assert.match(e.message, /taken: it is a folder/);
    return true;
  });
  assert.deepEqual(leftovers(dir), []);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['taken']);
});
