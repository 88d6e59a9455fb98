/**
 * 8-bit weight formats against each other on the two x86 kernel paths: this machine's, and an emulated
 * AVX2-only CPU (qemu-x86_64 -cpu Haswell). int8 at full range, int8 at 7 bits (onnxruntime's
 * reduce_range) and uint8: fidelity to fp32 and accuracy on real test images on both paths, and
 * latency against fp32 on this machine. The numbers behind q8's default weight format.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createSession,
  int8KernelPath,
  quantizeModel,
  resolveCalibration,
  resolveData,
  saveModel,
  tensorNumel,
  type CalibrationSet,
  type Dataset,
  type onnx,
  type QuantizeOptions,
} from './core.js';
import { emulationUnavailable, runOnEmulatedAvx2 } from '../packages/quantize/src/emulate/emulated-avx2.fixture.js';
import { buildMlp } from './onnx-io.bench.js';
import { fashionTestSet, latencies, latencyTable, pct, points, trainedModel, type Variant } from './quantize.bench.js';
import { mdTable, type Bench, type BenchContext } from './lib.js';

/** Test images scored on both paths: emulation runs ~100x slower than the real CPU. */
const SAMPLES = 2000;

const FORMATS: ReadonlyArray<{ name: string; how: string; opts: QuantizeOptions }> = [
  { name: 'int8 (full range)', how: '--weight-type int8', opts: { weightType: 'int8', reduceRange: false } },
  { name: 'int8 7-bit', how: '--weight-type int8 --reduce-range', opts: { weightType: 'int8', reduceRange: true } },
  { name: 'uint8', how: '--weight-type uint8', opts: { weightType: 'uint8' } },
];

interface Scores {
  cosine: number;
  agreement: number;
  accuracy?: number;
}

/** Mean per-sample cosine and top-1 agreement against the reference outputs, and accuracy when labels are real. */
function score(y: Float32Array, ref: Float32Array, n: number, labels?: Int32Array): Scores {
  const w = y.length / n;
  let cos = 0;
  let agree = 0;
  let right = 0;
  const argmax = (a: Float32Array, o: number) => {
    let m = 0;
    for (let j = 1; j < w; j++) if (a[o + j]! > a[o + m]!) m = j;
    return m;
  };
  for (let i = 0; i < n; i++) {
    const o = i * w;
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = o; j < o + w; j++) {
      dot += y[j]! * ref[j]!;
      na += y[j]! ** 2;
      nb += ref[j]! ** 2;
    }
    cos += na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
    const c = argmax(y, o);
    if (c === argmax(ref, o)) agree++;
    if (labels && c === labels[i]) right++;
  }
  return { cosine: cos / n, agreement: agree / n, ...(labels ? { accuracy: right / n } : {}) };
}

async function nativeOutputs(models: readonly onnx.ModelProto[], input: { data: Float32Array; dims: number[] }): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const m of models) {
    const s = await createSession(m, { threads: 1 });
    try {
      const r = await s.run({ [s.inputNames[0]!]: input });
      out.push((r[s.outputNames[0]!]!.data as Float32Array).slice());
    } finally {
      await s.release();
    }
  }
  return out;
}

interface ModelCase {
  title: string;
  base: onnx.ModelProto;
  how: string;
  test: Dataset;
  /** Whether the test labels belong to this model's task (a random-weight MLP's do not). */
  labelled: boolean;
  mode: 'dynamic' | 'static';
  calibration?: CalibrationSet;
  /** The input's dims for n samples when they differ from [n, ...sampleShape] (a flat MLP over images). */
  dims?: (n: number) => number[];
}

