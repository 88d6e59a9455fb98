/**
 * Where a compressed model is slower than its float input, region by region. onnxruntime profiles the
 * graphs it optimized: fused nodes ("fused fc1/Gemm", Conv + Relu as one NCHWc kernel named after its
 * output tensor), inserted layout nodes, and what a pass added around a node (the activation's
 * DynamicQuantizeLinear, the output's Cast and Mul) all have their own names. A region gathers what
 * changed on both sides and compares their summed times, so a fused float Gemm + Relu is weighed against
 * the quantized MatMul, its quantization nodes and the Relu it can no longer fuse.
 */
import type { onnx } from '../onnx/proto.js';

/** A kernel's mean time per run, by the name onnxruntime's profiler gives it. */
export interface KernelTiming {
  readonly name: string;
  /** Microseconds in each timed run; run k of the input model and of the output model ran side by side. */
  readonly perRun: readonly number[];
}

export interface SpeedRegion {
  /** The pass's changed nodes in the region, as `exclude` names them: what a rollback leaves float. */
  readonly changed: readonly string[];
  /** Input-model nodes in the region. */
  readonly floatNodes: readonly string[];
  /** Output-model nodes in the region. */
  readonly candidateNodes: readonly string[];
  /** Summed profiled time of the region's kernels in each run, in the input model and in the output model. */
  readonly floatRuns: readonly number[];
  readonly candidateRuns: readonly number[];
}

export interface SpeedRegions {
  readonly regions: readonly SpeedRegion[];
  /** Mean time per run the profiles did not tie to any node (onnxruntime's layout reorders, unnamed nodes). */
  readonly unattributed: { readonly floatUs: number; readonly candidateUs: number };
}

/**
 * Activations onnxruntime fuses into the Conv/Gemm/MatMul before them: after a float op they cost nothing
 * of their own, after a quantized one they may run alone, so they belong to the region of their producer.
 */
