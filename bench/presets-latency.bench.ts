/**
 * fp32 inference latency of the four training presets: onnxruntime-node on the exported ONNX model
 * against TensorFlow.js on the same (untrained, seed 0) layers model, interleaved run by run.
 */
import { TF_PRESETS, createSession, exportToOnnx, initTf, mulberry32, type Session, type TfHandle } from './core.js';
import { fmtMs, fmtX, mdTable, msSpread, summarize, xSpread, type Bench, type BenchContext } from './lib.js';

// tfjs types through core's handle: @tensorflow/tfjs is core's dependency, not resolvable from bench/.
type Tensor = ReturnType<TfHandle['tf']['tensor']>;

const ORT_THREADS = 2;
const BATCHES = [1, 32] as const;
const WARMUP_ROUNDS = 20;
const MIN_ROUNDS = 30;
const MAX_ROUNDS = 2000;
/** Timed rounds stop after this much wall time (once MIN_ROUNDS are done). */
const BUDGET_MS = 5000;
/** Both runtimes compute in float32; sums in a different order differ by a few ulps, not more. */
const AGREE_TOL = 1e-4;

interface Row {
  preset: string;
  params: number;
  batch: number;
  /** ms per round: onnxruntime with ORT_THREADS, onnxruntime with 1 thread, tfjs. */
  ort: number[];
  ort1: number[];
  tf: number[];
  maxAbsDiff: number;
}

