// `node scripts/fuzz.mjs [--cases N] [--seed S] [--workers W] [--timeout MS] [--only i,j]`: a longer fuzz run.
import { parseArgs } from 'node:util';
import { formatSummary, runFuzz } from './index.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '20261128' },
    workers: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '10000' },
    only: { type: 'string' },
  },
});
const num = (v: string, flag: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`fuzz: --${flag} must be a non-negative integer, got ${v}\n`);
    process.exit(2);
  }
  return n;
};
const cases = num(values.cases, 'cases');
let last = performance.now();
const summary = await runFuzz({
  cases,
  seed: num(values.seed, 'seed'),
  workers: Math.max(1, num(values.workers, 'workers')),
  timeoutMs: num(values.timeout, 'timeout'),
  ...(values.only ? { only: values.only.split(',').map((s) => num(s, 'only')) } : {}),
  onCase: (_r, done) => {
    if (performance.now() - last > 30_000) {
      last = performance.now();
      process.stderr.write(`fuzz: ${done} cases done\n`);
    }
  },
});
process.stdout.write(`${formatSummary(summary)}\n`);
process.exit(summary.failures.length ? 1 : 0);
