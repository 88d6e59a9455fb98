import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, availableParallelism, cpus, platform } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Environment, TargetReport } from '../report/report.js';
import { measurableRuntime, type TargetContext } from '../target/targets.js';
import { int8KernelPath } from './cpu.js';

/**
 * Where measurements run, for the report: Node, OS, CPU and its ISA (int8 results and speed ratios
 * depend on it), cores, onnxruntime, and the threads used.
 */
export function collectEnvironment(extra: { threads?: number; shrink?: string } = {}): Environment {
  const kernels = int8KernelPath();
  const env: Environment = {
    node: process.version,
    platform: platform(),
    arch: arch(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    isa: kernels.isa,
    int8Kernels: kernels.instruction,
    logicalCores: availableParallelism(),
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
  };
  if (extra.threads !== undefined) env.threads = extra.threads;
  if (extra.shrink !== undefined) env.shrink = extra.shrink;
  return env;
}

const versions = new Map<string, string | undefined>();

/**
 * An installed package's version from its package.json, found above its entry point (neither onnxruntime
 * package exports ./package.json); undefined when it is not installed. Read from disk, not by loading the
 * package: onnxruntime-web's wasm runtime costs a compile.
 */
export function packageVersion(name: 'onnxruntime-node' | 'onnxruntime-web'): string | undefined {
  if (versions.has(name)) return versions.get(name);
  let version: string | undefined;
  try {
    let dir = path.dirname(createRequire(import.meta.url).resolve(name));
    for (let i = 0; i < 6 && version === undefined; i++, dir = path.dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) version = pkg.version;
      } catch {
        // no package.json at this level: keep walking up
      }
    }
  } catch {
    // not installed
  }
  versions.set(name, version);
  return version;
}

/**
 * The report's `target`: the target asked for, what `cpu` stood for here, the runtime it means and that
 * runtime's version, this machine's ISA, the threads, and whether the numbers were measured there or the
 * model was only checked against the op table (webgpu under Node; a cpu-* ISA this machine is not).
 * `threads`: the intra-op threads the measurements used (ctx.threads, evaluation.threads); onnxruntime-web's
 * WASM backend runs 1 unless told otherwise.
 */
export function targetReport(t: TargetContext, opts: { threads?: number } = {}): TargetReport {
  const web = t.info.runtime !== 'onnxruntime-node';
  const runtimeVersion = packageVersion(web ? 'onnxruntime-web' : 'onnxruntime-node');
  const isa = int8KernelPath().isa;
  const where = measurableRuntime(t);
  const threads = where === 'onnxruntime-web-wasm' ? (opts.threads ?? 1) : opts.threads;
  const v = runtimeVersion !== undefined ? ` ${runtimeVersion}` : '';
  const measurement =
    where === 'onnxruntime-web-wasm'
      ? `measured in onnxruntime-web${v} (WASM) in this process`
      : where === 'onnxruntime-node'
        ? `measured on this machine (${t.here ?? isa}) in onnxruntime-node${v}`
        : t.info.runtime === 'onnxruntime-web-webgpu'
          ? `NOT measured on webgpu: no adapter under Node; latency and fidelity are onnxruntime-node${packageVersion('onnxruntime-node') !== undefined ? ` ${packageVersion('onnxruntime-node')}` : ''} CPU figures; the op table check ran`
          : `NOT measured on ${t.name}: this machine is ${t.here ?? isa}; latency and fidelity are this machine's; the op table check ran`;
  return {
    name: t.name,
    ...(t.name === 'cpu' && t.here !== undefined ? { resolved: t.here } : {}),
    runtime: t.info.runtime,
    ...(runtimeVersion !== undefined ? { runtimeVersion } : {}),
    isa,
    ...(threads !== undefined ? { threads } : {}),
    measured: where !== undefined,
    measurement,
  };
}