function elapsedMs(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** What the wasm backend actually runs with, from its own flags and module (internal API, guarded). */
function wasmFacts(h: TfHandle): string {
  const env = h.tf.env();
  const flag = (f: string): string => {
    try {
      return String(env.getBool(f));
    } catch {
      return 'unknown';
    }
  };
  const backend = h.tf.backend() as unknown as { wasm?: { _get_threads_count?: () => number } };
  const threads = backend.wasm?._get_threads_count?.();
  return (
    `${h.note}; WASM_HAS_SIMD_SUPPORT=${flag('WASM_HAS_SIMD_SUPPORT')}, WASM_HAS_MULTITHREAD_SUPPORT=${flag('WASM_HAS_MULTITHREAD_SUPPORT')}, ` +
    `threads in use (backend's get_threads_count): ${threads ?? 'unknown'}`
  );
}

export const presetsLatencyBench: Bench = {
  name: 'presets',
  title: 'Preset latency: onnxruntime-node vs TensorFlow.js (fp32)',
  inDefaultSet: true,
  async run(ctx: BenchContext): Promise<string> {
    const h = await initTf(undefined, 'wasm');
    const tf = h.tf;
    const rows: Row[] = [];
    for (const preset of TF_PRESETS.values()) {
      const model = preset.build(tf, 0);
      const { model: proto } = exportToOnnx(model);
      const session = await createSession(proto, { threads: ORT_THREADS, label: preset.name });
      const single = await createSession(proto, { threads: 1, label: `${preset.name} (1 thread)` });
      try {
        for (const batch of BATCHES) {
          ctx.log(`presets: ${preset.name} batch ${batch}`);
          const dims = [batch, ...preset.inputShape];
          const rand = mulberry32(1000 + batch);
          const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand());
          const x = tf.tensor(data, dims, 'float32');
          const feeds = session.toOrtFeeds({ [session.inputNames[0]!]: { data, dims } });
          const outName = session.outputNames[0]!;

          const ortOut = (await session.ort.run(feeds))[outName]!.data as Float32Array;
          const yFirst = model.predict(x) as Tensor;
          const tfOut = Float32Array.from(yFirst.dataSync());
          yFirst.dispose();
          if (ortOut.length !== tfOut.length) throw new Error(`${preset.name}: output sizes differ (${ortOut.length} vs ${tfOut.length})`);
          let maxAbsDiff = 0;
          for (let i = 0; i < tfOut.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ortOut[i]! - tfOut[i]!));

          const ortStep = (s: Session) => async (): Promise<number> => {
            const t0 = process.hrtime.bigint();
            await s.ort.run(feeds);
            return elapsedMs(t0);
          };
          const tfStep = async (): Promise<number> => {
            const t0 = process.hrtime.bigint();
            const y = model.predict(x) as Tensor;
            y.dataSync(); // wasm kernels run eagerly, but reading the result makes sure all work is in the time
            const ms = elapsedMs(t0);
            y.dispose();
            return ms;
          };
          const steps = [ortStep(session), ortStep(single), tfStep];
          const times: number[][] = steps.map(() => []);
          const start = process.hrtime.bigint();
          for (let r = 0; ; r++) {
            const timed = r - WARMUP_ROUNDS;
            if (timed >= MAX_ROUNDS || (timed >= MIN_ROUNDS && elapsedMs(start) > BUDGET_MS)) break;
            // Rotate the order every round, so no step always runs right after the same other one.
            for (let k = 0; k < steps.length; k++) {
              const j = (k + r) % steps.length;
              const ms = await steps[j]!();
              if (timed >= 0) times[j]!.push(ms);
            }
          }
          x.dispose();
          rows.push({
            preset: preset.name,
            params: model.countParams(),
            batch,
            ort: times[0]!,
            ort1: times[1]!,
            tf: times[2]!,
            maxAbsDiff,
          });
        }
      } finally {
        await session.release();
        await single.release();
        model.dispose();
      }
    }
    const disagree = rows.filter((r) => !(r.maxAbsDiff <= AGREE_TOL));
    if (disagree.length > 0) {
      throw new Error(
        `outputs disagree beyond ${AGREE_TOL}: ${disagree.map((r) => `${r.preset} batch ${r.batch}: ${r.maxAbsDiff}`).join(', ')}`,
      );
    }
    const perRound = (xs: readonly number[], ys: readonly number[], what: string) =>
      summarize(
        xs.map((x, i) => x / ys[i]!),
        what,
      );
    const table = mdTable(
      [
        'preset',
        'params',
        'batch',
        `ORT ${ORT_THREADS} threads p50 (p10–p90)`,
        'tfjs p50 (p10–p90)',
        `ORT ${ORT_THREADS} thr / tfjs per round, median (p10–p90)`,
        'ORT 1 thread p50',
        'ORT 1 thr / tfjs, median',
        'rounds',
        'max abs diff',
      ],
      rows.map((r) => [
        r.preset,
        r.params.toLocaleString('en-US'),
        String(r.batch),
        msSpread(summarize(r.ort, 'ort')),
        msSpread(summarize(r.tf, 'tfjs')),
        xSpread(perRound(r.ort, r.tf, `${r.preset} ratio`)),
        fmtMs(summarize(r.ort1, 'ort 1 thread').p50),
        fmtX(perRound(r.ort1, r.tf, `${r.preset} 1-thread ratio`).p50),
        String(r.ort.length),
        r.maxAbsDiff.toExponential(1),
      ]),
      [false, true, true, true, true, true, true, true, true, true],
    );
    const medians = rows.map((r) => perRound(r.ort, r.tf, 'ratio').p50);
    return [
      `Models: each preset built with seed 0 (untrained weights; latency does not depend on them), exported with exportToOnnx (opset 17), ` +
        `input uniform [0, 1) seeded. Inputs keep the tfjs layout (NHWC for images).`,
      '',
      `- onnxruntime-node: CPU execution provider, ${ORT_THREADS} intra-op threads (the main column) and, as a thread-for-thread reference ` +
        `against single-threaded tfjs, a second session with 1 thread; default graph optimizations. Timed: \`session.run(feeds)\` ` +
        `with feeds converted once beforehand (output tensors are created inside the timed call).`,
      `- TensorFlow.js: ${wasmFacts(h)}. Timed: \`model.predict(x)\` + \`dataSync()\` on the result; the result is disposed outside the time.`,
      `- Each round runs the three steps once, in an order rotated every round; ${WARMUP_ROUNDS} warm-up rounds, then rounds until ` +
        `${MAX_ROUNDS} or ${BUDGET_MS / 1000} s (at least ${MIN_ROUNDS}). Ratios are per round; below 1 means onnxruntime is faster. ` +
        `Max abs diff: largest |ORT − tfjs| over the outputs (softmax probabilities, or the regression value for \`seed\`); the run fails above ${AGREE_TOL}.`,
      '',
      table,
      '',
      `Per-round median ORT (${ORT_THREADS} threads) / tfjs ratios range from ${fmtX(Math.min(...medians))} to ${fmtX(Math.max(...medians))}.`,
    ].join('\n');
  },
};
