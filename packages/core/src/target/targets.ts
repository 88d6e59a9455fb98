/**
 * The places a compressed model is meant to run. One file reaches different kernels on each: the same
 * int8 GEMM is exact on a VNNI CPU and can clip on AVX2, float16 is fast on WebGPU and slower than float32
 * on every CPU build. Each target says which runtime it means and the two ISA facts the op table keys on.
 * Facts and citations: docs/targets.md.
 */
import { z } from 'zod';

export const TARGET_NAMES = [
  'cpu',
  'cpu-x86-avx2',
  'cpu-x86-avx512',
  'cpu-x86-avx-vnni',
  'cpu-x86-avx512-vnni',
  'cpu-x86-amx',
  'cpu-arm64',
  'cpu-portable',
  'wasm',
  'webgpu',
] as const;

/** Drives the --target flag and the config's `target:` key. */
export const targetSchema = z
  .enum(TARGET_NAMES)
  .describe('where the model will run: cpu (this machine), a cpu-* ISA, cpu-portable (every CPU), wasm or webgpu');

export type TargetName = z.infer<typeof targetSchema>;

/** A target other than `cpu`: `cpu` stands for whichever of these this machine is (see detectCpuTarget). */
export type CpuTargetName = Extract<TargetName, `cpu-${string}`>;

export type TargetRuntime = 'onnxruntime-node' | 'onnxruntime-web-wasm' | 'onnxruntime-web-webgpu';

export interface TargetInfo {
  readonly name: TargetName;
  readonly runtime: TargetRuntime;
  readonly summary: string;
  /**
   * Whether onnxruntime's uint8 x int8 GEMM can saturate there (VPMADDUBSW sums pairs into int16 on x86
   * without VNNI). 'depends': the target covers CPUs of both kinds (cpu-portable, or `cpu` before detection).
   */
  readonly int8Saturates: boolean | 'depends';
  /** 'cast-wrapped': onnxruntime puts Casts to float32 around float16 compute ops, so fp16 is slower than fp32. */
  readonly fp16Compute: 'native' | 'cast-wrapped' | 'partly-native';
  /**
   * The fidelity floor of a target whose users see no error when outputs are wrong (the browser): passes
   * keep float the nodes that hurt most until every output's cosine to the float model is at least this.
   */
  readonly minCosine?: number;
  readonly source: string;
}

const SILENT_BROWSER =
  'issue #14 goal (cosine >= 0.99 on wasm); huggingface/transformers.js #1728, #1317, #1512 (wrong WebGPU outputs, no error)';

const SATURATION = 'microsoft/onnxruntime PR #12088 (x86/64 U8S8 Gemm precision fix); issue #14 (cosine 0.963 on AVX2)';
const FP16_CASTS = '[probe] onnxruntime-node 1.30 optimized-graph dumps: Cast -> op -> Cast around fp16 MatMul/Conv/Gemm/Add/Mul/Relu/Erf';

