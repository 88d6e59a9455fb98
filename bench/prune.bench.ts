/**
 * @shrink/prune against fp32 in the same run (issue #4): 90% global magnitude pruning + fine-tuning
 * of the fashion-mlp preset (accuracy, zipped size), structured pruning of the 784-2048-2048-10 MLP
 * alone and followed by q8 dynamic quantization (size, onnxruntime latency), and structured pruning +
 * fine-tuning of the fashion-cnn preset (accuracy, latency).
 */
import {
  countMacs,
  countParams,
  encodeModel,
  gzipSize,
  mulberry32,
  pruneModel,
  pruneStructured,
  quantizeModel,
  resolveData,
  tensorNumel,
  type Dataset,
  type onnx,
  type PruneOptions,
} from './core.js';
import { buildMlp } from './onnx-io.bench.js';
import { fmtBytes, fmtMs, fmtX, mdTable, nowMs, type Bench, type BenchContext } from './lib.js';
import {
  accuracy,
  BATCHES,
  fashionTestSet,
  latencies,
  latencyGoal,
  latencyTable,
  MLP_WIDTHS,
  ORT_THREADS,
  PAIRS,
  pct,
  points,
  trainedModel,
  yesNo,
  type Goal,
  type Variant,
} from './quantize.bench.js';

interface Timed extends Variant {
  /** Wall time of the prune (and fine-tune / quantize) calls. */
  readonly ms?: number;
}

async function timed(ctx: BenchContext, name: string, how: string, make: () => Promise<onnx.ModelProto>): Promise<Timed> {
  ctx.log(`prune: ${name}`);
  const t0 = nowMs();
  const model = await make();
  return { name, how, model, ms: nowMs() - t0 };
}

interface Sizes {
  bytes: number;
  gzip: number;
  params: number;
  nonZero: number;
  macs: number;
}

function sizes(model: onnx.ModelProto): Sizes {
  const bytes = encodeModel(model);
  const p = countParams(model);
  return { bytes: bytes.length, gzip: gzipSize(bytes), params: p.params, nonZero: p.nonZero, macs: countMacs(model).total };
}

const count = (n: number): string => n.toLocaleString('en-US');

function sizeTable(variants: readonly Timed[], s: readonly Sizes[], acc?: readonly number[]): string {
  const base = s[0]!;
  return mdTable(
    [
      'variant',
      'how',
      'time',
      'file bytes',
      'size ratio',
      'gzip bytes',
      'gzip ratio',
      'params',
      'non-zero params',
      'MACs (batch 1)',
      ...(acc ? ['test accuracy', 'delta (points)'] : []),
    ],
    variants.map((v, i) => {
      const x = s[i]!;
      return [
        v.name,
        v.how,
        v.ms === undefined ? '—' : fmtMs(v.ms),
        `${x.bytes} (${fmtBytes(x.bytes)})`,
        i === 0 ? '1' : fmtX(x.bytes / base.bytes),
        `${x.gzip} (${fmtBytes(x.gzip)})`,
        i === 0 ? '1' : fmtX(x.gzip / base.gzip),
        count(x.params),
        count(x.nonZero),
        count(x.macs),
        ...(acc ? [pct(acc[i]!), i === 0 ? '—' : points(acc[i]! - acc[0]!)] : []),
      ];
    }),
    [false, false, true, true, true, true, true, true, true, true, true, true],
  );
}

