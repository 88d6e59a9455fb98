/**
 * --target: where the model will run. The candidate is checked against that runtime's op table (a form it
 * rejects ends the command in one line; slow, fallback and precision risks become notes), and measured in
 * that runtime where this machine has it: onnxruntime-node for the cpu targets, onnxruntime-web's WASM
 * backend in this process for `wasm`. WebGPU has no adapter under Node: checked, not measured, and said so.
 */
import type { Argv } from 'yargs';
import {
  checkTarget,
  encodeModel,
  resolveTarget,
  ShrinkError,
  TARGET_NAMES,
  targetContext,
  targetSchema,
  type Ctx,
  type GuardFailure,
  type TargetContext,
  type onnx,
  type TargetFinding,
  type TargetInfo,
  type TargetName,
  type TensorData,
} from '@shrink/core';

import { detectCpuTarget, readFeedSet, syntheticFeedSet, withSession, type DetectedCpu } from '@shrink/core/runtime';

export function targetFlag<T>(y: Argv<T>) {
  return y.option('target', {
    type: 'string',
    describe: `Where the model will run (${TARGET_NAMES.join(', ')}): the output is checked against that runtime's op table, regions slower there than float are left float, and it is measured in it (wasm: onnxruntime-web in this process); default: cpu, this machine`,
  });
}

export interface TargetChoice {
  readonly name: TargetName;
  readonly info: TargetInfo;
  /** What `cpu` is here. */
  readonly cpu: DetectedCpu;
  /** What passes and the runner see (Ctx.target). */
  readonly context: TargetContext;
}

/** The target when none is named: this machine's CPU. */
export function defaultTarget(): TargetChoice {
  return choice('cpu');
}

function choice(name: TargetName): TargetChoice {
  const cpu = detectCpuTarget();
  return { name, info: resolveTarget(name, cpu.target), cpu, context: targetContext(name, cpu.target) };
}

/** --target parsed, or undefined when not given; a name that is not a target is refused in one line. */
export function targetFromArgv(argv: { target?: string | undefined }): TargetChoice | undefined {
  if (argv.target === undefined) return undefined;
  const parsed = targetSchema.safeParse(argv.target);
  if (!parsed.success)
    throw new ShrinkError('INVALID_ARGUMENT', `'${argv.target}' is not a target; valid: ${TARGET_NAMES.join(', ')}`, {
      option: 'target',
    });
  return choice(parsed.data);
}

/** The Ctx measurements of the candidate run with: in onnxruntime-web for `wasm`. */
export function measureCtx(ctx: Ctx, t: TargetChoice | undefined): Ctx {
  return t?.info.runtime === 'onnxruntime-web-wasm' ? { ...ctx, runtime: 'onnxruntime-web-wasm' } : ctx;
}

/**
 * Checks `model` (what a pass wrote) against the target: throws on the first form the target rejects,
 * naming the node, and returns the rest as report notes, one per rule and op type (a model has hundreds of nodes).
 */
export function targetNotes(model: onnx.IModelProto, t: TargetChoice, what: string): string[] {
  const findings = checkTarget(model, t.name, { cpu: t.cpu.target });
  const error = findings.find((f) => f.severity === 'error');
  if (error) {
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `${what}: target ${t.name} cannot run node '${error.node}' (${error.opType}): ${error.message} [${error.source}]`,
    );
  }
  const byRule = new Map<string, TargetFinding[]>();
  // One rule may cover several op types (DynamicQuantizeLinear and MatMulInteger): a line per rule and op.
  for (const f of findings) byRule.set(`${f.rule} ${f.opType}`, [...(byRule.get(`${f.rule} ${f.opType}`) ?? []), f]);
  const notes = [...byRule.values()].map((fs) => {
    const f = fs[0]!;
    const nodes = fs.length === 1 ? `node '${f.node}'` : `${fs.length} ${f.opType} nodes (e.g. '${f.node}')`;
    return `target ${t.name}: ${nodes}: ${f.message} [${f.source}]`;
  });
  const where =
    t.info.runtime === 'onnxruntime-web-wasm'
      ? 'measured in onnxruntime-web (WASM) in this process'
      : t.info.runtime === 'onnxruntime-web-webgpu'
        ? 'NOT measured on WebGPU (Node has no WebGPU adapter): latency and fidelity are onnxruntime-node CPU figures; the op table check ran'
        : t.name === 'cpu' || t.name === t.cpu.target
          ? `measured on this machine (${t.cpu.target})`
          : `NOT measured on ${t.name}: this machine is ${t.cpu.target}; the op table check ran`;
  return [`target ${t.name} (${t.info.runtime}): ${where}`, ...notes];
}

