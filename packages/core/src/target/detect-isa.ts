/**
 * Which cpu-* target this machine is. The flags come from runtime/cpu.ts (the one reader of
 * /proc/cpuinfo and SHRINK_CPU_FLAGS) and the ISA from int8KernelPath, so the target a report names and
 * the int8 kernel path it describes cannot disagree. Node-only: exported from @shrink/core/runtime.
 */
import { cpuFeatures, int8KernelPath, parseCpuinfoFlags, type CpuFeatures } from '../runtime/cpu.js';
import type { CpuTargetName } from './targets.js';

export interface DetectedCpu {
  readonly target: CpuTargetName;
  /** int8KernelPath's ISA word (avx2, avx512-vnni, arm64-dotprod, sse4.1, ...). */
  readonly isa: string;
  /** The flags that decided it, as Linux names them, in FLAGS order. */
  readonly flags: readonly string[];
  readonly source: CpuFeatures['source'];
}

/** Flags that change onnxruntime's int8 or fp16 kernels (x86 first, then ARM's Features names). */
const FLAGS = [
  'avx2',
  'avx512f',
  'avx512bw',
  'avx_vnni',
  'avx512_vnni',
  'amx_tile',
  'amx_int8',
  'asimd',
  'asimddp',
  'i8mm',
  'fphp',
  'asimdhp',
];

const BY_ISA: Readonly<Record<string, CpuTargetName>> = {
  amx: 'cpu-x86-amx',
  'avx512-vnni': 'cpu-x86-avx512-vnni',
  'avx-vnni': 'cpu-x86-avx-vnni',
  avx512: 'cpu-x86-avx512',
  avx2: 'cpu-x86-avx2',
  'arm64-i8mm': 'cpu-arm64',
  'arm64-dotprod': 'cpu-arm64',
  'arm64-neon': 'cpu-arm64',
  arm64: 'cpu-arm64',
};

/**
 * The cpu-* target of a CPU. x86 without AVX2 (SSE4.1 only) and CPUs whose flags are unknown get
 * cpu-portable: no ISA-specific table covers them, and the portable rules are right everywhere.
 */
export function cpuTargetOf(f: CpuFeatures): DetectedCpu {
  const { isa } = int8KernelPath(f);
  return { target: BY_ISA[isa] ?? 'cpu-portable', isa, flags: FLAGS.filter((x) => f.flags.has(x)), source: f.source };
}

/** cpuTargetOf for a /proc/cpuinfo text (tests, or a cpuinfo captured on the machine the model is for). */
export function cpuTargetOfCpuinfo(cpuinfo: string, arch: 'x64' | 'arm64'): DetectedCpu {
  return cpuTargetOf({ arch, model: 'cpuinfo', flags: parseCpuinfoFlags(cpuinfo), source: '/proc/cpuinfo' });
}

/** This machine's cpu-* target: what `--target cpu` means here. */
export function detectCpuTarget(): DetectedCpu {
  return cpuTargetOf(cpuFeatures());
}