async function magnitudeSection(ctx: BenchContext, goals: Goal[], test: Dataset): Promise<string> {
  const epochs = 2;
  const data = 'fashion-mnist:20000';
  const { model: base, how } = await trainedModel(ctx, 'fashion-mlp', epochs, data);
  const train = await resolveData(data, { split: 'train' });
  const opts: PruneOptions = { method: 'magnitude', sparsity: 0.9, scope: 'global' };
  const flags = '--method magnitude --sparsity 0.9 --scope global';
  const variants: Timed[] = [
    { name: 'fp32', how: '—', model: base },
    await timed(ctx, '90% global magnitude, one-shot', flags, async () => (await pruneModel(base, opts)).model),
    await timed(
      ctx,
      '90% global magnitude + fine-tune 2 epochs',
      `${flags} --finetune --epochs 2 --data ${data}`,
      async () => (await pruneModel(base, opts, { train, test, epochs: 2 })).model,
    ),
  ];
  ctx.log('prune: fashion-mlp accuracy on the test set');
  const acc: number[] = [];
  for (const v of variants) acc.push(await accuracy(v.model, test, `fashion-mlp ${v.name}`));
  const s = variants.map((v) => sizes(v.model));
  const ft = 2;
  const drop = acc[0]! - acc[ft]!;
  goals.push(
    {
      goal: 'fashion-mlp 90% global magnitude + fine-tune: accuracy within 1 point of fp32',
      result: `${pct(acc[ft]!)} vs ${pct(acc[0]!)}: ${points(-drop)} points`,
      met: yesNo(drop <= 0.01),
    },
    {
      goal: 'fashion-mlp 90% global magnitude + fine-tune: gzip size ratio (reported)',
      result: `${fmtX(s[ft]!.gzip / s[0]!.gzip)} (file bytes ${fmtX(s[ft]!.bytes / s[0]!.bytes)})`,
      met: 'reported',
    },
  );
  return [
    '### fashion-mlp: 90% global unstructured magnitude pruning + fine-tuning',
    '',
    `Model: preset \`fashion-mlp\` (784-512-256-10) trained ${epochs} epochs on \`${data}\` (seed 0), exported with exportToOnnx: ${how}. ` +
      `Pruning: \`pruneModel(fp32, ${JSON.stringify(opts)})\` (one threshold over all MatMul/Gemm weights, biases untouched); fine-tuning: ` +
      `\`pruneModel(fp32, opts, { train, test, epochs: 2 })\` (import to tfjs, \`fineTunePruned\`: ${ft} epochs of Adam (lr 0.001, batch 32) on the ` +
      `${count(train.n)}-sample train split of \`${data}\` with the zeros held at zero after every step, export back to ONNX. ` +
      `Accuracy: \`evaluate()\` in onnxruntime on the ${count(test.n)}-image Fashion-MNIST test set. ` +
      `gzip: \`gzipSize\` (core, deflate level 9 via fflate) of the encoded model; the file itself does not shrink (zeros are stored).`,
    '',
    sizeTable(variants, s, acc),
  ].join('\n');
}

async function mlpSection(ctx: BenchContext, goals: Goal[]): Promise<string> {
  ctx.log('prune: building the MLP');
  const base = buildMlp(MLP_WIDTHS, 42);
  const opts: PruneOptions = { method: 'structured', sparsity: 0.5 };
  const structured = await timed(
    ctx,
    'structured 50% of hidden units',
    '--method structured --sparsity 0.5',
    async () => pruneStructured(base, opts).model,
  );
  const both = await timed(
    ctx,
    'structured 50%, then q8 (int8 dynamic)',
    'shrink prune --method structured --sparsity 0.5, then shrink quantize --dtype q8',
    async () => (await quantizeModel(structured.model, { dtype: 'q8' })).model,
  );
  const variants: Timed[] = [{ name: 'fp32', how: '—', model: base }, structured, both];
  const s = variants.map((v) => sizes(v.model));
  const rand = mulberry32(7);
  const inputs = new Map(
    BATCHES.map((b) => [b, { data: Float32Array.from({ length: b * MLP_WIDTHS[0] }, () => rand()), dims: [b, MLP_WIDTHS[0]] }]),
  );
  const lats = await latencies(ctx, 'prune: MLP', variants, (b) => inputs.get(b as (typeof BATCHES)[number])!);
  const ratio = (i: number): number => s[i]!.bytes / s[0]!.bytes;
  goals.push(
    { goal: 'MLP 784-2048-2048-10 structured 50%: latency ≤ 0.55× fp32', ...latencyGoal(lats, 1, 0.55) },
    { goal: 'MLP structured 50%: size ≤ 0.52× fp32', result: fmtX(ratio(1)), met: yesNo(ratio(1) <= 0.52) },
    { goal: 'MLP structured 50% then q8: size ≤ 0.15× fp32', result: fmtX(ratio(2)), met: yesNo(ratio(2) <= 0.15) },
    { goal: 'MLP structured 50% then q8: latency ≤ 0.2× fp32', ...latencyGoal(lats, 2, 0.2) },
  );
  return [
    `### MLP ${MLP_WIDTHS.join('-')}: structured 50%, alone and followed by q8`,
    '',
    `Model: \`buildMlp\` (as in the quantization benchmark: MatMul + Add + Relu per layer, seeded uniform Glorot weights), opset 17. ` +
      `Structured: \`pruneStructured(fp32, ${JSON.stringify(opts)})\` removes the half of each hidden layer's units with the smallest L1 norm ` +
      `(columns of its weight, bias entries, rows of the next weight). Then \`quantizeModel(pruned, { dtype: 'q8' })\`. ` +
      `Latency inputs: seeded uniform [0, 1) rows.`,
    '',
    sizeTable(variants, s),
    '',
    latencyTable(variants, lats),
  ].join('\n');
}

