/**
 * Which kernel each quantized (or float16) op type of a model reaches on a target: the same MatMulInteger
 * is VPDPBUSD on a VNNI CPU, VPMADDUBSW (int16 pair sums) on AVX2, MLAS compiled to WASM SIMD in
 * onnxruntime-web, and a CPU fallback on WebGPU. Reports list one row per op type and path, so a ratio
 * measured on one machine says which kernels it measured. Data, not code, as op-table.ts: KERNEL_RULES
 * holds the words and their sources (docs/targets.md has the facts); this file only classifies nodes.
 * Pure: no runtime is loaded, and `isa` is given, so the answer does not depend on this machine.
 */
import { constantTensor } from '../onnx/constant-tensor.js';
import { normalDomain } from '../onnx/domain.js';
import { elemTypes } from '../onnx/elem-types.js';
import { attrInt, nodesDeep, subgraphsOf } from '../onnx/graph.js';
import { onnx } from '../onnx/proto.js';
import { FP16_CAST_WRAPPED_OPS } from './op-table.js';
import type { TargetContext } from './targets.js';

/** One op type as it runs on the target: how many nodes take this path, and why we say so. */
export interface KernelPath {
  readonly opType: string;
  /** The form that decides the path: 'u8 x s8', 'int8 weights dequantized at load', 'accuracy_level 4', 'float16', ... */
  readonly form: string;
  readonly count: number;
  readonly path: string;
  readonly source: string;
}

/**
 * Where the kernels run, as far as the path differs: x86 int8 GEMMs by how they sum products, ARM by its
 * dot-product extension, onnxruntime-web's two backends, or every CPU at once (cpu-portable).
 */
export type KernelPlace =
  | 'x86-vnni'
  | 'x86-amx'
  | 'x86-pairs16'
  | 'x86-sse'
  | 'arm64-i8mm'
  | 'arm64-dotprod'
  | 'arm64-neon'
  | 'arm64'
  | 'cpu-any'
  | 'wasm'
  | 'webgpu';

/** The instruction a uint8 x int8 GEMM sums with, per place (the u8s8 kernels of MLAS). */
const U8S8: Readonly<Record<Exclude<KernelPlace, 'wasm' | 'webgpu'>, string>> = {
  'x86-vnni': 'VPDPBUSD (int32 sums)',
  'x86-amx': 'AMX TDPBUSD (int32 sums)',
  'x86-pairs16': 'VPMADDUBSW (int16 pair sums; weights within ±64 are exact)',
  'x86-sse': 'PMADDWD on widened values (int32 sums)',
  'arm64-i8mm': 'SMMLA/UMMLA (int32 sums)',
  'arm64-dotprod': 'SDOT/UDOT (int32 sums)',
  'arm64-neon': 'NEON widening multiply-accumulate (int32 sums)',
  arm64: 'SDOT/UDOT or SMMLA where the CPU has them, else NEON widening multiply-accumulate (int32 sums)',
  'cpu-any':
    'VPDPBUSD (int32 sums) on VNNI/AMX CPUs, VPMADDUBSW (int16 pair sums; weights within ±64 are exact) on AVX2/AVX-512 without VNNI, SDOT/SMMLA on ARM',
};

const SATURATION_SRC = 'microsoft/onnxruntime PR #12088 (x86/64 U8S8 Gemm precision fix); runtime/cpu.ts int8KernelPath; docs/targets.md';
const MLAS_U8S8_SRC = `microsoft/onnxruntime onnxruntime/core/mlas/lib/qgemm_kernel_avx2.cpp, QgemmU8X8KernelAvx2 (VPMADDUBSW + VPMADDWD, or VPDPBUSD with VNNI), SymQgemmU8KernelAvx512; ${SATURATION_SRC}`;
const MLAS_U8U8_SRC =
  'microsoft/onnxruntime onnxruntime/core/mlas/lib/qgemm_kernel_avx2.cpp and qgemm_kernel_sse.cpp (U8U8 kernels widen both operands to 16 bits before VPMADDWD); unconfirmed for the 1.30 binaries';
const WASM_SRC =
  '[probe] onnxruntime-web 1.30 wasm: u8s8 A=255 B=127 K=64 exact; docs/targets.md (the wasm backend is the C++ CPU EP, MLAS, compiled with SIMD)';
