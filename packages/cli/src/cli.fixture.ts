// Shared by the CLI's end-to-end tests: run the real `shrink` process and read what it says.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = path.resolve(here, '../../../node_modules/.bin/tsx');
const bin = path.join(here, 'bin.ts');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `shrink ...args` in `cwd`, through tsx on the sources (no build needed). */
export function runShrink(cwd: string, args: readonly string[], timeoutMs = 180_000): Run {
  const r = spawnSync(tsx, ['--conditions=@shrink/source', bin, ...args], { encoding: 'utf8', cwd, timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `shrink ...args --json`, which must exit 0; returns the parsed stdout. */
export function runJson(cwd: string, args: readonly string[]): Record<string, any> {
  const r = runShrink(cwd, [...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, any>;
}

/** Bad input: exit 2 and exactly one line on stderr naming the problem, no stack trace. */
export function assertOneLineError(r: Run, pattern: RegExp): void {
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^shrink: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}
