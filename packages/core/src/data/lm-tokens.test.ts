import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTokensFile, tokenizeTextFile } from './lm-tokens.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-lm-tokens-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, body: unknown) => {
  const f = path.join(dir, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
  return f;
};

test('a tokens file: attention_mask drops padding, an all-padding row is skipped, a flat list is one row', async () => {
  const t = await readTokensFile(
    file('t.json', {
      input_ids: [
        [5, 6, 7, 0],
        [8, 0, 0, 0],
        [0, 0, 0, 0],
      ],
      attention_mask: [
        [1, 1, 1, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 0],
      ],
    }),
  );
  assert.deepEqual(
    t.rows.map((r) => [...r]),
    [[5, 6, 7], [8]],
  );
  assert.deepEqual(t.rowIndex, [0, 1]);
  assert.equal(t.maxId, 8);
  assert.equal(t.maxAt, '[1][0]');
  const flat = await readTokensFile(file('flat.json', { input_ids: [1, 2, 3] }));
  assert.deepEqual([...flat.rows[0]!], [1, 2, 3]);
  await assert.rejects(readTokensFile(file('one.json', { input_ids: [[1], [2]] })), /no token with one before it/);
  await assert.rejects(
    readTokensFile(file('mask.json', { input_ids: [[1, 2]], attention_mask: [[1, 2]] })),
    /attention_mask\[0\]\[1\] is 2; expected 0 or 1/,
  );
  await assert.rejects(readTokensFile(file('arr.json', [[1, 2]])), /expected an object \{"input_ids"/);
  await assert.rejects(
    readTokensFile(file('float.json', { input_ids: [[1, 2.5]] })),
    (e: Error & { option?: string }) => e.option === 'tokens' && /input_ids\[0\]\[1\] is 2\.5/.test(e.message),
  );
});

test('text through a tokenizer.json, offline; a word the vocabulary lacks with no unk id is refused naming it', async () => {
  const tok = (unk: boolean) =>
    file(`tok-${unk}.json`, {
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab: { '[UNK]': 0, a: 1, b: 2 }, unk_token: unk ? '[UNK]' : null },
    });
  const text = file('t.txt', 'a b a b b');
  const t = await tokenizeTextFile(text, tok(true));
  assert.deepEqual([...t.rows[0]!], [1, 2, 1, 2, 2]);
  assert.equal(t.name, 't.txt via tok-true.json');
  await assert.rejects(tokenizeTextFile(file('c.txt', 'a c'), tok(true)), /token "c" \(token 1 of .*c\.txt\) has no id/);
  await assert.rejects(tokenizeTextFile(text, file('notok.json', { version: '1.0' })), /no "model" object/);
});
