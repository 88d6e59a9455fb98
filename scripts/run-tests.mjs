#!/usr/bin/env node
// Runs every packages/*/src/**/*.test.ts in one node:test run (through tsx), so CI sees one summary.
// Arguments narrow the run to files whose path contains any of them.
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testFiles } from './test-files.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

const files = testFiles(root, filters);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const r = spawnSync(tsx, ['--conditions=@shrink/source', '--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SHRINK_TEST: '1' },
});
process.exit(r.status ?? 1);
