/**
 * What this CPU offers onnxruntime's integer kernels. The same int8 model computes different numbers on
 * different x86 CPUs: onnxruntime's u8s8 GEMM without VNNI multiplies with VPMADDUBSW, which adds each pair
 * of uint8 x int8 products into a saturating int16, so full-range int8 weights can clip there.
 */
import { readFileSync } from 'node:fs';
import { arch, cpus } from 'node:os';

export interface CpuFeatures {
  readonly arch: string;
  readonly model: string;
  /** Feature flags as Linux names them (avx2, avx512_vnni, asimddp, ...); empty when unknown. */
  readonly flags: ReadonlySet<string>;
  /** Where the flags came from: '/proc/cpuinfo', SHRINK_CPU_FLAGS, or 'unknown' (other systems: os.cpus() has no flags). */
  readonly source: '/proc/cpuinfo' | 'SHRINK_CPU_FLAGS' | 'unknown';
}

/** The flags line(s) of /proc/cpuinfo ('flags' on x86, 'Features' on ARM). */
export function parseCpuinfoFlags(text: string): Set<string> {
  const flags = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(flags|Features)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    for (const f of m[2]!.trim().split(/\s+/)) if (f) flags.add(f);
    // Every core lists the same flags on the machines onnxruntime supports; one is enough.
    break;
  }
  return flags;
}

let cached: CpuFeatures | undefined;

export function cpuFeatures(): CpuFeatures {
  if (cached) return cached;
  const model = cpus()[0]?.model.trim() ?? 'unknown';
  let flags = new Set<string>();
  let source: CpuFeatures['source'] = 'unknown';
  // Under an emulator (qemu-user) /proc/cpuinfo describes the host, not the CPU the code sees: the
  // emulated CPU's flags can be given instead, space-separated as Linux names them.
  const given = process.env['SHRINK_CPU_FLAGS'];
  if (given !== undefined && given.trim() !== '') {
    cached = { arch: arch(), model, flags: new Set(given.trim().split(/\s+/)), source: 'SHRINK_CPU_FLAGS' };
    return cached;
  }
  try {
    flags = parseCpuinfoFlags(readFileSync('/proc/cpuinfo', 'utf8'));
    if (flags.size > 0) source = '/proc/cpuinfo';
  } catch {
    // Not Linux: the ISA stays unknown and reports say so.
  }
  cached = { arch: arch(), model, flags, source };
  return cached;
}

/** The path onnxruntime's CPU int8 GEMM/conv kernels (MLAS) take on a CPU. */
export interface Int8KernelPath {
  /** Short ISA word for reports: avx512-vnni, avx-vnni, amx, avx512, avx2, sse4.1, arm64-i8mm, arm64-dotprod, arm64-neon, unknown. */
  readonly isa: string;
  /** How uint8 x int8 products are summed there. */
  readonly instruction: string;
  /** Whether int8 weights at full range can saturate (x86 without VNNI); undefined when the CPU is unknown. */
  readonly int8Saturates: boolean | undefined;
}

export function int8KernelPath(f: CpuFeatures = cpuFeatures()): Int8KernelPath {
  const has = (x: string) => f.flags.has(x);
  if (f.arch === 'x64' || f.arch === 'ia32') {
    if (f.source === 'unknown') return { isa: 'x86 (features unknown)', instruction: 'unknown', int8Saturates: undefined };
    if (has('amx_int8') && has('amx_tile')) return { isa: 'amx', instruction: 'AMX TDPBUSD (int32 sums)', int8Saturates: false };
    if (has('avx512_vnni')) return { isa: 'avx512-vnni', instruction: 'VPDPBUSD (int32 sums)', int8Saturates: false };
    if (has('avx_vnni')) return { isa: 'avx-vnni', instruction: 'VPDPBUSD (int32 sums)', int8Saturates: false };
    if (has('avx512bw')) return { isa: 'avx512', instruction: 'VPMADDUBSW (saturating int16 pair sums)', int8Saturates: true };
    if (has('avx2')) return { isa: 'avx2', instruction: 'VPMADDUBSW (saturating int16 pair sums)', int8Saturates: true };
    return { isa: 'sse4.1', instruction: 'PMADDWD on widened values (int32 sums)', int8Saturates: false };
  }
  if (f.arch === 'arm64') {
    if (has('i8mm')) return { isa: 'arm64-i8mm', instruction: 'SMMLA/UMMLA (int32 sums)', int8Saturates: false };
    if (has('asimddp')) return { isa: 'arm64-dotprod', instruction: 'SDOT/UDOT (int32 sums)', int8Saturates: false };
    return {
      isa: f.source === 'unknown' ? 'arm64' : 'arm64-neon',
      instruction: 'NEON widening multiply-accumulate (int32 sums)',
      int8Saturates: false,
    };
  }
  return { isa: `${f.arch} (unknown)`, instruction: 'unknown', int8Saturates: undefined };
}

/** One line for reports: where int8 models run on this machine and whether full-range int8 weights are exact here. */
export function describeInt8Kernels(p: Int8KernelPath = int8KernelPath()): string {
  const exact =
    p.int8Saturates === undefined
      ? 'whether int8 weights can saturate here is unknown'
      : p.int8Saturates
        ? 'int8 weights at full range can saturate here'
        : 'exact for int8 and uint8 weights';
  return `${p.isa}: onnxruntime's u8s8 kernels use ${p.instruction}; ${exact}`;
}
