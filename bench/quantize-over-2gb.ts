/**
 * Quantizing a model with more than 2 GiB of float32 weights (external data) with bounded memory:
 * `npx tsx --conditions=@shrink/source bench/quantize-over-2gb.ts` (standalone, not part of `pnpm bench`:
 * it writes ~3 GB to the temp folder and takes a few minutes). A fresh child process runs loadModel +
 * quantizeModel (q8 dynamic) + saveModel, so its peak RSS (VmHWM) is the pass's own; the parent then
 * runs the fp32 and the int8 model in onnxruntime from their paths and compares one output row.
 * Goal (issue #7): peak memory <= 1.5x the weights' bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSession, loadModel, mulberry32, quantizeModel, saveModel } from './core.js';
import { buildMlp } from './onnx-io.bench.js';
import { relL2Error } from './lib.js';

/** 8 layers of 8192x8192: 537 M float32 weights, 2.15 GB. */
const WIDTHS = [8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192] as const;

function vm(key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]) * 1024;
}

async function child(src: string, out: string): Promise<void> {
  const base = vm('VmRSS');
  const t0 = performance.now();
  const model = await loadModel(src);
  const t1 = performance.now();
  const q = await quantizeModel(model, { dtype: 'q8' });
  const t2 = performance.now();
  const saved = await saveModel(q.model, out);
  const t3 = performance.now();
  process.stdout.write(JSON.stringify({ base, peak: vm('VmHWM'), load: t1 - t0, quantize: t2 - t1, save: t3 - t2, outBytes: saved.bytes }));
}

async function firstRow(file: string): Promise<Float32Array> {
  const rand = mulberry32(5);
  const input = { data: Float32Array.from({ length: WIDTHS[0] }, () => rand()), dims: [1, WIDTHS[0]] };
  const s = await createSession(file, { threads: 2 });
  try {
    return (await s.run({ input }))['output']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

async function parent(): Promise<void> {
  const tmp = os.tmpdir();
  const fs = statfsSync(tmp);
  if (fs.bavail * fs.bsize < 6e9) throw new Error(`${tmp} needs 6 GB free`);
  const dir = mkdtempSync(path.join(tmp, 'shrink-q2gb-'));
  try {
    const src = path.join(dir, 'model.onnx');
    const out = path.join(dir, 'model_quantized.onnx');
    let t = performance.now();
    const saved = await saveModel(buildMlp(WIDTHS, 11), src, { externalData: true });
    const weights = saved.externalDataBytes!;
    console.log(
      `built and saved ${src}: ${saved.bytes} B + ${weights} B external data in ${((performance.now() - t) / 1000).toFixed(0)} s`,
    );
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@shrink/source', self, 'child', src, out], {
      encoding: 'utf8',
      cwd: path.resolve(path.dirname(self), '..'),
    });
    if (r.status !== 0) throw new Error(r.stderr);
    const m = JSON.parse(r.stdout) as { base: number; peak: number; load: number; quantize: number; save: number; outBytes: number };
    t = performance.now();
    const [a, b] = [await firstRow(src), await firstRow(out)];
    const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
    console.log(
      [
        `weights ${gb(weights)} (${(weights / 2 ** 30).toFixed(2)} GiB) in external data; q8 output ${gb(m.outBytes)} inline`,
        `child process: loadModel ${(m.load / 1000).toFixed(1)} s, quantizeModel ${(m.quantize / 1000).toFixed(1)} s, saveModel ${(m.save / 1000).toFixed(1)} s`,
        `peak RSS ${gb(m.peak)} (${gb(m.peak - m.base)} above the ${gb(m.base)} at start) = ${((m.peak - m.base) / weights).toFixed(2)}x the weights' bytes (goal <= 1.5x: ${(m.peak - m.base) / weights <= 1.5 ? 'met' : 'MISSED'})`,
        `onnxruntime ran both from their paths (${((performance.now() - t) / 1000).toFixed(0)} s): relative L2 error of the q8 output row ${relL2Error(b, a).toExponential(2)}`,
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') await child(process.argv[3]!, process.argv[4]!);
else await parent();
