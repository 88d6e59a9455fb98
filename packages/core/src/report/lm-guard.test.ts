import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFloors, DEFAULT_FLOORS } from './guard.js';
import { metric } from './report.js';

test('LM floors: perplexity may at most double by default (maxPerplexityIncrease), next-token top-1 is held to minTop1Agreement', () => {
  const rows = (ppl: number, agree: number) => ({
    'lm.perplexity': metric('lm.perplexity', 10, ppl),
    'lm.meanKL': metric('lm.meanKL', undefined, 0.1),
    'lm.top1Agreement': metric('lm.top1Agreement', undefined, agree),
  });
  const ok = checkFloors(rows(19, 0.9));
  assert.equal(ok.passed, true);
  assert.deepEqual(ok.checked, ['lm.top1Agreement', 'lm.perplexity']);
  const g = checkFloors(rows(21, 0.4));
  assert.deepEqual(
    g.failures.map((f) => f.metric),
    ['lm.top1Agreement', 'lm.perplexity'],
  );
  assert.match(g.failures[1]!.text, /perplexity 10\.00 -> 21\.00 \(\+110\.0%, more than \+100%\)/);
  assert.equal(checkFloors(rows(10.6, 0.9), { ...DEFAULT_FLOORS, maxPerplexityIncrease: 0.05 }).passed, false);
  // floors without the LM field (an older config) fall back to the default
  const { maxPerplexityIncrease: _, ...old } = DEFAULT_FLOORS;
  assert.equal(checkFloors(rows(19, 0.9), old).passed, true);
});
