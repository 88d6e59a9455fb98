// Shared by the CLI's end-to-end tests: run the real `shrink` process and read what it says.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, 'bin.ts');
// tsx's loader by URL: a bare 'tsx' would resolve from the test's cwd, a temp folder.
const TSX = import.meta.resolve('tsx');
// scripts/test-avx2.mjs runs the suite on an emulated CPU: the shrink processes a test starts must run
// there too, so SHRINK_TEST_WRAP (e.g. "/usr/bin/qemu-x86_64 -cpu Haswell") is put in front of node.
const wrap = (process.env['SHRINK_TEST_WRAP'] ?? '').split(' ').filter(Boolean);
// Emulated processes run many times slower: their time limits stretch with them.
const slowdown = wrap.length > 0 ? 20 : 1;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `shrink ...args` in `cwd`, through tsx on the sources (no build needed). */
export function runShrink(cwd: string, args: readonly string[], timeoutMs = 180_000): Run {
  // node with tsx's loader in-process (the tsx binary would start a second node, outside any wrapper).
  return runNode(['--import', TSX, '--conditions=@shrink/source', bin, ...args], cwd, timeoutMs);
}

/** `node ...argv` in `cwd`, behind SHRINK_TEST_WRAP when set. */
export function runNode(argv: readonly string[], cwd: string, timeoutMs = 180_000): Run {
  const [cmd, ...rest] = [...wrap, process.execPath, ...argv];
  const r = spawnSync(cmd!, rest, { encoding: 'utf8', cwd, timeout: timeoutMs * slowdown, env: process.env });
  // qemu's warnings about CPUID features it cannot emulate are not the program's stderr.
  const stderr =
    wrap.length > 0
      ? r.stderr
          .split('\n')
          .filter((l) => !l.includes("TCG doesn't support requested feature"))
          .join('\n')
      : r.stderr;
  return { code: r.status, stdout: r.stdout, stderr };
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
  // Without a terminal a step that runs past 5 s prints "still running" lines (progress.ts's lineProgress);
  // on a loaded machine any step may, so those are not part of the error.
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !/ \(\d+ s\)$|: done in \d+ s$/.test(l));
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^shrink: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}
