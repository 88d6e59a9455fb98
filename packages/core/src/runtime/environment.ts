import { arch, availableParallelism, cpus, platform } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Environment } from '../report/report.js';
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