const WEBGPU_FALLBACK_SRC =
  'microsoft/onnxruntime contrib_ops/webgpu/webgpu_contrib_kernels.cc (commit 01671d9c) and webgpu/quantization/quantize_linear.cc (commit 03e9a97a): no such WebGPU kernel; huggingface/transformers.js#1289';
const CONV_INTEGER_SRC =
  '[probe] onnxruntime-node 1.30; issue #14 (ResNet-18 q8 dynamic 1.28x fp32, fashion-cnn 1.80x); microsoft/onnxruntime#20052, #6732';
const FOLD_SRC =
  'microsoft/onnxruntime ConstantFolding graph transformer (level 1, before partitioning): a subgraph of constants is computed once at session creation; [probe] onnxruntime-node 1.30 optimized-graph dump of a Cast+Mul weight';
const QDQ_SRC =
  'microsoft/onnxruntime QDQ selector/action transformers (qdq_selector_action_transformer.cc); issue #14 (ResNet-18 static QDQ 0.57x fp32)';
const NBITS_SRC =
  '[probe] onnxruntime-node 1.30; microsoft/onnxruntime docs/ContribOperators.md (accuracy_level 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8; unconfirmed for 1.30)';
const FP16_SRC =
  '[probe] onnxruntime-node 1.30 optimized-graph dumps: Cast -> op -> Cast around fp16 MatMul/Conv/Gemm/Add/Mul/Relu/Erf; wasm inferred from the same MLAS build';

/** The form of a node, as KERNEL_RULES key on it. */
export type KernelForm =
  /** An integer GEMM with int8 weights (MatMulInteger, DynamicQuantizeMatMul, MatMulIntegerToFloat, QLinearMatMul). */
  | 'gemm-s8'
  /** The same with uint8 weights. */
  | 'gemm-u8'
  | 'conv-integer-s8'
  | 'conv-integer-u8'
  | 'qlinear-conv-s8'
  | 'qlinear-conv-u8'
  /** Float Conv/MatMul/Gemm between QDQ pairs: onnxruntime fuses them into the QLinear kernel. */
  | 'qdq-s8'
  | 'qdq-u8'
  /** Float Conv/MatMul/Gemm whose weight is Cast+Mul or DequantizeLinear of a constant (weight-only). */
  | 'dequantized-weight'
  | 'nbits-int8'
  | 'nbits-float'
  | 'fp16';

export interface KernelRule {
  readonly form: KernelForm;
  /** The places the row holds for; every place when absent. */
  readonly places?: readonly KernelPlace[];
  /** The path in words; `gemm` is the U8S8 instruction text of the place (for int8-weight rows). */
  readonly path: string | ((gemm: string) => string);
  readonly source: string;
}

const CPU_PLACES: readonly KernelPlace[] = [
  'x86-vnni',
  'x86-amx',
  'x86-pairs16',
  'x86-sse',
  'arm64-i8mm',
  'arm64-dotprod',
  'arm64-neon',
  'arm64',
  'cpu-any',
];
const NATIVE_CPU = CPU_PLACES.filter((p) => !p.startsWith('arm64'));
const ARM = CPU_PLACES.filter((p) => p.startsWith('arm64'));
const INTEGER_FORMS: readonly KernelForm[] = [
  'gemm-s8',
  'gemm-u8',
  'conv-integer-s8',
  'conv-integer-u8',
  'qlinear-conv-s8',
  'qlinear-conv-u8',
];

