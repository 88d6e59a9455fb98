// `shrink eval --task lm` and `shrink compare --tokens/--text` end to end, on a random-weight bigram LM
// built here (Gather over an embedding -> MatMul -> logits), in real onnxruntime.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '@shrink/core';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-lm-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const V = 7;
const D = 4;
function lm(file: string, shift: number): string {
  const vals = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) + (i % V === 3 ? shift : 0));
  writeFileSync(
    file,
    encodeModel(
      makeModel(
        makeGraph({
          nodes: [makeNode('Gather', ['E', 'input_ids'], ['h']), makeNode('MatMul', ['h', 'W'], ['logits'])],
          inputs: [makeValueInfo('input_ids', 'int64', ['batch', 'seq'])],
          outputs: [makeValueInfo('logits', 'float32', ['batch', 'seq', V])],
          initializers: [makeTensor('E', 'float32', [V, D], vals(V * D, 1)), makeTensor('W', 'float32', [D, V], vals(D * V, 2))],
        }),
      ),
    ),
  );
  return file;
}
const a = lm(path.join(dir, 'a.onnx'), 0);
const b = lm(path.join(dir, 'b.onnx'), 0.5);
// "the cat sat on the mat ." in a word-level vocabulary; the text file says the same words
const WORDS = ['[UNK]', 'the', 'cat', 'sat', 'on', 'mat', '.'];
const sentence = 'the cat sat on the mat .';
const ids = sentence.split(' ').map((w) => WORDS.indexOf(w));
const row = [...ids, ...ids, ...ids];
const tokens = path.join(dir, 'tokens.json');
writeFileSync(tokens, JSON.stringify({ input_ids: [row] }));
const text = path.join(dir, 'valid.txt');
writeFileSync(text, `${sentence} ${sentence} ${sentence}`);
const tokenizer = path.join(dir, 'tokenizer.json');
writeFileSync(
  tokenizer,
  JSON.stringify({
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(WORDS.map((w, i) => [w, i])), unk_token: '[UNK]' },
  }),
);

test('eval --task lm prints perplexity; a text file through tokenizer.json gives the same number as its tokens', () => {
  const r = runShrink(dir, ['eval', a, '--task', 'lm', '--tokens', tokens, '--context', '8']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^perplexity \d+\.\d+ \(mean NLL .* nats\) on 20 tokens of tokens\.json in \d+ windows of 8 \(stride 4\)/);
  const j = runJson(dir, ['eval', a, '--task', 'lm', '--tokens', tokens, '--context', '8']);
  assert.equal(j['task'], 'lm');
  assert.equal(j['tokens'], row.length - 1);
  assert.ok(Math.abs(j['perplexity'] - Math.exp(j['meanNll'])) < 1e-9 * j['perplexity']);
  const t = runJson(dir, ['eval', a, '--task', 'lm', '--text', text, '--tokenizer', tokenizer, '--context', '8']);
  assert.equal(t['tokens'], j['tokens']);
  assert.equal(t['perplexity'], j['perplexity']);
  assert.equal(t['data'], 'valid.txt via tokenizer.json');
});

test('compare with --tokens reports both perplexities, next-token KL and top-1 agreement', () => {
  const j = runJson(dir, ['compare', a, b, '--tokens', tokens, '--context', '8', '--runs', '2', '--warmup', '0']);
  const m = j['report'].candidates[0].metrics;
  assert.ok(m['lm.perplexity'].baseline > 0 && m['lm.perplexity'].candidate > 0);
  assert.ok(m['lm.meanKL'].candidate > 0);
  assert.ok(m['lm.top1Agreement'].candidate >= 0 && m['lm.top1Agreement'].candidate <= 1);
  assert.ok(j['report'].candidates[0].guard.checked.includes('lm.perplexity'));
  const self = runJson(dir, ['compare', a, a, '--tokens', tokens, '--runs', '2', '--warmup', '0']);
  assert.equal(self['report'].candidates[0].metrics['lm.meanKL'].candidate, 0);
  assert.equal(self['report'].candidates[0].metrics['lm.top1Agreement'].candidate, 1);
});

