/**
 * --target: where the model will run. The candidate is checked against that runtime's op table (a form it
 * rejects ends the command in one line; slow, fallback and precision risks become notes), and measured in
 * that runtime where this machine has it: onnxruntime-node for the cpu targets, onnxruntime-web's WASM
 * backend in this process for `wasm`. WebGPU has no adapter under Node: checked, not measured, and said so.
 */
import type { Argv } from 'yargs';
import {
  checkTarget,
  resolveTarget,
  ShrinkError,
  TARGET_NAMES,
  targetSchema,
  type Ctx,
  type onnx,
  type TargetFinding,
  type TargetInfo,
  type TargetName,
} from '@shrink/core';
import { detectCpuTarget, type DetectedCpu } from '@shrink/core/runtime';

export function targetFlag<T>(y: Argv<T>) {
  return y.option('target', {
    type: 'string',
    describe: `Where the model will run (${TARGET_NAMES.join(', ')}): the output is checked against that runtime's op table and measured in it (wasm: onnxruntime-web in this process); default: none, measured in onnxruntime-node`,
  });
}

export interface TargetChoice {
  readonly name: TargetName;
  readonly info: TargetInfo;
  /** What `cpu` is here. */
  readonly cpu: DetectedCpu;
}

/** --target parsed, or undefined when not given; a name that is not a target is refused in one line. */
export function targetFromArgv(argv: { target?: string | undefined }): TargetChoice | undefined {
  if (argv.target === undefined) return undefined;
  const parsed = targetSchema.safeParse(argv.target);
  if (!parsed.success)
    throw new ShrinkError('INVALID_ARGUMENT', `'${argv.target}' is not a target; valid: ${TARGET_NAMES.join(', ')}`, {
      option: 'target',
    });
  const cpu = detectCpuTarget();
  return { name: parsed.data, info: resolveTarget(parsed.data, cpu.target), cpu };
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
