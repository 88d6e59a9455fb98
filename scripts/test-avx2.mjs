#!/usr/bin/env node
// Runs test files on an emulated AVX2-only x86 CPU (qemu-x86_64 -cpu Haswell: AVX2 and FMA, no AVX-512,
// no VNNI), so a machine with VNNI can check what the suite does on the many CPUs without it. Each file
// runs in one emulated node process (tests in-process, TAP on stdout); SHRINK_CPU_FLAGS tells Shrink's CPU
// detection what the emulated CPU has, since /proc/cpuinfo still describes the host. Slow: minutes per file.
// Usage: node scripts/test-avx2.mjs <path substring>...   (Debian: apt-get install qemu-user)
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testFiles } from './test-files.mjs';

const QEMU = '/usr/bin/qemu-x86_64';
const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
if (!existsSync(QEMU)) {
  console.error(`${QEMU} is missing: apt-get install qemu-user`);
  process.exit(2);
}
if (filters.length === 0) {
  console.error('name the test files to run, e.g. node scripts/test-avx2.mjs quantize/src/dynamic');
  process.exit(2);
}
const files = testFiles(root, filters);
let failed = 0;
for (const f of files) {
  const t0 = Date.now();
  const r = spawnSync(QEMU, ['-cpu', 'Haswell', process.execPath, '--import', 'tsx', '--conditions=@shrink/source', f], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: {
      ...process.env,
      SHRINK_TEST: '1',
      SHRINK_CPU_FLAGS: 'sse4_1 sse4_2 avx avx2 fma f16c bmi2',
      SHRINK_TEST_WRAP: `${QEMU} -cpu Haswell`,
    },
  });
  const lines = (r.stdout ?? '').split('\n');
  const results = lines.filter((l) => /^(not )?ok \d+ /.test(l));
  const bad = results.filter((l) => l.startsWith('not ok'));
  failed += bad.length + (r.status !== 0 && bad.length === 0 ? 1 : 0);
  console.log(
    `${r.status === 0 ? 'PASS' : 'FAIL'} ${f}: ${results.length - bad.length}/${results.length} ok (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
  );
  for (const l of bad) console.log(`  ${l}`);
  if (r.status !== 0) {
    // The failing assertions' messages, as node:test printed them (TAP YAML blocks).
    const detail = lines.filter((l) => /^\s+(error|expected|actual|location):/.test(l)).slice(0, 20);
    for (const l of detail) console.log(`  ${l.trim()}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
