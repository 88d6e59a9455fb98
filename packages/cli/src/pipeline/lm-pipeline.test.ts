// A pipeline with evaluation.lm: the candidate's report carries lm.* rows, gates read them, the LM floor
// judges them, and a bad tokens file fails before any step runs, named by its config key.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig } from './load-config.js';
import { runPipeline } from './run-pipeline.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-lm-pipe-'));
after(() => rmSync(dir, { recursive: true, force: true }));
copyFileSync(fileURLToPath(new URL('../../../../fixtures/transformers/gpt-tiny.onnx', import.meta.url)), path.join(dir, 'gpt.onnx'));
// gpt-tiny predicts bytes, trained on the licence texts
const text = readFileSync('/usr/share/common-licenses/GPL-3').subarray(0, 700);
writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify({ input_ids: [[...text]] }));

test('evaluation.lm adds perplexity, next-token KL and top-1 to the report, and gates read them', async () => {
  const c = await validateConfig(
    {
      model: 'gpt.onnx',
      steps: [{ quantize: { dtype: 'q8', allowSlower: true } }],
      evaluation: { runs: 2, warmup: 0, lm: { tokens: 'tokens.json', context: 64 } },
      gates: ['lm.perplexity.ratio <= 1.5', 'lm.top1Agreement.candidate >= 0.8', 'lm.meanKL.candidate < 0.5'],
      output: 'out',
    },
    { file: 'c.yaml', dir },
  );
  const r = await runPipeline(c);
  const m = r.report.candidates[0]!.metrics;
  assert.ok(m['lm.perplexity']!.baseline! > 1 && m['lm.perplexity']!.candidate! > 1);
  assert.ok(m['lm.meanKL']!.candidate! > 0);
  assert.deepEqual(r.failed, [], JSON.stringify(r.report.gates));
  assert.ok(r.report.candidates[0]!.guard!.checked.includes('lm.perplexity'));
  assert.match(m['lm.perplexity']!.method!, /699 tokens of tokens\.json in \d+ windows of 64 \(stride 32\)/);
});

test('a bad evaluation.lm tokens file fails before any step runs, named by its key', async () => {
  writeFileSync(path.join(dir, 'ragged.json'), JSON.stringify({ input_ids: [[1, 2], [3]] }));
  const c = await validateConfig(
    { model: 'gpt.onnx', steps: [{ quantize: { dtype: 'q8' } }], evaluation: { lm: { tokens: 'ragged.json' } }, output: 'never' },
    { file: 'c.yaml', dir },
  );
  await assert.rejects(runPipeline(c), /^ShrinkError: evaluation\.lm\.tokens: .*ragged\.json: input_ids\[1\] has 1 ids/);
  assert.equal(existsSync(path.join(dir, 'never')), false);
});