test('bad tokens files: one line naming the file and key, exit 2', () => {
  const write = (name: string, body: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, body);
    return f;
  };
  const ev = (f: string) => runShrink(dir, ['eval', a, '--task', 'lm', '--tokens', f]);
  assertOneLineError(
    ev(write('big.json', JSON.stringify({ input_ids: [[1, 2, 3, 9]] }))),
    /--tokens: .*big\.json: input_ids\[0\]\[3\] is 9, outside the vocabulary of .*a\.onnx \(7 logits: ids 0\.\.6\)/,
  );
  assertOneLineError(
    ev(
      write(
        'ragged.json',
        JSON.stringify({
          input_ids: [
            [1, 2, 3],
            [1, 2],
          ],
        }),
      ),
    ),
    /ragged\.json: input_ids\[1\] has 2 ids but input_ids\[0\] has 3/,
  );
  assertOneLineError(ev(write('junk.json', 'input_ids = 1, 2')), /junk\.json is not JSON/);
  assertOneLineError(
    ev(write('neg.json', JSON.stringify({ input_ids: [[1, -2]] }))),
    /neg\.json: input_ids\[0\]\[1\] is -2; expected a token id/,
  );
  assertOneLineError(
    ev(write('mask.json', JSON.stringify({ input_ids: [[1, 2]], attention_mask: [[1, 1, 0]] }))),
    /mask\.json: attention_mask\[0\] has 3 ids|attention_mask is 1x3 but input_ids is 1x2/,
  );
  assertOneLineError(runShrink(dir, ['eval', a, '--task', 'lm']), /--tokens: LM evaluation needs --tokens FILE/);
  assertOneLineError(runShrink(dir, ['eval', a, '--task', 'lm', '--text', text]), /--tokenizer: .*valid\.txt is text/);
});

// fixtures/lm (a trained tiny LM, its tokenizer and validation text) comes from another change; tested once it is there.
// valid-tokens.json holds valid.txt's ids cut into whole rows of the model's context: with that context as
// the stride too, the text's windows are exactly those rows, so the first windows score the same tokens alike.
const LM = fileURLToPath(new URL('../../../fixtures/lm/', import.meta.url));
const have = ['tiny-lm.onnx', 'tokenizer.json', 'valid-tokens.json', 'valid.txt'].every((f) => existsSync(path.join(LM, f)));
test(
  'the trained tiny LM: its text through tokenizer.json and its tokens file give the same perplexity',
  { skip: have ? false : 'fixtures/lm is not there yet' },
  () => {
    const model = path.join(LM, 'tiny-lm.onnx');
    const rows = (JSON.parse(readFileSync(path.join(LM, 'valid-tokens.json'), 'utf8')) as { input_ids: number[][] }).input_ids;
    const n = String(rows[0]!.length);
    const win = ['--context', n, '--stride', n, '--max-windows', String(Math.min(rows.length, 20))];
    const fromTokens = runJson(dir, ['eval', model, '--task', 'lm', '--tokens', path.join(LM, 'valid-tokens.json'), ...win]);
    const fromText = runJson(dir, [
      'eval',
      model,
      '--task',
      'lm',
      '--text',
      path.join(LM, 'valid.txt'),
      '--tokenizer',
      path.join(LM, 'tokenizer.json'),
      ...win,
    ]);
    assert.equal(fromText['tokens'], fromTokens['tokens']);
    assert.ok(
      Math.abs(fromText['perplexity'] - fromTokens['perplexity']) < 1e-9 * fromTokens['perplexity'],
      `${fromText['perplexity']} vs ${fromTokens['perplexity']}`,
    );
    // a trained model: far better than a uniform guess over its vocabulary
    assert.ok(fromTokens['perplexity'] < 0.5 * Math.max(...rows.flat()), `perplexity ${fromTokens['perplexity']}`);
  },
);