/** First matching row wins: the more specific places come first. */
export const KERNEL_RULES: readonly KernelRule[] = [
  // ---- WebGPU: the integer ops have no GPU kernel ----
  ...INTEGER_FORMS.map((form): KernelRule => ({
    form,
    places: ['webgpu'],
    path: 'CPU fallback (wasm EP), with GPU<->CPU copies around the node',
    source: WEBGPU_FALLBACK_SRC,
  })),
  {
    form: 'qdq-s8',
    places: ['webgpu'],
    path: 'DequantizeLinear on the GPU, QuantizeLinear on the CPU (wasm EP); the float op runs on the GPU (no QLinear fusion there)',
    source: `${WEBGPU_FALLBACK_SRC}; unconfirmed: nothing was run on a GPU`,
  },
  {
    form: 'qdq-u8',
    places: ['webgpu'],
    path: 'DequantizeLinear on the GPU, QuantizeLinear on the CPU (wasm EP); the float op runs on the GPU (no QLinear fusion there)',
    source: `${WEBGPU_FALLBACK_SRC}; unconfirmed: nothing was run on a GPU`,
  },
  {
    form: 'nbits-int8',
    places: ['webgpu'],
    path: 'GPU kernel (DP4A, subgroup-matrix or wide-tile program by adapter); accuracy_level is a CPU setting',
    source:
      'microsoft/onnxruntime webgpu_contrib_kernels.cc (commit 01671d9c); DP4AMatMulNBitsSmallMProgram in onnxruntime-web 1.30 asyncify.wasm',
  },
  {
    form: 'nbits-float',
    places: ['webgpu'],
    path: 'GPU kernel (DP4A, subgroup-matrix or wide-tile program by adapter)',
    source:
      'microsoft/onnxruntime webgpu_contrib_kernels.cc (commit 01671d9c); DP4AMatMulNBitsSmallMProgram in onnxruntime-web 1.30 asyncify.wasm',
  },
  {
    form: 'fp16',
    places: ['webgpu'],
    path: "native float16 shader (needs the adapter's shader-f16; may overflow where float32 does not)",
    source: 'huggingface/transformers.js dtypes.js:14-33; microsoft/onnxruntime#26367, #26732',
  },
  // ---- onnxruntime-web's wasm backend: MLAS compiled to WASM SIMD ----
  { form: 'gemm-s8', places: ['wasm'], path: 'MLAS compiled to WASM SIMD (int32 sums)', source: WASM_SRC },
  { form: 'gemm-u8', places: ['wasm'], path: 'MLAS compiled to WASM SIMD (int32 sums)', source: WASM_SRC },
  {
    form: 'conv-integer-s8',
    places: ['wasm'],
    path: 'im2col + integer GEMM, MLAS compiled to WASM SIMD (int32 sums); no fusion with the activation',
    source: `${WASM_SRC}; ${CONV_INTEGER_SRC}`,
  },
  {
    form: 'conv-integer-u8',
    places: ['wasm'],
    path: 'im2col + integer GEMM, MLAS compiled to WASM SIMD (int32 sums); no fusion with the activation',
    source: `${WASM_SRC}; ${CONV_INTEGER_SRC}`,
  },
  {
    form: 'qlinear-conv-s8',
    places: ['wasm'],
    path: 'MLAS quantized conv compiled to WASM SIMD (int32 sums), output requantized in the kernel',
    source: WASM_SRC,
  },
  {
    form: 'qlinear-conv-u8',
    places: ['wasm'],
    path: 'MLAS quantized conv compiled to WASM SIMD (int32 sums), output requantized in the kernel',
    source: WASM_SRC,
  },
  {
    form: 'qdq-s8',
    places: ['wasm'],
    path: 'fused into QLinearConv/QLinearMatMul by the QDQ transformers: MLAS compiled to WASM SIMD (int32 sums)',
    source: `${QDQ_SRC}; ${WASM_SRC}`,
  },
  {
    form: 'qdq-u8',
    places: ['wasm'],
    path: 'fused into QLinearConv/QLinearMatMul by the QDQ transformers: MLAS compiled to WASM SIMD (int32 sums)',
    source: `${QDQ_SRC}; ${WASM_SRC}`,
  },
  {
    form: 'nbits-int8',
    places: ['wasm'],
    path: 'MLAS block kernels compiled to WASM SIMD (whether level 4 reaches an int8 dot kernel there is unconfirmed)',
    source: `${NBITS_SRC}; [probe] onnxruntime-web 1.30 wasm runs MatMulNBits`,
  },
  {
    form: 'nbits-float',
    places: ['wasm'],
    path: 'float kernel on dequantized blocks, compiled to WASM SIMD',
    source: `${NBITS_SRC}; [probe] onnxruntime-web 1.30 wasm runs MatMulNBits`,
  },
  // ---- CPU EP (onnxruntime-node) ----
  { form: 'gemm-s8', places: CPU_PLACES, path: (gemm) => `MLAS u8s8 GEMM, ${gemm}`, source: MLAS_U8S8_SRC },
  {
    form: 'gemm-u8',
    places: NATIVE_CPU,
    path: 'MLAS u8u8 GEMM (both operands widened to int16, VPMADDWD/PMADDWD into int32: exact)',
    source: MLAS_U8U8_SRC,
  },
  { form: 'gemm-u8', places: ARM, path: 'MLAS u8u8 GEMM, UDOT/UMMLA where the CPU has them (int32 sums)', source: MLAS_U8U8_SRC },
  {
    form: 'conv-integer-s8',
    places: CPU_PLACES,
    path: (gemm) => `im2col + integer GEMM (MLAS u8s8, ${gemm}), no fusion with the activation`,
    source: `${CONV_INTEGER_SRC}; ${SATURATION_SRC}`,
  },
  {
    form: 'conv-integer-u8',
    places: CPU_PLACES,
    path: 'im2col + integer GEMM (MLAS u8u8), no fusion with the activation',
    source: `${CONV_INTEGER_SRC}; ${MLAS_U8U8_SRC}`,
  },
  {
    form: 'qlinear-conv-s8',
    places: CPU_PLACES,
    path: (gemm) => `MLAS quantized conv (u8s8 GEMM, ${gemm}), output requantized in the kernel`,
    source: `[probe] onnxruntime-node 1.30; issue #14 (ResNet-18 static QDQ 0.57x fp32); ${SATURATION_SRC}`,
  },
  {
    form: 'qlinear-conv-u8',
    places: CPU_PLACES,
    path: 'MLAS quantized conv (u8u8 GEMM), output requantized in the kernel',
    source: `[probe] onnxruntime-node 1.30; ${MLAS_U8U8_SRC}`,
  },
  {
    form: 'qdq-s8',
    places: CPU_PLACES,
    path: (gemm) => `fused into QLinearConv/QLinearMatMul/QGemm by the QDQ transformers: MLAS u8s8, ${gemm}`,
    source: `${QDQ_SRC}; ${SATURATION_SRC}`,
  },
  {
    form: 'qdq-u8',
    places: CPU_PLACES,
    path: 'fused into QLinearConv/QLinearMatMul/QGemm by the QDQ transformers: MLAS u8u8 GEMM',
    source: `${QDQ_SRC}; ${MLAS_U8U8_SRC}`,
  },
  {
    form: 'nbits-int8',
    places: CPU_PLACES,
    path: 'int8 dot kernels (A quantized per block)',
    source: NBITS_SRC,
  },
  {
    form: 'nbits-float',
    places: CPU_PLACES,
    path: 'float kernel on dequantized blocks',
    source: NBITS_SRC,
  },
  {
    form: 'fp16',
    places: ['arm64', 'arm64-i8mm', 'arm64-dotprod', 'arm64-neon'],
    path: 'native float16 kernel where MLAS has one (Relu, Gemm, pooling), else Cast-wrapped: float32 kernel between two Casts (unconfirmed for the 1.30 arm64 binary)',
    source: 'microsoft/onnxruntime cpu_execution_provider.cc (commit 002f5992): MLFloat16 kernels behind MLAS_F16VEC_INTRINSICS_SUPPORTED',
  },
  { form: 'fp16', path: 'Cast-wrapped: float32 kernel between two Casts', source: FP16_SRC },
  // ---- every place: constant folding happens before the graph is split between providers ----
  {
    form: 'dequantized-weight',
    path: 'float kernel; weights dequantized once when the session loads (constant folding)',
    source: FOLD_SRC,
  },
];

