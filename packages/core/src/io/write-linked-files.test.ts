import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShrinkError } from '../errors.js';
import { writeLinkedFiles } from './write-linked-files.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shrink-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const text = (s: string): Uint8Array[] => [new TextEncoder().encode(s)];
/** A main file that lists its linked files' names, as model.json lists weight shards. */
const write = (dir: string, tag: string, check?: Parameters<typeof writeLinkedFiles>[3]) =>
  writeLinkedFiles(
    path.join(dir, 'main.json'),
    [
      { target: path.join(dir, 'a.bin'), chunks: text(`a ${tag}`) },
      { target: path.join(dir, 'shards', 'b.bin'), chunks: text(`b ${tag}`) },
    ],
    (names) => text(JSON.stringify({ tag, names })),
    check,
  );
/** What main.json says, with each named file's contents. */
const read = (dir: string): { tag: string; files: string[] } => {
  const main = JSON.parse(fs.readFileSync(path.join(dir, 'main.json'), 'utf8')) as { tag: string; names: string[] };
  return { tag: main.tag, files: main.names.map((n) => `${n}: ${fs.readFileSync(path.join(dir, n), 'utf8')}`) };
};

test('several linked files, one in a subfolder: written, replaced, and named by their usual names; nothing else left', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'linked-'));
  const first = await write(dir, 'one');
  assert.deepEqual(first.files, [
    { path: path.join(dir, 'a.bin'), bytes: 5 },
    { path: path.join(dir, 'shards', 'b.bin'), bytes: 5 },
  ]);
  assert.deepEqual(read(dir), { tag: 'one', files: ['a.bin: a one', 'shards/b.bin: b one'] });
  const second = await write(dir, 'two');
  assert.equal(second.bytes, fs.statSync(path.join(dir, 'main.json')).size);
  assert.deepEqual(read(dir), { tag: 'two', files: ['a.bin: a two', 'shards/b.bin: b two'] });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.bin', 'main.json', 'shards']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'shards')), ['b.bin']);
});

test('the check sees the complete new set in the stage folder; when it throws, the old set stays and nothing is left', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'check-'));
  await write(dir, 'old');
  await assert.rejects(
    write(dir, 'new', async (staged) => {
      assert.equal(path.dirname(staged.main), path.dirname(staged.files[0]!.path));
      assert.match(path.basename(path.dirname(staged.main)), /^\.main\.json\.\d+\.[0-9a-f]{12}\.stage$/);
      assert.deepEqual(read(path.dirname(staged.main)), { tag: 'new', files: ['a.bin: a new', 'shards/b.bin: b new'] });
      assert.deepEqual(read(dir).tag, 'old');
      throw new ShrinkError('RUNTIME', 'check failed');
    }),
    /check failed/,
  );
  assert.deepEqual(read(dir), { tag: 'old', files: ['a.bin: a old', 'shards/b.bin: b old'] });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.bin', 'main.json', 'shards']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'shards')), ['b.bin']);
});

test('a linked file that is the main file, outside its folder, or a folder is refused before anything is written', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'refuse-'));
  const main = path.join(dir, 'main.json');
  const attempt = (target: string) => writeLinkedFiles(main, [{ target, chunks: text('x') }], () => text('{}'));
  await assert.rejects(attempt(main), /must be another file inside the main file's folder/);
  await assert.rejects(attempt(path.join(root, 'elsewhere.bin')), /must be another file inside the main file's folder/);
  fs.mkdirSync(path.join(dir, 'taken'));
  await assert.rejects(attempt(path.join(dir, 'taken')), /taken: it is a folder/);
  await assert.rejects(
    writeLinkedFiles(path.join(dir, 'no', 'main.json'), [{ target: path.join(dir, 'no', 'a.bin'), chunks: text('x') }], () => text('{}')),
    /folder .*no does not exist/,
  );
  assert.deepEqual(fs.readdirSync(dir), ['taken']);
});