const FUSED_ACTIVATIONS: ReadonlySet<string> = new Set(['Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'Tanh', 'HardSwish']);

const label = (n: onnx.INodeProto) => n.name || n.opType || '';

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Adds `xs` into `into` element-wise (growing it to the longer length). */
function addRuns(into: number[], xs: readonly number[] | undefined): void {
  xs?.forEach((x, i) => (into[i] = (into[i] ?? 0) + x));
}

const keyOf = (n: onnx.INodeProto) => `${n.domain ?? ''}|${n.opType}|${(n.input ?? []).join(',')}|${(n.output ?? []).join(',')}`;

/**
 * Ties onnxruntime's kernel names to the graph's nodes: the node's own name; "fused X"; X plus a suffix
 * onnxruntime appended (`_token_3`, `_nchwc`); or a tensor name plus a suffix, which names the tensor's
 * producer. Returns time per node name and what stayed unattributed.
 */
export function attributeKernels(
  graph: onnx.IGraphProto,
  kernels: readonly KernelTiming[],
): { byNode: Map<string, number[]>; unattributed: number } {
  const nodes = new Set<string>();
  const producer = new Map<string, string>();
  for (const n of graph.node ?? []) {
    if (!n.name) continue;
    nodes.add(n.name);
    for (const o of n.output ?? []) if (o) producer.set(o, n.name);
  }
  const resolve = (raw: string): string | undefined => {
    const name = raw.startsWith('fused ') ? raw.slice('fused '.length) : raw;
    if (nodes.has(name)) return name;
    // The longest prefix that is a node or a tensor, ending where onnxruntime's suffix begins.
    for (let k = name.length - 1; k > 0; k--) {
      if (/[A-Za-z0-9]/.test(name[k]!)) continue;
      const p = name.slice(0, k);
      if (nodes.has(p)) return p;
      const by = producer.get(p);
      if (by) return by;
    }
    return undefined;
  };
  const byNode = new Map<string, number[]>();
  let unattributed = 0;
  for (const k of kernels) {
    const n = resolve(k.name);
    if (n === undefined) {
      unattributed += mean(k.perRun);
      continue;
    }
    const runs = byNode.get(n) ?? new Array<number>(k.perRun.length).fill(0);
    k.perRun.forEach((us, r) => (runs[r] = (runs[r] ?? 0) + us));
    byNode.set(n, runs);
  }
  return { byNode, unattributed };
}

/**
 * The regions where `candidate` differs from `float` (main graphs), each with both sides' profiled time.
 * Nodes present in both with the same op, inputs and outputs are unchanged; the changed ones of both
 * graphs that share a tensor form one region (an input quantized once for three MatMuls is one region
 * with them), plus the activations fused after them. `changed` are the pass's changed nodes.
 */
export function speedRegions(
  float: onnx.IGraphProto,
  candidate: onnx.IGraphProto,
  floatKernels: readonly KernelTiming[],
  candidateKernels: readonly KernelTiming[],
  changed: readonly { name: string }[],
): SpeedRegions {
  const floatNodes = float.node ?? [];
  const candNodes = candidate.node ?? [];
  const floatKeys = new Set(floatNodes.map(keyOf));
  const candKeys = new Set(candNodes.map(keyOf));
  // Ids: float nodes 0..F-1, candidate nodes F..F+C-1.
  const all = [...floatNodes.map((n) => ({ n, side: 'float' as const })), ...candNodes.map((n) => ({ n, side: 'candidate' as const }))];
  const isChanged = all.map(({ n, side }) => !(side === 'float' ? candKeys : floatKeys).has(keyOf(n)));
  const parent = all.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[rb] = ra;
  };
  const byTensor = new Map<string, number>();
  const producedBy = new Map<string, number>();
  all.forEach(({ n }, i) => {
    if (!isChanged[i]) return;
    for (const t of n.output ?? []) if (t) producedBy.set(t, i);
    for (const t of [...(n.input ?? []), ...(n.output ?? [])]) {
      if (!t) continue;
      const j = byTensor.get(t);
      if (j === undefined) byTensor.set(t, i);
      else union(i, j);
    }
  });
  // A fused activation joins the region of its producer, on both sides (it is the same node in both).
  const member = [...isChanged];
  all.forEach(({ n }, i) => {
    if (member[i] || !FUSED_ACTIVATIONS.has(n.opType ?? '') || !n.input?.[0]) return;
    const j = producedBy.get(n.input[0]);
    if (j === undefined) return;
    member[i] = true;
    union(j, i);
  });
  const floatTime = attributeKernels(float, floatKernels);
  const candTime = attributeKernels(candidate, candidateKernels);
  const changedNames = new Set(changed.map((c) => c.name));
  const groups = new Map<
    number,
    { changed: string[]; floatNodes: string[]; candidateNodes: string[]; floatRuns: number[]; candidateRuns: number[] }
  >();
  all.forEach(({ n, side }, i) => {
    if (!member[i]) return;
    const root = find(i);
    const g = groups.get(root) ?? { changed: [], floatNodes: [], candidateNodes: [], floatRuns: [], candidateRuns: [] };
    const name = label(n);
    if (side === 'float') {
      g.floatNodes.push(name);
      addRuns(g.floatRuns, floatTime.byNode.get(n.name ?? ''));
      if (changedNames.has(name) && !g.changed.includes(name)) g.changed.push(name);
    } else {
      g.candidateNodes.push(name);
      addRuns(g.candidateRuns, candTime.byNode.get(n.name ?? ''));
    }
    groups.set(root, g);
  });
  return {
    regions: [...groups.values()].filter((g) => g.floatNodes.length > 0 || g.candidateNodes.length > 0),
    unattributed: { floatUs: floatTime.unattributed, candidateUs: candTime.unattributed },
  };
}

export interface RegionVerdict {
  readonly region: SpeedRegion;
  /** Median time per run of the region in the input model and in the output model. */
  readonly floatUs: number;
  readonly candidateUs: number;
  /** Median of the per-run candidate/float ratios. */
  readonly ratio: number;
  /** Share of runs in which the output model's region took longer. */
  readonly slowerShare: number;
  readonly slower: boolean;
}

export interface VerdictRule {
  /** Median ratio above which a region counts as slower (1.05: the profiler's own noise on a busy 2-core machine). */
  readonly minRatio: number;
  /** Share of paired runs that must agree (0.75). */
  readonly minShare: number;
  /** Smallest median difference in microseconds worth a rollback (0.5; the profiler counts whole microseconds). */
  readonly minUs: number;
}

export const DEFAULT_VERDICT_RULE: VerdictRule = { minRatio: 1.05, minShare: 0.75, minUs: 0.5 };

const median = (xs: readonly number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Whether each region is slower than its float version, judged on paired runs: run k of both models ran
 * side by side, so load hits a pair alike. Slower means slower in most pairs, by a median ratio and a
 * median difference above the rule's noise floor.
 */
export function judgeRegions(regions: readonly SpeedRegion[], rule: VerdictRule = DEFAULT_VERDICT_RULE): RegionVerdict[] {
  return regions.map((region) => {
    const n = Math.max(region.floatRuns.length, region.candidateRuns.length);
    const ratios: number[] = [];
    let slowerRuns = 0;
    for (let k = 0; k < n; k++) {
      const f = region.floatRuns[k] ?? 0;
      const c = region.candidateRuns[k] ?? 0;
      if (c > f) slowerRuns++;
      // A region the float graph fused away entirely costs nothing there: any candidate time is a loss.
      ratios.push(f > 0 ? c / f : c > 0 ? Infinity : 1);
    }
    const floatUs = median(region.floatRuns);
    const candidateUs = median(region.candidateRuns);
    const ratio = median(ratios);
    const slowerShare = n === 0 ? 0 : slowerRuns / n;
    const slower = n > 0 && candidateUs - floatUs > rule.minUs && ratio > rule.minRatio && slowerShare >= rule.minShare;
    return { region, floatUs, candidateUs, ratio, slowerShare, slower };
  });
}