/** The place of an ISA word (int8KernelPath().isa) or a cpu-* target name. */
export function placeOfIsa(isa: string | undefined): KernelPlace {
  switch (isa) {
    case 'avx512-vnni':
    case 'avx-vnni':
    case 'cpu-x86-avx512-vnni':
    case 'cpu-x86-avx-vnni':
      return 'x86-vnni';
    case 'amx':
    case 'cpu-x86-amx':
      return 'x86-amx';
    case 'avx2':
    case 'avx512':
    case 'cpu-x86-avx2':
    case 'cpu-x86-avx512':
      return 'x86-pairs16';
    case 'sse4.1':
      return 'x86-sse';
    case 'arm64-i8mm':
    case 'arm64-dotprod':
    case 'arm64-neon':
      return isa;
    case 'arm64':
    case 'cpu-arm64':
      return 'arm64';
    default:
      return 'cpu-any';
  }
}

/**
 * Where `target`'s kernels run: onnxruntime-web's backends by name; `cpu` is the machine whose ISA is
 * `isa` (this one's, from int8KernelPath, when the caller passes it; else what the target resolved to);
 * a named cpu-* target is that ISA whatever this machine is; cpu-portable is every CPU.
 */
export function kernelPlace(target: TargetContext, isa?: string): KernelPlace {
  if (target.info.runtime === 'onnxruntime-web-wasm') return 'wasm';
  if (target.info.runtime === 'onnxruntime-web-webgpu') return 'webgpu';
  if (target.name === 'cpu-portable') return 'cpu-any';
  if (target.name === 'cpu') return placeOfIsa(isa ?? target.here ?? target.info.name);
  return placeOfIsa(target.name);
}