async function formatSection(ctx: BenchContext, c: ModelCase, emulate: boolean, withLatency: boolean): Promise<string> {
  const variants: Variant[] = [{ name: 'fp32', how: '—', model: c.base }];
  for (const perChannel of [false, true]) {
    for (const f of FORMATS) {
      ctx.log(`weight-format: ${c.title}: ${f.name}${perChannel ? ' per channel' : ''}`);
      const opts: QuantizeOptions = { dtype: 'q8', mode: c.mode, perChannel, ...f.opts };
      const r = await quantizeModel(c.base, opts, c.calibration ? { calibration: c.calibration } : {});
      variants.push({
        name: `${f.name}${perChannel ? ', per channel' : ''}`,
        how: `--dtype q8 ${c.mode === 'static' ? '--mode static ' : ''}${f.how}${perChannel ? ' --per-channel' : ''}`,
        model: r.model,
        report: r.report,
      });
    }
  }
  const n = Math.min(SAMPLES, c.test.n);
  const per = tensorNumel(c.test.sampleShape);
  const dimsOf = c.dims ?? ((k: number) => [k, ...c.test.sampleShape]);
  const input = { data: c.test.x.slice(0, n * per), dims: dimsOf(n) };
  const labels = c.labelled && c.test.task === 'classification' ? (c.test.y as Int32Array).slice(0, n) : undefined;
  const native = await nativeOutputs(
    variants.map((v) => v.model),
    input,
  );
  let emulated: Float32Array[] | undefined;
  if (emulate) {
    ctx.log(`weight-format: ${c.title}: ${variants.length} models on the emulated AVX2 CPU (slow)`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-wf-'));
    try {
      const files: string[] = [];
      for (const [i, v] of variants.entries()) {
        const f = path.join(dir, `${i}.onnx`);
        await saveModel(v.model, f);
        files.push(f);
      }
      emulated = await runOnEmulatedAvx2(files, input);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const here = int8KernelPath().isa;
  const cell = (s: Scores) => `${s.cosine.toFixed(5)} / ${pct(s.agreement)}${s.accuracy !== undefined ? ` / ${pct(s.accuracy)}` : ''}`;
  const rows = variants.map((v, i) => {
    const a = score(native[i]!, native[0]!, n, labels);
    const row = [v.name, v.how, cell(a)];
    if (emulated) row.push(cell(score(emulated[i]!, emulated[0]!, n, labels)));
    if (labels && i > 0) row.push(points(a.accuracy! - score(native[0]!, native[0]!, n, labels).accuracy!));
    else row.push(labels ? '—' : 'n/a');
    return row;
  });
  const head = ['variant', 'flags', `this CPU (${here}): cosine / top-1 agreement${labels ? ' / accuracy' : ''}`];
  if (emulated) head.push(`emulated AVX2 (Haswell): cosine / agreement${labels ? ' / accuracy' : ''}`);
  head.push(`accuracy delta here (points)`);
  const parts = [
    `### ${c.title}`,
    '',
    `${c.how} Scored on the first ${n} test samples against fp32 on the same CPU.`,
    '',
    mdTable(head, rows),
  ];
  if (withLatency) {
    const lats = await latencies(ctx, c.title, variants, (b) => ({ data: c.test.x.slice(0, b * per), dims: dimsOf(b) }));
    parts.push('', `Latency on this CPU (${here}), against fp32:`, '', latencyTable(variants, lats));
  }
  return parts.join('\n');
}

export const weightFormatBench: Bench = {
  name: 'weight-format',
  title: '8-bit weight formats on VNNI and AVX2 kernel paths',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const why = emulationUnavailable();
    const emulate = why === undefined;
    const digits = await resolveData('digits', { split: 'test' });
    const { test: fashion, missing } = await fashionTestSet('Fashion-MNIST');
    const cases: Array<{ c: ModelCase; latency: boolean }> = [];
    const digitsMlp = await trainedModel(ctx, 'digits-mlp', 20, 'digits');
    cases.push({
      c: {
        title: 'digits-mlp (64-256-128-10), dynamic',
        base: digitsMlp.model,
        how: `Preset \`digits-mlp\`, ${digitsMlp.how}; digits test split.`,
        test: digits,
        labelled: true,
        mode: 'dynamic',
      },
      latency: false,
    });
    if (fashion) {
      const wide = buildMlp([784, 2048, 2048, 10], 42);
      cases.push({
        c: {
          title: 'MLP 784-2048-2048-10 (random Glorot-uniform weights), dynamic',
          base: wide,
          how: '`buildMlp` as in the quantize benchmark, fed Fashion-MNIST test images (its labels mean nothing to it: fidelity only).',
          test: fashion,
          labelled: false,
          mode: 'dynamic',
          dims: (k) => [k, 784],
        },
        latency: true,
      });
      const fm = await trainedModel(ctx, 'fashion-mlp', 2, 'fashion-mnist:20000');
      cases.push({
        c: {
          title: 'fashion-mlp (784-512-256-10), dynamic',
          base: fm.model,
          how: `Preset \`fashion-mlp\`, ${fm.how}.`,
          test: fashion,
          labelled: true,
          mode: 'dynamic',
        },
        latency: false,
      });
      const cnn = await trainedModel(ctx, 'fashion-cnn', 1, 'fashion-mnist:10000');
      cases.push({
        c: {
          title: 'fashion-cnn, static QDQ',
          base: cnn.model,
          how: `Preset \`fashion-cnn\`, ${cnn.how}; calibrated (minmax) on Fashion-MNIST train.`,
          test: fashion,
          labelled: true,
          mode: 'static',
          calibration: await resolveCalibration('fashion-mnist', cnn.model),
        },
        latency: true,
      });
    }
    const sections: string[] = [];
    for (const { c, latency } of cases) sections.push(await formatSection(ctx, c, emulate, latency));
    return [
      `This CPU's int8 kernels: ${int8KernelPath().isa} (${int8KernelPath().instruction}). ` +
        (emulate
          ? 'The emulated column runs the same files in onnxruntime-node under `qemu-x86_64 -cpu Haswell` (AVX2 + FMA, no AVX-512, no VNNI), where onnxruntime takes its AVX2 kernels; emulated timings mean nothing and are not reported. '
          : `No emulated AVX2 column: ${why}. `) +
        'Cosine is the mean per-sample cosine similarity of the output to fp32 on the same CPU; latency ratios are interleaved per-pair medians (2 threads), as in the quantize section.',
      ...(missing ? ['', missing] : []),
      '',
      sections.join('\n\n'),
    ].join('\n');
  },
};
