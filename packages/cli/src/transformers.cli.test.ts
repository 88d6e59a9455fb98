// Transformers and other multi-input models through the CLI, with no data at all or with a feeds file:
// the committed PyTorch exports in fixtures/transformers (made by make-transformers.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';
import { transformersFeeds as feeds, transformersModel as model, worstCosine } from './transformers.fixture.js';

const cosineOf = (j: Record<string, any>) => j['report'].candidates[0].metrics['fidelity.cosineSimilarity'].candidate as number;

test('BERT-style encoder (int64 input_ids, attention_mask, token_type_ids; two outputs): q8 and q4 with no data', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-tf-'));
  for (const dtype of ['q8', 'q4']) {
    const out = path.join(dir, `bert.${dtype}.onnx`);
    const j = runJson(dir, ['quantize', model('bert-tiny'), '--dtype', dtype, '--allow-slower', '-o', out, '--runs', '3']);
    const notes = (j['report'].notes as string[]).join(' ');
    assert.match(notes, /synthetic samples at batch_size=1, sequence_length=16 \(input_ids: token ids < \d+/);
    assert.ok(cosineOf(j) >= 0.99, `${dtype}: reported cosine ${cosineOf(j)}`);
    // On the fixture's real text (one sample padded, mask zeros), every output, measured here.
    const real = await worstCosine('bert-tiny', out);
    assert.ok(real >= 0.99, `${dtype}: cosine on real tokens ${real}`);
  }
});

test('GPT-style decoders: causal mask with -inf and tied embeddings quantize to q4; the past-key-values variant measures with synthetic past', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-tf-'));
  const out = path.join(dir, 'gpt.q4.onnx');
  runJson(dir, ['quantize', model('gpt-tiny'), '--dtype', 'q4', '--allow-slower', '--block-size', '32', '-o', out, '--runs', '3']);
  assert.ok((await worstCosine('gpt-tiny', out)) >= 0.98);
  const past = path.join(dir, 'past.q8.onnx');
  const j = runJson(dir, ['quantize', model('gpt-tiny-past'), '--dtype', 'q8', '--allow-slower', '-o', past, '--runs', '3']);
  assert.match((j['report'].notes as string[]).join(' '), /past_sequence_length=4/);
  // Every output compared: logits and each present key/value.
  const cos = j['report'].candidates[0].metrics['fidelity.cosineSimilarity'];
  assert.match(cos.method, /worst of 5 outputs/);
  assert.ok((await worstCosine('gpt-tiny-past', past)) >= 0.98);
});

test('compare and bench take a feeds file and --input; eval refuses a feeds file in one line (no labels)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-tf-'));
  const j = runJson(dir, ['compare', model('bert-tiny'), model('bert-tiny'), '--data', feeds('bert-tiny'), '--runs', '3']);
  assert.equal(cosineOf(j), 1);
  assert.match((j['report'].notes as string[]).join(' '), /inputs: 1 sample of .*bert-tiny\.feeds\.json/);
  const b = runJson(dir, ['bench', model('gpt-tiny-past'), '--input', 'input_ids=[[1,2,3]]', '--runs', '3']);
  assert.equal(b['runs'], 3);
  assertOneLineError(
    runShrink(dir, ['eval', model('bert-tiny'), '--data', feeds('bert-tiny')]),
    /feeds file holds model inputs without labels/,
  );
  assertOneLineError(
    runShrink(dir, ['bench', model('bert-tiny'), '--input', 'input_idz=[1]']),
    /--input input_idz: the model has no input 'input_idz'; its inputs: input_ids, attention_mask, token_type_ids/,
  );
  // An --input beside a dataset would be ignored: refused, by the commands that compare and those that write.
  for (const cmd of [
    ['compare', model('bert-tiny'), model('bert-tiny')],
    ['quantize', model('bert-tiny'), '-o', path.join(dir, 'x.onnx')],
  ]) {
    assertOneLineError(
      runShrink(dir, [...cmd, '--data', 'digits', '--input', 'input_ids=[[1]]']),
      /--input input_ids: inputs by name go with a feeds file or with no --data; digits is a dataset/,
    );
  }
});

test('shrink run: data.eval may be a feeds file; the pipeline measures the transformer on it and gates on fidelity', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'shrink-tf-'));
  const config = path.join(dir, 'shrink.config.yaml');
  await writeFile(
    config,
    [
      `model: ${model('bert-tiny')}`,
      `data: { eval: ${feeds('bert-tiny')} }`,
      'steps: [{ quantize: { dtype: q4, allowSlower: true } }]',
      'evaluation: { runs: 3, warmup: 1 }',
      'gates: [fidelity.cosineSimilarity.candidate >= 0.99, size.ratio <= 0.5]',
      'output: out',
    ].join('\n'),
  );
  const j = runJson(dir, ['run', config]);
  assert.match((j['report'].notes as string[]).join(' '), /inputs: 1 sample of .*bert-tiny\.feeds\.json/);
  assert.ok(j['report'].candidates[0].metrics['fidelity.cosineSimilarity'].candidate >= 0.99);
});