const DT = onnx.TensorProto.DataType;
const INT_GEMM: Readonly<Record<string, { domain: string; weight: number; act?: number }>> = {
  MatMulInteger: { domain: '', act: 0, weight: 1 },
  QLinearMatMul: { domain: '', act: 0, weight: 3 },
  DynamicQuantizeMatMul: { domain: 'com.microsoft', weight: 1 },
  MatMulIntegerToFloat: { domain: 'com.microsoft', act: 0, weight: 1 },
};
const FLOAT_WEIGHTED = new Set(['Conv', 'MatMul', 'Gemm']);

const ELEM: Readonly<Record<number, string>> = { [DT.UINT8]: 'u8', [DT.INT8]: 's8' };

interface ModelFacts {
  readonly types: ReadonlyMap<string, number>;
  readonly producer: ReadonlyMap<string, onnx.INodeProto>;
  readonly consts: ReadonlySet<string>;
}

function facts(model: onnx.IModelProto): ModelFacts {
  const types = new Map<string, number>();
  const producer = new Map<string, onnx.INodeProto>();
  const consts = new Set<string>();
  const visit = (g: onnx.IGraphProto) => {
    for (const [k, v] of elemTypes(g)) if (!types.has(k)) types.set(k, v);
    for (const t of g.initializer ?? []) if (t.name) consts.add(t.name);
    for (const n of g.node ?? []) {
      for (const o of n.output ?? []) if (o) producer.set(o, n);
      if (constantTensor(n) && n.output?.[0]) consts.add(n.output[0]);
      for (const sg of subgraphsOf(n)) visit(sg);
    }
  };
  if (model.graph) visit(model.graph);
  return { types, producer, consts };
}

/** A constant as a node sees it: directly, or through Identity/Reshape/Transpose/Cast/Unsqueeze of one. */
function constantBehind(name: string | undefined, f: ModelFacts, depth = 0): string | undefined {
  if (!name || depth > 4) return undefined;
  if (f.consts.has(name)) return name;
  const p = f.producer.get(name);
  if (!p || normalDomain(p.domain) !== '' || !['Identity', 'Reshape', 'Transpose', 'Cast', 'Unsqueeze'].includes(p.opType ?? ''))
    return undefined;
  return constantBehind(p.input?.[0], f, depth + 1);
}

/**
 * The quantized element type of a float weight computed from a constant at load: DequantizeLinear of a
 * constant, or Mul of a Cast of a constant (Shrink's weight-only Conv) with a constant scale.
 */
function dequantizedConstant(name: string | undefined, f: ModelFacts): number | undefined {
  const p = name ? f.producer.get(name) : undefined;
  if (!p || normalDomain(p.domain) !== '') return undefined;
  if (p.opType === 'Transpose' || p.opType === 'Reshape' || p.opType === 'Identity') return dequantizedConstant(p.input?.[0], f);
  if (p.opType === 'DequantizeLinear') {
    const c = constantBehind(p.input?.[0], f);
    return c === undefined ? undefined : f.types.get(c);
  }
  if (p.opType === 'Mul') {
    for (const [i, j] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const cast = f.producer.get(p.input?.[i] ?? '');
      if (cast?.opType === 'Cast' && constantBehind(p.input?.[j], f) !== undefined) {
        const c = constantBehind(cast.input?.[0], f);
        if (c !== undefined) return f.types.get(c);
      }
    }
  }
  return undefined;
}

/** The element type a float activation had before DequantizeLinear made it float (a QDQ activation), if so. */
function dequantizedActivation(name: string | undefined, f: ModelFacts): number | undefined {
  const p = name ? f.producer.get(name) : undefined;
  if (p?.opType !== 'DequantizeLinear' || normalDomain(p.domain) !== '') return undefined;
  if (constantBehind(p.input?.[0], f) !== undefined) return undefined;
  return f.types.get(p.input?.[0] ?? '');
}

const sw = (w: number | undefined): 's8' | 'u8' | undefined => (w === DT.INT8 ? 's8' : w === DT.UINT8 ? 'u8' : undefined);

