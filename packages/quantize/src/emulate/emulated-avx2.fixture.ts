/**
 * onnxruntime on an emulated AVX2-only x86 CPU, so a machine with VNNI can check what its int8 models
 * compute on the many CPUs without it. qemu-x86_64 (Debian's qemu-user) with `-cpu Haswell` reports AVX2
 * and FMA but no AVX-512 or VNNI, so onnxruntime's kernel dispatch takes its AVX2 paths, bit for bit
 * (checked: full-range int8 weights saturate there as on a real AVX2 machine). Timings under emulation
 * mean nothing; only outputs are read.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const QEMU = '/usr/bin/qemu-x86_64';
const RUNNER = fileURLToPath(new URL('./avx2-runner.mjs', import.meta.url));

/** Why emulation cannot run here, or undefined when it can. */
export function emulationUnavailable(): string | undefined {
  if (process.arch !== 'x64' || process.platform !== 'linux')
    return `emulating an x86 AVX2 CPU needs linux/x64 (this is ${process.platform}/${process.arch})`;
  if (!existsSync(QEMU)) return `${QEMU} is missing (Debian package qemu-user; .ci/run installs it when it can)`;
  return undefined;
}

/**
 * Each model's first output on `input` (fed to its first input), computed by onnxruntime-node on an
 * emulated Haswell (AVX2) CPU. Several models share one emulated process: its start-up is the slow part.
 */
export async function runOnEmulatedAvx2(
  models: readonly string[],
  input: { data: Float32Array; dims: readonly number[] },
): Promise<Float32Array[]> {
  const why = emulationUnavailable();
  if (why) throw new Error(why);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-avx2-'));
  try {
    const inputFile = path.join(dir, 'input.f32');
    writeFileSync(inputFile, Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength));
    const spec = path.join(dir, 'spec.json');
    writeFileSync(
      spec,
      JSON.stringify({ models: models.map((m) => path.resolve(m)), input: { file: inputFile, dims: input.dims }, outDir: dir }),
    );
    const ortEntry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const stderr: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(QEMU, ['-cpu', 'Haswell', process.execPath, RUNNER, ortEntry, spec], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (b: Buffer) => stderr.push(b.toString()));
      child.on('error', reject);
      child.on('exit', resolve);
    });
    // qemu warns once per CPUID feature it cannot emulate (pcid, x2apic, ...): not errors.
    const errors = stderr
      .join('')
      .split('\n')
      .filter((l) => l.trim() && !l.includes("TCG doesn't support requested feature"));
    if (code !== 0) throw new Error(`emulated onnxruntime exited ${code}: ${errors.join('\n')}`);
    return models.map((_, i) => {
      const b = readFileSync(path.join(dir, `${i}.f32`));
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
