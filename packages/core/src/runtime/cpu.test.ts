import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuFeatures, describeInt8Kernels, int8KernelPath, parseCpuinfoFlags, type CpuFeatures } from './cpu.js';

const x86 = (flags: string): CpuFeatures => ({ arch: 'x64', model: 'test', flags: new Set(flags.split(' ')), source: '/proc/cpuinfo' });

test('parseCpuinfoFlags reads the x86 flags line and the ARM Features line', () => {
  assert.deepEqual(
    [...parseCpuinfoFlags('processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512_vnni\nbogomips : 1\n')],
    ['fpu', 'sse2', 'avx2', 'avx512_vnni'],
  );
  assert.deepEqual([...parseCpuinfoFlags('processor : 0\nFeatures : fp asimd asimddp i8mm\n')], ['fp', 'asimd', 'asimddp', 'i8mm']);
  assert.equal(parseCpuinfoFlags('no flags here').size, 0);
});

test('int8KernelPath: x86 without VNNI saturates (AVX2, AVX-512BW); VNNI, AMX, SSE and ARM do not', () => {
  const cases: Array<[CpuFeatures, string, boolean | undefined]> = [
    [x86('sse4_1 avx avx2 fma'), 'avx2', true],
    [x86('avx2 avx512f avx512bw'), 'avx512', true],
    [x86('avx2 avx512f avx512bw avx512_vnni'), 'avx512-vnni', false],
    [x86('avx2 avx_vnni'), 'avx-vnni', false],
    [x86('avx2 avx512bw avx512_vnni amx_tile amx_int8'), 'amx', false],
    [x86('sse4_1'), 'sse4.1', false],
    [{ arch: 'arm64', model: 'test', flags: new Set(['asimd', 'asimddp']), source: '/proc/cpuinfo' }, 'arm64-dotprod', false],
    [{ arch: 'arm64', model: 'test', flags: new Set(['asimd', 'asimddp', 'i8mm']), source: '/proc/cpuinfo' }, 'arm64-i8mm', false],
    [{ arch: 'x64', model: 'test', flags: new Set(), source: 'unknown' }, 'x86 (features unknown)', undefined],
  ];
  for (const [f, isa, saturates] of cases) {
    const p = int8KernelPath(f);
    assert.equal(p.isa, isa, [...f.flags].join(' '));
    assert.equal(p.int8Saturates, saturates, isa);
  }
  assert.match(describeInt8Kernels(int8KernelPath(x86('avx2'))), /^avx2: .*VPMADDUBSW.*can saturate here/);
});

test('cpuFeatures of this machine agrees with /proc/cpuinfo where there is one', () => {
  const f = cpuFeatures();
  assert.equal(f.arch, process.arch);
  if (process.platform === 'linux') assert.equal(f.source, '/proc/cpuinfo');
  if (process.platform === 'linux' && process.arch === 'x64') assert.ok(f.flags.has('sse2'), 'every x86-64 CPU has SSE2');
});