async function cnnSection(ctx: BenchContext, goals: Goal[], test: Dataset): Promise<string> {
  const epochs = 1;
  const data = 'fashion-mnist:10000';
  const { model: base, how } = await trainedModel(ctx, 'fashion-cnn', epochs, data);
  const train = await resolveData(data, { split: 'train' });
  const opts: PruneOptions = { method: 'structured', sparsity: 0.5 };
  const flags = '--method structured --sparsity 0.5';
  const oneShot = await timed(ctx, 'structured 50% channels, one-shot', flags, async () => pruneStructured(base, opts).model);
  const tuned = await timed(
    ctx,
    'structured 50% channels + fine-tune 1 epoch',
    `${flags} --finetune --epochs 1 --data ${data}`,
    async () => (await pruneModel(base, opts, { train, test, epochs: 1 })).model,
  );
  const variants: Timed[] = [{ name: 'fp32', how: '—', model: base }, oneShot, tuned];
  ctx.log('prune: fashion-cnn accuracy on the test set');
  const acc: number[] = [];
  for (const v of variants) acc.push(await accuracy(v.model, test, `fashion-cnn ${v.name}`));
  const s = variants.map((v) => sizes(v.model));
  const per = tensorNumel(test.sampleShape);
  // One-shot and fine-tuned have the same shapes: time fp32 against the fine-tuned model only.
  const timedVariants = [variants[0]!, tuned];
  const lats = await latencies(ctx, 'prune: fashion-cnn', timedVariants, (b) => ({
    data: test.x.slice(0, b * per),
    dims: [b, ...test.sampleShape],
  }));
  goals.push(
    {
      goal: 'fashion-cnn structured 50% channels + fine-tune: accuracy delta (reported)',
      result: `${pct(acc[2]!)} vs ${pct(acc[0]!)}: ${points(acc[2]! - acc[0]!)} points`,
      met: 'reported',
    },
    { goal: 'fashion-cnn structured 50% channels + fine-tune: latency (reported)', ...latencyGoal(lats, 1, Infinity), met: 'reported' },
  );
  return [
    '### fashion-cnn: structured 50% of channels + fine-tuning',
    '',
    `Model: preset \`fashion-cnn\` trained ${epochs} epoch on \`${data}\` (seed 0), exported with exportToOnnx: ${how}. ` +
      `Pruning: \`pruneStructured(fp32, ${JSON.stringify(opts)})\` (Conv output channels with the following ops and the next layer's inputs, ` +
      `and the hidden Gemm units); fine-tuning: \`pruneModel(fp32, opts, { train, test, epochs: 1 })\` — 1 epoch of Adam (lr 0.001, batch 32) in ` +
      `TensorFlow.js on the ${count(train.n)}-sample train split of \`${data}\`. Accuracy: \`evaluate()\` in onnxruntime on the ` +
      `${count(test.n)}-image Fashion-MNIST test set. Latency inputs: the first test images.`,
    '',
    sizeTable(variants, s, acc),
    '',
    latencyTable(timedVariants, lats),
  ].join('\n');
}

export const pruneBench: Bench = {
  name: 'prune',
  title: 'Pruning: size, latency and accuracy vs fp32',
  inDefaultSet: true,
  async run(ctx: BenchContext): Promise<string> {
    const goals: Goal[] = [];
    const mlp = await mlpSection(ctx, goals);
    const { test, missing } = await fashionTestSet('fashion-mlp and fashion-cnn');
    const mag = test ? await magnitudeSection(ctx, goals, test) : missing;
    const cnn = test ? await cnnSection(ctx, goals, test) : '';
    return [
      `onnxruntime-node CPU execution provider, ${ORT_THREADS} intra-op threads, default graph optimizations. ` +
        `Latency: each variant against fp32 in its own interleaved A/B series (\`compareLatency\` from @shrink/core): ` +
        `${PAIRS.warmup} warm-up pairs, then pairs in alternating order until ${PAIRS.runs} pairs or ${PAIRS.maxTimeMs / 1000} s ` +
        `(at least ${PAIRS.minRuns}). A ratio is variant / fp32 **within one pair**, summarized by its median (p10–p90); below 1 is faster. ` +
        `Sizes: the encoded model (what \`saveModel\` writes inline); gzip: core's \`gzipSize\` of those bytes; MACs: core's \`countMacs\` at batch 1.`,
      '',
      mdTable(
        ['goal (issue #4)', 'result (latency: per-pair median ratios)', 'met'],
        goals.map((g) => [g.goal, g.result, g.met]),
      ),
      '',
      mlp,
      '',
      mag,
      '',
      cnn,
    ].join('\n');
  },
};
