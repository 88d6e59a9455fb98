/**
 * What each runtime does with the quantized and float16 op forms Shrink emits: whether a session takes
 * the node, and whether it is fast there. Data, not code: checkTarget matches nodes against these rows,
 * docs/targets.md explains them, and op-table.runtime.test.ts builds the one-node model of every
 * onnxruntime-node row and checks the claim against the installed onnxruntime. Every row cites where its
 * claim comes from; "[probe]" rows were measured with a one-node model, session optimizations disabled.
 */
import type { TargetInfo, TargetRuntime } from './targets.js';

/** Element type names as checkTarget reads them (ONNX's, with the 4-bit ones Shrink's DType lacks). */
export type ElemName = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'uint8' | 'int8' | 'int32' | 'int64' | 'uint4' | 'int4';

/** An integer attribute's condition; `dflt` is its value when the node does not set it. */
export interface AttrCondition {
  readonly dflt?: number;
  readonly in?: readonly number[];
  readonly notIn?: readonly number[];
}

export interface OpMatch {
  /** Input index -> the element types that match; a node whose type there is unknown does not match. */
  readonly inputs?: Readonly<Record<number, readonly ElemName[]>>;
  readonly attrs?: Readonly<Record<string, AttrCondition>>;
  /** Quantization granularity, from the scale (input 1) and `block_size` of Quantize/DequantizeLinear. */
  readonly granularity?: 'per-tensor' | 'per-axis' | 'blocked';
  /** Input index of int8 weights that leave [-64, 64] (or are not constant): only those can saturate. */
  readonly wideInt8?: number;
}

export type Supported =
  /** The session takes the node (on webgpu: on the GPU). */
  | 'runs'
  /** Session creation fails ("Could not find an implementation", or the kernel's constructor throws). */
  | 'rejected'
  /** webgpu only: the node runs on the wasm CPU EP, with GPU<->CPU copies around it. */
  | 'cpu-fallback'
  /** The sources disagree or are older than onnxruntime 1.30; run it there before relying on it. */
  | 'unconfirmed';

export interface OpRule {
  /** Stable key for reports and tests. */
  readonly id: string;
  readonly ops: readonly string[];
  /** '' is the ONNX domain. */
  readonly domain: '' | 'com.microsoft';
  readonly runtimes: readonly TargetRuntime[];
  /** Target facts the row needs besides the runtime (e.g. only CPUs whose u8s8 GEMM saturates). */
  readonly when?: {
    readonly int8Saturates?: true;
    readonly fp16Compute?: TargetInfo['fp16Compute'];
  };
  readonly match?: OpMatch;
  readonly supported: Supported;
  readonly speed: 'fast' | 'slow' | 'unknown';
  /** Runs, but the numbers can be wrong. */
  readonly risk?: 'may-saturate' | 'may-overflow';
  readonly note: string;
  readonly source: string;
}

const NODE: TargetRuntime = 'onnxruntime-node';
const WASM: TargetRuntime = 'onnxruntime-web-wasm';
const GPU: TargetRuntime = 'onnxruntime-web-webgpu';
const CPU_EPS = [NODE, WASM] as const;
const EVERY = [NODE, WASM, GPU] as const;

const PROBE_NODE = '[probe] onnxruntime-node 1.30 (op-table.runtime.test.ts re-checks it)';
const PROBE_BOTH = `${PROBE_NODE}; [probe] onnxruntime-web 1.30 wasm: same result`;
const I8_U8: readonly ElemName[] = ['int8', 'uint8'];
const U8: readonly ElemName[] = ['uint8'];
const I8: readonly ElemName[] = ['int8'];
const WEBGPU_CONTRIB =
  'microsoft/onnxruntime contrib_ops/webgpu/webgpu_contrib_kernels.cc (commit 01671d9c): no such kernel; the WebGPU EP falls back to the CPU EP (fallback_cpu_capability.h; huggingface/transformers.js#1289 shows the "not assigned" warning)';

/** ONNX float ops whose float16 form onnxruntime's x64 CPU EP runs between inserted Casts to float32. */
export const FP16_CAST_WRAPPED_OPS: readonly string[] = [
  'MatMul',
  'Gemm',
  'Conv',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Relu',
  'Sigmoid',
  'Tanh',
  'Erf',
  'Softmax',
];