/** Below this worst-output cosine in the browser, a `--target wasm|webgpu` output is refused (exit 2) unless degraded output is allowed. */
export const BROWSER_MIN_COSINE = 0.99;

/** Samples of a feeds file run in Chromium (each model runs every one, then both are timed). */
const BROWSER_SAMPLES = 4;

/** What the Chromium check adds to a candidate: notes, and the browser floor as a guard failure when it was missed and allowed. */
export interface BrowserCheck {
  notes: string[];
  /** Empty when the floor held. */
  unmet: GuardFailure[];
}

/**
 * For `wasm` and `webgpu`: the float model and the output run side by side in Chromium (onnxruntime-web
 * from this install, served from 127.0.0.1) on synthetic inputs; every output compared, latency timed
 * interleaved. Throws DEGRADED when an output's cosine there is below BROWSER_MIN_COSINE and
 * `allowDegraded` is not set; when it is, the miss comes back as `unmet` for the candidate's guard (the
 * report says FAILED, not better). Without Chromium the note says so.
 */
export async function browserNotes(
  t: TargetChoice,
  baseline: onnx.IModelProto,
  candidate: onnx.IModelProto,
  what: string,
  allowDegraded: boolean,
  ctx: Ctx,
  /** The run's feeds file: its first samples are compared in Chromium, as the fidelity floor compares on them. */
  feedsFile?: string,
): Promise<BrowserCheck> {
  const backend = t.info.runtime === 'onnxruntime-web-wasm' ? 'wasm' : t.info.runtime === 'onnxruntime-web-webgpu' ? 'webgpu' : undefined;
  if (!backend) return { notes: [], unmet: [] };
  const { chromiumCheck } = await import('./browser/index.js');
  const samples = await withSession(
    baseline,
    { label: 'baseline' },
    async (s) =>
      (feedsFile !== undefined
        ? (await readFeedSet(feedsFile, s, baseline)).samples.slice(0, BROWSER_SAMPLES)
        : syntheticFeedSet(s, baseline, { count: 2, seed: ctx.seed ?? 0 }).samples
      ).map((f) =>
        Object.fromEntries(
          Object.entries(s.toOrtFeeds(f)).map(([k, v]) => [k, { type: v.type, data: v.data as TensorData, dims: [...v.dims] }]),
        ),
      ),
    { ...ctx, runtime: 'onnxruntime-node' },
  );
  const check = await chromiumCheck(
    { name: 'baseline', bytes: encodeModel(baseline) },
    { name: 'candidate', bytes: encodeModel(candidate) },
    samples,
    backend,
  );
  const worst = Object.entries(check.fidelity ?? {}).sort((a, b) => a[1] - b[1])[0];
  const notes = check.notes.map((n) => `target ${t.name}: ${n}`);
  if (!worst || worst[1] >= BROWSER_MIN_COSINE) return { notes, unmet: [] };
  const text = `in Chromium (${check.runtime ?? backend}) output '${worst[0]}' agrees with the float model at ${worst[1].toFixed(4)} < ${BROWSER_MIN_COSINE}`;
  if (!allowDegraded) throw new ShrinkError('DEGRADED', `${what}: ${text}; nothing written`);
  return { notes, unmet: [{ metric: 'browser.cosineSimilarity', value: worst[1], floor: BROWSER_MIN_COSINE, text }] };
}