export const TARGETS: Readonly<Record<TargetName, TargetInfo>> = {
  cpu: {
    name: 'cpu',
    runtime: 'onnxruntime-node',
    summary: 'this machine, onnxruntime-node CPU EP; its ISA is detected (detectCpuTarget) before the ISA rules apply',
    int8Saturates: 'depends',
    fp16Compute: 'cast-wrapped',
    source: 'issue #14',
  },
  'cpu-x86-avx2': {
    name: 'cpu-x86-avx2',
    runtime: 'onnxruntime-node',
    summary: 'x86-64 with AVX2, no AVX-512 and no VNNI',
    int8Saturates: true,
    fp16Compute: 'cast-wrapped',
    source: `${SATURATION}; ${FP16_CASTS}`,
  },
  'cpu-x86-avx512': {
    name: 'cpu-x86-avx512',
    runtime: 'onnxruntime-node',
    summary: 'x86-64 with AVX-512 (F, BW) but no VNNI (Skylake-SP, Cascade Lake without DL Boost)',
    int8Saturates: true,
    fp16Compute: 'cast-wrapped',
    source: `${SATURATION}; ${FP16_CASTS}`,
  },
  'cpu-x86-avx-vnni': {
    name: 'cpu-x86-avx-vnni',
    runtime: 'onnxruntime-node',
    summary: 'x86-64 with AVX-VNNI (256-bit VPDPBUSD) but no AVX-512 (Alder Lake and later client cores)',
    int8Saturates: false,
    fp16Compute: 'cast-wrapped',
    source: `${SATURATION} (VNNI sums into int32); ${FP16_CASTS}`,
  },
  'cpu-x86-avx512-vnni': {
    name: 'cpu-x86-avx512-vnni',
    runtime: 'onnxruntime-node',
    summary: 'x86-64 with AVX-512 VNNI (Cascade Lake DL Boost, Ice Lake, Zen 4)',
    int8Saturates: false,
    fp16Compute: 'cast-wrapped',
    source: `${SATURATION} (VNNI sums into int32); [probe] u8s8 A=255 B=127 K=64 exact on an AVX512-VNNI host; ${FP16_CASTS}`,
  },
  'cpu-x86-amx': {
    name: 'cpu-x86-amx',
    runtime: 'onnxruntime-node',
    summary: 'x86-64 with AMX-INT8 tiles (Sapphire Rapids and later)',
    int8Saturates: false,
    fp16Compute: 'cast-wrapped',
    source: `${SATURATION} (AMX TDPBUSD sums into int32); ${FP16_CASTS}`,
  },
  'cpu-arm64': {
    name: 'cpu-arm64',
    runtime: 'onnxruntime-node',
    summary: 'ARM64 (NEON; SDOT/UDOT with dotprod, SMMLA with i8mm)',
    int8Saturates: false,
    // Unconfirmed for the 1.30 arm64 Node binary: MLAS has fp16 Relu/Gemm/pooling kernels there, nothing else.
    fp16Compute: 'partly-native',
    source: 'microsoft/onnxruntime cpu_execution_provider.cc (commit 002f5992): MLFloat16 kernels behind MLAS_F16VEC_INTRINSICS_SUPPORTED',
  },
  'cpu-portable': {
    name: 'cpu-portable',
    runtime: 'onnxruntime-node',
    summary: 'right and not slower on every CPU above: the intersection of their rules',
    int8Saturates: 'depends',
    fp16Compute: 'cast-wrapped',
    source: `${SATURATION}; ${FP16_CASTS}`,
  },
  wasm: {
    name: 'wasm',
    runtime: 'onnxruntime-web-wasm',
    summary: "onnxruntime-web's wasm backend: the C++ CPU EP (MLAS) compiled to wasm with SIMD",
    int8Saturates: false,
    fp16Compute: 'cast-wrapped',
    minCosine: 0.99,
    source: `[probe] onnxruntime-web 1.30 wasm: u8s8 A=255 B=127 K=64 exact; same OK/FAIL set as onnxruntime-node; issue #14 (cosine 0.99995 on WASM for the file that gave 0.963 on AVX2); ${SILENT_BROWSER}`,
  },
  webgpu: {
    name: 'webgpu',
    runtime: 'onnxruntime-web-webgpu',
    summary:
      'onnxruntime-web/webgpu (the native WebGPU EP transformers.js imports); nodes it lacks fall back to the wasm CPU EP with copies',
    int8Saturates: false,
    fp16Compute: 'native',
    minCosine: 0.99,
    source:
      `${SILENT_BROWSER}; ` +
      "huggingface/transformers.js onnx.js:24 imports onnxruntime-web/webgpu; dtypes.js:14-33 needs the adapter's shader-f16 for fp16; microsoft/onnxruntime docs/JSEP_Deprecation.md",
  },
};

/** The target a check uses: `cpu` becomes the detected ISA when there is one, else every CPU's rules (cpu-portable). */
export function resolveTarget(name: TargetName, detected?: CpuTargetName): TargetInfo {
  if (name !== 'cpu') return TARGETS[name];
  return detected ? TARGETS[detected] : { ...TARGETS['cpu-portable'], name: 'cpu' };
}

/** Whether the target is a CPU that onnxruntime-node runs on (this machine's kind can be measured here). */
export function isCpuTarget(name: TargetName): boolean {
  return TARGETS[name].runtime === 'onnxruntime-node';
}

/**
 * Where a pass's output will run, as a pass and the runner see it (Ctx.target): the name asked for, its
 * facts, and what this machine is, which decides whether the target can be measured here.
 */
export interface TargetContext {
  readonly name: TargetName;
  /** resolveTarget(name, here): `cpu` already turned into this machine's ISA. */
  readonly info: TargetInfo;
  /** This machine's cpu-* target (detectCpuTarget), when known. */
  readonly here?: CpuTargetName;
}

/** The target context for `name` on a machine that is `here`. */
export function targetContext(name: TargetName, here?: CpuTargetName): TargetContext {
  return { name, info: resolveTarget(name, here), ...(here ? { here } : {}) };
}

/**
 * Where this machine can run the target's kernels, so its speed can be measured here: onnxruntime-node for
 * `cpu`, for its own cpu-* name and for cpu-portable (this CPU is one of every CPU); onnxruntime-web's WASM
 * for `wasm`. undefined for another ISA and for WebGPU: those are checked against the op table only.
 */
export function measurableRuntime(t: TargetContext): 'onnxruntime-node' | 'onnxruntime-web-wasm' | undefined {
  if (t.info.runtime === 'onnxruntime-web-wasm') return 'onnxruntime-web-wasm';
  if (t.info.runtime !== 'onnxruntime-node') return undefined;
  return t.name === 'cpu' || t.name === 'cpu-portable' || t.name === t.here ? 'onnxruntime-node' : undefined;
}
