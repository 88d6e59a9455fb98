// The test files of the repo (packages/*/src/**/*.test.ts), relative to the root, sorted; `filters`
// keeps those whose path contains any of them. Shared by run-tests.mjs and test-avx2.mjs.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export function testFiles(root, filters = []) {
  const walk = (dir, out) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'dist') continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p, out);
      else if (name.endsWith('.test.ts')) out.push(relative(root, p));
    }
    return out;
  };
  return walk(join(root, 'packages'), [])
    .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
    .sort();
}