export const OP_RULES: readonly OpRule[] = [
  // ---- ConvInteger (dynamic int8 Conv) ----
  {
    id: 'ConvInteger.cpu',
    ops: ['ConvInteger'],
    domain: '',
    runtimes: [NODE],
    match: { inputs: { 0: I8_U8, 1: I8_U8 } },
    supported: 'runs',
    speed: 'slow',
    note: 'im2col + integer GEMM + Cast/Mul back to float, not fused: slower than the float Conv (ResNet-18 q8 dynamic 1.28x fp32, fashion-cnn 1.80x); static QDQ (QLinearConv) is the fast form',
    source: `${PROBE_NODE}; issue #14 measurements; microsoft/onnxruntime#20052, #6732`,
  },
  {
    id: 'ConvInteger.wasm',
    ops: ['ConvInteger'],
    domain: '',
    runtimes: [WASM],
    match: { inputs: { 0: I8_U8, 1: I8_U8 } },
    supported: 'runs',
    speed: 'unknown',
    note: 'runs (ResNet-18 q8 dynamic: cosine 0.9994); latency against fp32 not measured in wasm yet',
    source: '[probe] onnxruntime-web 1.30 wasm; issue #14',
  },
  {
    id: 'ConvInteger.int8-weights',
    ops: ['ConvInteger'],
    domain: '',
    runtimes: CPU_EPS,
    match: { inputs: { 1: I8 } },
    supported: 'runs',
    speed: 'unknown',
    note: 'int8 weights run since microsoft/onnxruntime PR #26585 (merged 2025-11-16); onnxruntime <= 1.23 rejects them ("Could not find an implementation for ConvInteger(10)", microsoft/Olive#686), hence transformers.js keeps Conv weights uint8',
    source: `${PROBE_BOTH}; microsoft/onnxruntime PR #26585; huggingface/transformers.js scripts/quantize.py @839c350 lines 38-58`,
  },
  // ---- MatMulInteger (dynamic int8 MatMul) ----
  {
    id: 'MatMulInteger.u8s8',
    ops: ['MatMulInteger'],
    domain: '',
    runtimes: [NODE],
    match: { inputs: { 0: U8, 1: I8 } },
    supported: 'runs',
    speed: 'fast',
    note: "MLAS's u8s8 path (VPDPBUSD with VNNI, VPMADDUBSW on AVX2): 784-2048-2048-10 MLP q8 at batch 32 took 0.55x fp32 on AVX2, 0.17-0.24x on AVX512-VNNI",
    source: `${PROBE_NODE}; issue #14 measurements`,
  },
  {
    id: 'MatMulInteger.other',
    ops: ['MatMulInteger'],
    domain: '',
    runtimes: CPU_EPS,
    match: { inputs: { 0: I8_U8, 1: I8_U8 } },
    supported: 'runs',
    speed: 'unknown',
    note: 'all four of u8/i8 x u8/i8 are registered; only u8s8 has a measured speed',
    source: PROBE_BOTH,
  },
  // ---- dynamic quantization helpers ----
  {
    id: 'DynamicQuantizeLinear',
    ops: ['DynamicQuantizeLinear'],
    domain: '',
    runtimes: CPU_EPS,
    match: { inputs: { 0: ['float32'] } },
    supported: 'runs',
    speed: 'unknown',
    note: 'float32 -> uint8 only (dynamic activations are always uint8); one extra pass over the activations per call',
    source: `${PROBE_BOTH}; microsoft/onnxruntime docs/OperatorKernels.md (DynamicQuantizeLinear 11+ T2 = uint8)`,
  },
  {
    id: 'DynamicQuantizeMatMul',
    ops: ['DynamicQuantizeMatMul', 'MatMulIntegerToFloat'],
    domain: 'com.microsoft',
    runtimes: CPU_EPS,
    supported: 'runs',
    speed: 'unknown',
    note: 'fused dynamic int8 MatMul (DynamicQuantizeMatMul B int8/uint8; MatMulIntegerToFloat u8s8, u8u8, s8s8)',
    source: PROBE_BOTH,
  },
  // ---- QuantizeLinear / DequantizeLinear ----
  {
    id: 'QuantizeLinear.8bit',
    ops: ['QuantizeLinear'],
    domain: '',
    runtimes: CPU_EPS,
    match: { inputs: { 0: ['float32'] } },
    supported: 'runs',
    speed: 'unknown',
    note: 'per-tensor and per-axis, uint8 and int8 (opset 13); int4/uint4 with opset 21 (never make an int4 tensor a graph output: onnxruntime-node 1.30 aborts the process converting it)',
    source: PROBE_BOTH,
  },
  {
    id: 'DequantizeLinear.per-axis',
    ops: ['DequantizeLinear'],
    domain: '',
    runtimes: CPU_EPS,
    match: { inputs: { 0: ['uint8', 'int8', 'int32'] }, granularity: 'per-axis' },
    supported: 'runs',
    speed: 'unknown',
    note: 'per-axis uint8/int8/int32 (int32 with or without an int32 zero point); QDQ pairs around Conv/MatMul fuse into QLinear kernels at optimization level basic and above',
    source: `${PROBE_BOTH}; microsoft/onnxruntime docs/OperatorKernels.md (DequantizeLinear [13,18] T = int32,int8,uint8)`,
  },
  {
    id: 'DequantizeLinear.4bit',
    ops: ['DequantizeLinear'],
    domain: '',
    runtimes: CPU_EPS,
    match: { inputs: { 0: ['uint4', 'int4'] } },
    supported: 'runs',
    speed: 'unknown',
    note: 'int4/uint4 per-axis and blocked (opset 21, block_size)',
    source: `${PROBE_BOTH}; microsoft/onnxruntime docs/OperatorKernels.md (DequantizeLinear 21-24 adds int4, uint4)`,
  },
  {
    id: 'DequantizeLinear.blocked',
    ops: ['DequantizeLinear'],
    domain: '',
    runtimes: CPU_EPS,
    match: { granularity: 'blocked' },
    supported: 'runs',
    speed: 'unknown',
    note: 'blocked scales (opset 21 block_size) for uint8, int4, uint4',
    source: PROBE_BOTH,
  },
  // ---- QLinearConv / QLinearMatMul (static int8) ----
  {
    id: 'QLinearConv.ok',
    ops: ['QLinearConv'],
    domain: '',
    runtimes: [NODE],
    match: { inputs: { 0: ['uint8', 'int8'], 3: ['uint8', 'int8'] } },
    supported: 'runs',
    speed: 'fast',
    note: 'static int8 Conv: ResNet-18 static QDQ ran at 0.57x fp32 (x u8/w u8, u8/i8 incl. per-channel, i8/i8)',
    source: `${PROBE_NODE}; issue #14 measurements`,
  },
  {
    id: 'QLinearConv.i8xu8',
    ops: ['QLinearConv'],
    domain: '',
    runtimes: EVERY,
    match: { inputs: { 0: I8, 3: U8 } },
    supported: 'rejected',
    speed: 'unknown',
    note: '"Could not find an implementation for QLinearConv(10)": int8 activations need int8 weights; use u8/u8, u8/i8 or i8/i8 (on webgpu the node falls back to the CPU EP, which lacks it too)',
    source: PROBE_BOTH,
  },
  {
    id: 'QLinearMatMul.ok',
    ops: ['QLinearMatMul'],
    domain: '',
    runtimes: [NODE],
    match: { inputs: { 0: ['uint8', 'int8'], 3: ['uint8', 'int8'] } },
    supported: 'runs',
    speed: 'fast',
    note: 'static int8 MatMul (u8/u8, u8/i8, i8/i8)',
    source: PROBE_NODE,
  },
  {
    id: 'QLinearMatMul.i8xu8',
    ops: ['QLinearMatMul'],
    domain: '',
    runtimes: EVERY,
    match: { inputs: { 0: I8, 3: U8 } },
    supported: 'rejected',
    speed: 'unknown',
    note: '"Could not find an implementation for QLinearMatMul(10)": int8 activations need int8 weights (on webgpu the CPU fallback lacks it too)',
    source: PROBE_BOTH,
  },
  // ---- u8s8 saturation (x86 without VNNI) ----
  ...(
    [
      ['MatMulInteger', '', 1],
      ['ConvInteger', '', 1],
      ['QLinearMatMul', '', 3],
      ['QLinearConv', '', 3],
      ['DynamicQuantizeMatMul', 'com.microsoft', 1],
      ['MatMulIntegerToFloat', 'com.microsoft', 1],
    ] as const
  ).map(([op, domain, w]): OpRule => ({
    id: `${op}.u8s8-saturates`,
    ops: [op],
    domain,
    runtimes: [NODE],
    when: { int8Saturates: true },
    match: { inputs: op === 'DynamicQuantizeMatMul' ? { [w]: I8 } : { 0: U8, [w]: I8 }, wideInt8: w },
    supported: 'runs',
    speed: 'fast',
    risk: 'may-saturate',
    note: "uint8 x int8 pairs are summed into a saturating int16 (VPMADDUBSW) without VNNI; int8 weights outside [-64, 64] can clip (use uint8 weights, reduce_range, or onnxruntime's session.x64quantprecision)",
    source: `microsoft/onnxruntime PR #12088 (x86/64 U8S8 Gemm precision fix); issue #14 (q8 cosine 0.963 on AVX2, 0.99995 on wasm)`,
  })),
  // ---- MatMulNBits (blockwise 2/4/8-bit weights) ----
  {
    id: 'MatMulNBits.bits',
    ops: ['MatMulNBits'],
    domain: 'com.microsoft',
    runtimes: EVERY,
    match: { attrs: { bits: { dflt: 4, notIn: [2, 4, 8] } } },
    supported: 'rejected',
    speed: 'unknown',
    note: 'session init fails: "Only 2b, 4b and 8b quantization is supported for MatMulNBits op"',
    source: `${PROBE_BOTH} (matmul_nbits.cc:130)`,
  },
  {
    id: 'MatMulNBits.block-size',
    ops: ['MatMulNBits'],
    domain: 'com.microsoft',
    runtimes: CPU_EPS,
    match: { attrs: { block_size: { notIn: [16, 32, 64, 128, 256] } } },
    supported: 'rejected',
    speed: 'unknown',
    note: 'session init fails unless block_size is 16, 32, 64, 128 or 256 ("Only block sizes 16, 32, 64, 128, and 256 are supported"; a power of two above 256 is rejected too)',
    source: `${PROBE_NODE} (matmul_nbits.cc:132)`,
  },
  {
    id: 'MatMulNBits.cpu',
    ops: ['MatMulNBits'],
    domain: 'com.microsoft',
    runtimes: CPU_EPS,
    match: { attrs: { bits: { dflt: 4, in: [2, 4, 8] } } },
    supported: 'runs',
    speed: 'unknown',
    note: 'bits 2/4/8, block sizes 16-256, zero points and g_idx all run; float16 A runs too (no native fp16 GEMM on x64)',
    source: PROBE_BOTH,
  },
  {
    id: 'MatMulNBits.accuracy-level-4',
    ops: ['MatMulNBits'],
    domain: 'com.microsoft',
    runtimes: CPU_EPS,
    match: { attrs: { accuracy_level: { dflt: 0, in: [4] } } },
    supported: 'runs',
    speed: 'fast',
    note: 'accuracy_level 4 quantizes A to int8 and uses int8 dot kernels (VNNI, ARM dotprod/i8mm): the fastest CPU path, numerics differ slightly from level 0',
    source: `${PROBE_NODE}; microsoft/onnxruntime docs/ContribOperators.md (accuracy_level 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8; unconfirmed for 1.30)`,
  },
  {
    id: 'MatMulNBits.webgpu-4bit',
    ops: ['MatMulNBits'],
    domain: 'com.microsoft',
    runtimes: [GPU],
    match: { attrs: { bits: { dflt: 4, in: [4] } } },
    supported: 'runs',
    speed: 'fast',
    note: 'GPU kernel (DP4A, subgroup-matrix and wide-tile programs); wrong results on some adapters have been reported (huggingface/transformers.js#1728)',
    source:
      'microsoft/onnxruntime webgpu_contrib_kernels.cc (commit 01671d9c); contrib::webgpu::MatMulNBits and DP4AMatMulNBitsSmallMProgram strings in onnxruntime-web 1.30 asyncify.wasm',
  },
  {
    id: 'MatMulNBits.webgpu-not-4bit',
    ops: ['MatMulNBits'],
    domain: 'com.microsoft',
    runtimes: [GPU],
    match: { attrs: { bits: { dflt: 4, in: [2, 8] } } },
    supported: 'unconfirmed',
    speed: 'unknown',
    note: 'the WebGPU kernel accepted bits == 4 only at commit 8800830a ("Only 4b quantization is supported"); 1.30 not checked',
    source: 'microsoft/onnxruntime contrib_ops/webgpu/quantization/matmul_nbits.h (commit 8800830a)',
  },
  // ---- GatherBlockQuantized (quantized embeddings) ----
  {
    id: 'GatherBlockQuantized',
    ops: ['GatherBlockQuantized'],
    domain: 'com.microsoft',
    runtimes: EVERY,
    match: { inputs: { 0: ['uint8', 'int4', 'uint4'], 1: ['int32', 'int64'] } },
    supported: 'runs',
    speed: 'unknown',
    note: 'data uint8 (bits 4 packed, or 8), int4 or uint4; indices second; float32 or float16 scales',
    source: `${PROBE_BOTH}; webgpu: microsoft/onnxruntime webgpu_contrib_kernels.cc (commit 01671d9c)`,
  },
  // ---- float16 compute ----
  {
    id: 'fp16.cast-wrapped',
    ops: FP16_CAST_WRAPPED_OPS,
    domain: '',
    runtimes: CPU_EPS,
    when: { fp16Compute: 'cast-wrapped' },
    match: { inputs: { 0: ['float16'] } },
    supported: 'runs',
    speed: 'slow',
    note: 'no float16 kernel: onnxruntime inserts Cast to float32 before and Cast back after, so the node computes in fp32 plus two Casts (an fp16 OCR detector ran 3.33x slower than fp32); float16 is for size or WebGPU',
    source: `${PROBE_NODE} (optimized-graph dump: Cast -> op -> Cast); wasm inferred from the same MLAS build, not dumped`,
  },
  {
    id: 'fp16.layer-norm',
    ops: ['LayerNormalization'],
    domain: '',
    runtimes: CPU_EPS,
    match: { inputs: { 0: ['float16'] } },
    supported: 'runs',
    speed: 'unknown',
    note: 'native float16 kernel (no Casts inserted)',
    source: `${PROBE_NODE} (optimized-graph dump)`,
  },
  {
    id: 'fp16.webgpu',
    ops: [...FP16_CAST_WRAPPED_OPS, 'LayerNormalization'],
    domain: '',
    runtimes: [GPU],
    match: { inputs: { 0: ['float16'] } },
    supported: 'runs',
    speed: 'fast',
    risk: 'may-overflow',
    note: "needs the adapter's shader-f16 feature; float16 overflow has produced NaN or garbage on WebGPU where CPU/wasm were right",
    source: 'huggingface/transformers.js dtypes.js:14-33 (isWebGpuFp16Supported); microsoft/onnxruntime#26367, #26732',
  },
  // ---- WebGPU: integer ops the GPU EP lacks ----
  {
    id: 'webgpu.cpu-fallback',
    ops: ['ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear', 'QuantizeLinear', 'QLinearConv', 'QLinearMatMul'],
    domain: '',
    runtimes: [GPU],
    supported: 'cpu-fallback',
    speed: 'slow',
    note: 'not a WebGPU kernel: runs on the wasm CPU EP with GPU<->CPU copies (transformers.js q8/int8/uint8 files on device webgpu)',
    source: `microsoft/onnxruntime core/providers/webgpu (webgpu_execution_provider.cc, quantization/quantize_linear.cc registers DequantizeLinear only); ${WEBGPU_CONTRIB}`,
  },
  {
    id: 'webgpu.contrib-cpu-fallback',
    ops: ['DynamicQuantizeMatMul', 'MatMulIntegerToFloat'],
    domain: 'com.microsoft',
    runtimes: [GPU],
    supported: 'cpu-fallback',
    speed: 'slow',
    note: 'not a WebGPU kernel: runs on the wasm CPU EP with GPU<->CPU copies',
    source: WEBGPU_CONTRIB,
  },
  {
    id: 'webgpu.dequantize',
    ops: ['DequantizeLinear'],
    domain: '',
    runtimes: [GPU],
    match: { inputs: { 0: ['int8', 'uint8', 'int32', 'int4', 'uint4'] } },
    supported: 'runs',
    speed: 'unknown',
    note: 'GPU kernel: per-tensor, per-axis and blocked; int32 input with int32 zero point accepted; float32 or float16 output',
    source:
      'microsoft/onnxruntime core/providers/webgpu/quantization/quantize_linear.cc (commit 03e9a97a); onnxruntime::webgpu::DequantizeLinear in onnxruntime-web 1.30 asyncify.wasm',
  },
];
