#!/usr/bin/env node
// Longer fuzz runs than CI's: `node scripts/fuzz.mjs [--cases N] [--seed S] [--workers W] [--timeout MS] [--only i,j]`.
// Exit 0 when every case kept the CLI's promises (see packages/cli/src/fuzz/run-case.ts), 1 otherwise.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const r = spawnSync(
  join(root, 'node_modules', '.bin', 'tsx'),
  ['--conditions=@shrink/source', join(root, 'packages/cli/src/fuzz/fuzz-cli.ts'), ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
