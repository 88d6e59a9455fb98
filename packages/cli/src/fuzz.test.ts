// The CI fuzz run: 2,000 seeded cases against the real commands, in-process (see src/fuzz/): mutated
// models, tfjs folders, data files and pipeline configs, through every command (run, search, distill too).
// A longer run: node scripts/fuzz.mjs --cases 20000 (BENCHMARKS.md, "Fuzzing").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSummary, runFuzz } from './fuzz/index.js';

const CASES = 2000;
const SEED = 20261128;

test(
  `fuzz: ${CASES} mutated models, tfjs folders, data files and configs through every command end in exit 0 (1: a failed gate) or one clear line and exit 2`,
  { timeout: 600_000 },
  async () => {
    const summary = await runFuzz({ cases: CASES, seed: SEED });
    const text = formatSummary(summary);
    console.log(text);
    assert.equal(summary.exit0 + summary.exit1 + summary.exit2 + summary.failures.length >= CASES, true);
    assert.equal(summary.failures.length, 0, text);
    // Every command that reads a model, data or config file is reached, and both outcomes occur (a corpus
    // that only errors would test little).
    for (const cmd of ['info', 'quantize', 'prune', 'convert', 'eval', 'compare', 'run', 'search', 'distill'])
      assert.ok((summary.byCommand[cmd] ?? 0) > 0, `no ${cmd} case`);
    assert.ok(summary.exit0 > CASES / 10 && summary.exit2 > CASES / 10, text);
  },
);
