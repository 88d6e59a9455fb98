import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuFeatures } from '../runtime/cpu.js';
import { cpuTargetOf, cpuTargetOfCpuinfo, detectCpuTarget } from './detect-isa.js';
import { TARGETS } from './targets.js';

const x86 = (flags: string) =>
  `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 ssse3 sse4_1 ${flags}\nbogomips\t: 4000\n\nprocessor\t: 1\nflags\t\t: fpu\n`;

test('x86 cpuinfo: VNNI, AVX2 only, AVX-512 without VNNI, AMX, AVX-VNNI, SSE only', () => {
  const cases: Array<[string, string, readonly string[]]> = [
    [x86('avx avx2 fma avx512f avx512bw avx512vl avx512_vnni'), 'cpu-x86-avx512-vnni', ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni']],
    [x86('avx avx2 fma'), 'cpu-x86-avx2', ['avx2']],
    [x86('avx2 avx512f avx512bw'), 'cpu-x86-avx512', ['avx2', 'avx512f', 'avx512bw']],
    [
      x86('avx2 avx512f avx512bw avx512_vnni amx_tile amx_int8 amx_bf16'),
      'cpu-x86-amx',
      ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'amx_tile', 'amx_int8'],
    ],
    [x86('avx2 avx_vnni'), 'cpu-x86-avx-vnni', ['avx2', 'avx_vnni']],
    [x86(''), 'cpu-portable', []],
  ];
  for (const [info, target, flags] of cases) {
    const d = cpuTargetOfCpuinfo(info, 'x64');
    assert.equal(d.target, target, info);
    assert.deepEqual(d.flags, flags, target);
  }
  assert.equal(TARGETS[cpuTargetOfCpuinfo(x86('avx2'), 'x64').target].int8Saturates, true);
  assert.equal(TARGETS[cpuTargetOfCpuinfo(x86('avx2 avx512f avx512bw avx512_vnni'), 'x64').target].int8Saturates, false);
});

test('arm64 cpuinfo: Features with dotprod (and i8mm) is cpu-arm64', () => {
  const d = cpuTargetOfCpuinfo(
    'processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes crc32 atomics fphp asimdhp asimddp\nCPU implementer\t: 0x41\n',
    'arm64',
  );
  assert.equal(d.target, 'cpu-arm64');
  assert.equal(d.isa, 'arm64-dotprod');
  assert.deepEqual(d.flags, ['asimd', 'asimddp', 'fphp', 'asimdhp']);
  assert.equal(cpuTargetOfCpuinfo('Features\t: fp asimd asimddp i8mm\n', 'arm64').isa, 'arm64-i8mm');
});

test('unknown flags (not Linux) resolve to cpu-portable, this machine to what its flags say', () => {
  assert.equal(cpuTargetOf({ arch: 'x64', model: 'm', flags: new Set(), source: 'unknown' }).target, 'cpu-portable');
  const here = detectCpuTarget();
  assert.equal(here.source, cpuFeatures().source);
  if (process.platform === 'linux' && process.arch === 'x64') assert.match(here.target, /^cpu-x86-|^cpu-portable$/);
  if (process.platform === 'linux' && process.arch === 'arm64') assert.equal(here.target, 'cpu-arm64');
});