/** The form and its words for one node, or undefined when the node is not quantized or float16 compute. */
function classify(node: onnx.INodeProto, f: ModelFacts): { form: KernelForm; words: string } | undefined {
  const op = node.opType ?? '';
  const domain = normalDomain(node.domain);
  const gemm = INT_GEMM[op];
  const pair = (act: number | undefined, w: number | undefined) =>
    `${act === undefined ? 'u8' : (ELEM[act] ?? '?')} x ${ELEM[w ?? -1] ?? '?'}`;
  if (gemm && gemm.domain === domain) {
    const w = f.types.get(node.input?.[gemm.weight] ?? '');
    const kind = sw(w);
    if (!kind) return undefined;
    const act = gemm.act === undefined ? undefined : f.types.get(node.input?.[gemm.act] ?? '');
    return { form: kind === 's8' ? 'gemm-s8' : 'gemm-u8', words: pair(act, w) };
  }
  if (domain === '' && (op === 'ConvInteger' || op === 'QLinearConv')) {
    const w = f.types.get(node.input?.[op === 'ConvInteger' ? 1 : 3] ?? '');
    const kind = sw(w);
    if (!kind) return undefined;
    const words = pair(f.types.get(node.input?.[0] ?? ''), w);
    if (op === 'ConvInteger') return { form: kind === 's8' ? 'conv-integer-s8' : 'conv-integer-u8', words };
    return { form: kind === 's8' ? 'qlinear-conv-s8' : 'qlinear-conv-u8', words };
  }
  if (domain === 'com.microsoft' && op === 'MatMulNBits') {
    const level = attrInt(node, 'accuracy_level', 0);
    const bits = attrInt(node, 'bits', 4);
    return level === 4
      ? { form: 'nbits-int8', words: `${bits}-bit blocks, accuracy_level 4` }
      : { form: 'nbits-float', words: `${bits}-bit blocks, accuracy_level ${level}` };
  }
  if (domain !== '') return undefined;
  if (FLOAT_WEIGHTED.has(op)) {
    const w = dequantizedConstant(node.input?.[1], f);
    const act = dequantizedActivation(node.input?.[0], f);
    if (w !== undefined && act !== undefined && sw(w)) {
      return { form: sw(w) === 's8' ? 'qdq-s8' : 'qdq-u8', words: `QDQ ${pair(act, w)}` };
    }
    if (w !== undefined)
      return { form: 'dequantized-weight', words: `${ELEM[w] === 's8' ? 'int8' : ELEM[w] === 'u8' ? 'uint8' : 'quantized'} weights` };
  }
  if (FP16_CAST_WRAPPED_OPS.includes(op) && f.types.get(node.input?.[0] ?? '') === DT.FLOAT16) return { form: 'fp16', words: 'float16' };
  return undefined;
}

function ruleFor(form: KernelForm, place: KernelPlace, rules: readonly KernelRule[]): KernelRule | undefined {
  return rules.find((r) => r.form === form && (r.places === undefined || r.places.includes(place)));
}

/**
 * The kernel path of every quantized op type of `model` (main graph and bodies) on `target`, one row per
 * op type, form and path, in the order the op types first appear. `isa` is the ISA word of the machine
 * `cpu` means (int8KernelPath().isa, e.g. 'avx512-vnni', 'avx2'); named cpu-* targets ignore it.
 */
export function kernelPaths(
  model: onnx.IModelProto,
  target: TargetContext,
  isa?: string,
  rules: readonly KernelRule[] = KERNEL_RULES,
): KernelPath[] {
  const place = kernelPlace(target, isa);
  const gemm = place === 'wasm' || place === 'webgpu' ? U8S8['cpu-any'] : U8S8[place];
  const f = facts(model);
  const rows = new Map<string, { opType: string; form: string; count: number; path: string; source: string }>();
  for (const node of nodesDeep(model.graph)) {
    const c = classify(node, f);
    if (!c) continue;
    const rule = ruleFor(c.form, place, rules);
    if (!rule) continue;
    const path = typeof rule.path === 'string' ? rule.path : rule.path(gemm);
    const key = `${node.opType ?? ''}\u0000${c.words}\u0000${path}`;
    const row = rows.get(key);
    if (row) row.count++;
    else rows.set(key, { opType: node.opType ?? '', form: c.words, count: 1, path, source: rule.source });
  }
  return [...rows.values()];
}
