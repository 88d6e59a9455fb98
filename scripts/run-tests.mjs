#!/usr/bin/env node
// Runs every packages/*/src/**/*.test.ts in one node:test run (through tsx), so CI sees one summary.
// Arguments narrow the run to files whose path contains any of them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testFiles } from './test-files.mjs';
import { EXIT_UNREACHABLE } from './corpus/fetch.mjs';
import { TEST_CORPUS } from './corpus/test-set.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

const files = testFiles(root, filters);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}
// Tests that read the real-world corpus skip when it is absent; fetch it (and write its feeds) once, first,
// so none of them skips on a fresh clone for want of another test having fetched it.
if (files.some((f) => readFileSync(join(root, f), 'utf8').includes('.cache/corpus'))) {
  const prep = spawnSync(process.execPath, [join(root, 'scripts/corpus/inputs.mjs'), ...TEST_CORPUS], { cwd: root, encoding: 'utf8' });
  if (prep.status === EXIT_UNREACHABLE)
    console.log(`# real-world corpus unavailable, its tests skip: ${prep.stderr.trim().split('\n').at(-1)}`);
  else if (prep.status !== 0) console.log(`# scripts/corpus/inputs.mjs exited ${prep.status}:\n${prep.stderr}`);
}
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const r = spawnSync(tsx, ['--conditions=@shrink/source', '--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SHRINK_TEST: '1' },
});
process.exit(r.status ?? 1);
