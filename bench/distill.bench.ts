/**
 * @shrink/distill (issue #5): a fashion-mlp teacher distilled into a 784-64-10 student (< 1/10 of its
 * parameters) against the same student trained from scratch, over 3 seeds; latency and size ratios of
 * teacher vs student in the same run; the seed regression model distilled into 1000-16-1; and where
 * the time goes (teacher inference vs student training per epoch).
 */
import {
  countParams,
  createSession,
  distillModel,
  encodeModel,
  resolveSplit,
  summarize,
  teacherOutputs,
  type Dataset,
  type onnx,
} from './core.js';
import { fmtBytes, fmtMs, fmtX, mdTable, nowMs, type Bench, type BenchContext } from './lib.js';
import { accuracy, BATCHES, latencies, pct, points, trainedModel, yesNo, type Goal, type Variant } from './quantize.bench.js';
import { ShrinkError } from './core.js';

const SEEDS = [0, 1, 2] as const;
const FASHION = {
  teacherEpochs: 5,
  data: 'fashion-mnist',
  student: '784-64-10',
  epochs: 10,
  lr: 0.002,
  batch: 64,
  temperature: 2,
  alpha: 0.5,
} as const;
const SEED_MODEL = { teacherEpochs: 5, data: 'seed', student: '1000-16-1', epochs: 10, lr: 0.001, batch: 32 } as const;

const meanSpread = (xs: readonly number[]): string => {
  const s = summarize(xs);
  return `${pct(s.mean)} (${pct(s.min)}–${pct(s.max)})`;
};

async function mse(model: onnx.ModelProto, test: Dataset, label: string): Promise<number> {
  const { evaluate } = await import('./core.js');
  const s = await createSession(model, { threads: 2, label });
  try {
    const r = await evaluate(s, test);
    if (r.task !== 'regression') throw new Error(`${label}: expected a regression result`);
    return r.mse;
  } finally {
    await s.release();
  }
}

function firstInput(test: Dataset): (batch: number) => { data: Float32Array; dims: number[] } {
  const per = test.x.length / test.n;
  return (b) => ({ data: test.x.slice(0, b * per), dims: [b, ...test.sampleShape] });
}

async function fashionSection(ctx: BenchContext, goals: Goal[]): Promise<string> {
  let split;
  try {
    split = await resolveSplit(FASHION.data);
  } catch (e) {
    if (e instanceof ShrinkError && e.code === 'NOT_FOUND') return `Skipped the Fashion-MNIST part: ${e.message}`;
    throw e;
  }
  const { model: teacher, how } = await trainedModel(ctx, 'fashion-mlp', FASHION.teacherEpochs, FASHION.data);
  const teacherAcc = await accuracy(teacher, split.test, 'teacher');
  const opts = {
    student: FASHION.student,
    epochs: FASHION.epochs,
    lr: FASHION.lr,
    batch: FASHION.batch,
    temperature: FASHION.temperature,
    alpha: FASHION.alpha,
  };
  const kd: number[] = [];
  const scratch: number[] = [];
  const rows: string[][] = [];
  let firstStudent: onnx.ModelProto | undefined;
  let epochSeconds = 0;
  let scratchEpochSeconds = 0;
  for (const seed of SEEDS) {
    ctx.log(`distill: fashion-mlp -> ${FASHION.student}, seed ${seed} (KD and scratch, ${FASHION.epochs} epochs each)`);
    const r = await distillModel(teacher, { ...opts, seed }, split, { cacheDir: false, baselineScratch: true });
    r.student.dispose();
    r.scratch?.student.dispose();
    const a = await accuracy(r.model, split.test, `student seed ${seed}`);
    const b = await accuracy(r.scratch!.model, split.test, `scratch seed ${seed}`);
    kd.push(a);
    scratch.push(b);
    firstStudent ??= r.model;
    epochSeconds += r.report.training.secondsPerEpoch / SEEDS.length;
    scratchEpochSeconds += (r.report.scratch?.secondsPerEpoch ?? 0) / SEEDS.length;
    rows.push([String(seed), pct(a), pct(b), points(a - b), pct(r.report.training.test?.agreement ?? NaN), pct(a / teacherAcc)]);
  }
  const tp = countParams(teacher).params;
  const sp = countParams(firstStudent!).params;
  const tBytes = encodeModel(teacher).length;
  const sBytes = encodeModel(firstStudent!).length;
  ctx.log('distill: teacher vs student latency');
  const variants: Variant[] = [
    { name: 'teacher fashion-mlp', how: '—', model: teacher },
    { name: `student ${FASHION.student}`, how: 'seed 0', model: firstStudent! },
  ];
  const lats = await latencies(ctx, 'distill: fashion', variants, firstInput(split.test));
  // Where the time goes: the teacher over the training set once (no cache) vs one student epoch.
  const t0 = nowMs();
  await teacherOutputs(teacher, split.train, { output: 'auto', hidden: [], cacheDir: false });
  const teacherSeconds = (nowMs() - t0) / 1000;
  const kdMean = summarize(kd).mean;
  const scMean = summarize(scratch).mean;
  goals.push(
    {
      goal: `Fashion-MNIST student <= 1/10 of the teacher's parameters`,
      result: `${sp.toLocaleString('en-US')} vs ${tp.toLocaleString('en-US')} (${fmtX(sp / tp)})`,
      met: yesNo(sp * 10 <= tp),
    },
    {
      goal: `student accuracy >= 97% of the teacher's (mean over ${SEEDS.length} seeds)`,
      result: `${pct(kdMean)} vs ${pct(teacherAcc)} = ${pct(kdMean / teacherAcc)} of it`,
      met: yesNo(kdMean >= 0.97 * teacherAcc),
    },
    {
      goal: 'KD beats the same student from scratch (mean over 3 seeds)',
      result: `${meanSpread(kd)} vs ${meanSpread(scratch)}: ${points(kdMean - scMean)} points`,
      met: yesNo(kdMean > scMean),
    },
  );
  return [
    '### Fashion-MNIST: fashion-mlp teacher -> 784-64-10 student',
    '',
    `Teacher: preset \`fashion-mlp\` (784-512-256-10, ${tp.toLocaleString('en-US')} parameters) trained ${FASHION.teacherEpochs} epochs on \`${FASHION.data}\` (seed 0): ${how}; ` +
      `test accuracy ${pct(teacherAcc)} (onnxruntime, ${split.test.n.toLocaleString('en-US')} images). ` +
      `Students: \`distillModel(teacher, ${JSON.stringify({ ...opts, seed: 'S' })}, { train, test }, { baselineScratch: true })\` — ` +
      `the distilled student (T = ${FASHION.temperature}, alpha = ${FASHION.alpha}) and the same spec, seed and epochs trained on the labels alone ` +
      `(\`shrink distill --teacher T --student ${FASHION.student} --data ${FASHION.data} --epochs ${FASHION.epochs} --lr ${FASHION.lr} --seed S --baseline-scratch\`), ` +
      `on all ${split.train.n.toLocaleString('en-US')} training images; accuracies of the exported ONNX students in onnxruntime.`,
    '',
    mdTable(['seed', 'distilled', 'scratch', 'KD - scratch (points)', 'agreement with teacher', 'distilled / teacher accuracy'], rows, [
      true,
      true,
      true,
      true,
      true,
      true,
    ]),
    '',
    `Mean (min–max) over ${SEEDS.length} seeds: distilled ${meanSpread(kd)}, scratch ${meanSpread(scratch)}.`,
    '',
    mdTable(
      ['', 'teacher', 'student', 'ratio'],
      [
        ['parameters', tp.toLocaleString('en-US'), sp.toLocaleString('en-US'), fmtX(sp / tp)],
        ['ONNX bytes', fmtBytes(tBytes), fmtBytes(sBytes), fmtX(sBytes / tBytes)],
        ...lats.map((l) => [
          `latency p50, batch ${l.batch} (interleaved)`,
          fmtMs(l.cmp[1]!.a.p50),
          fmtMs(l.cmp[1]!.b.p50),
          fmtX(l.cmp[1]!.ratio.p50),
        ]),
      ],
      [false, true, true, true],
    ),
    '',
    `Where the time goes: the teacher over the ${split.train.n.toLocaleString('en-US')} training images in onnxruntime (once; cached on disk afterwards) took ` +
      `${teacherSeconds.toFixed(2)} s; one student epoch in tfjs took ${epochSeconds.toFixed(2)} s distilled and ${scratchEpochSeconds.toFixed(2)} s from scratch ` +
      `(mean over seeds; the KD loss adds the soft-target term). Teacher inference is ${pct(teacherSeconds / (epochSeconds * FASHION.epochs))} of a ${FASHION.epochs}-epoch distillation.`,
    `Latency batches: ${BATCHES.join(', ')}.`,
  ].join('\n');
}

async function seedSection(ctx: BenchContext, goals: Goal[]): Promise<string> {
  const split = await resolveSplit(SEED_MODEL.data);
  const { model: teacher, how } = await trainedModel(ctx, 'seed', SEED_MODEL.teacherEpochs, SEED_MODEL.data);
  ctx.log(`distill: seed -> ${SEED_MODEL.student}`);
  const r = await distillModel(
    teacher,
    { student: SEED_MODEL.student, epochs: SEED_MODEL.epochs, lr: SEED_MODEL.lr, batch: SEED_MODEL.batch },
    split,
    { cacheDir: false, baselineScratch: true },
  );
  r.student.dispose();
  r.scratch?.student.dispose();
  const tm = await mse(teacher, split.test, 'seed teacher');
  const sm = await mse(r.model, split.test, 'seed student');
  const scm = await mse(r.scratch!.model, split.test, 'seed scratch');
  const tp = countParams(teacher).params;
  const sp = countParams(r.model).params;
  goals.push({
    goal: 'seed model distilled into <= 1/10 of its parameters: test MSE ratio (reported)',
    result: `${fmtX(sm / tm)} (${sm.toPrecision(4)} vs ${tm.toPrecision(4)}; scratch ${scm.toPrecision(4)}), parameters ${fmtX(sp / tp)}`,
    met: 'reported',
  });
  return [
    '### The seed regression model -> 1000-16-1',
    '',
    `Teacher: preset \`seed\` (1000-200-100-1, ${tp.toLocaleString('en-US')} parameters) trained ${SEED_MODEL.teacherEpochs} epochs: ${how}. Student ${SEED_MODEL.student} (${sp.toLocaleString('en-US')} parameters, ${fmtX(sp / tp)}): ` +
      `loss 0.7 x MSE(student, teacher) + 0.3 x MSE(student, label), ${SEED_MODEL.epochs} epochs, lr ${SEED_MODEL.lr}; scratch: the same on the labels alone.`,
    '',
    mdTable(
      ['model', 'parameters', 'test MSE', 'MSE / teacher MSE', 'MSE to teacher outputs'],
      [
        ['teacher', tp.toLocaleString('en-US'), tm.toPrecision(4), '1', '0'],
        [
          'distilled student',
          sp.toLocaleString('en-US'),
          sm.toPrecision(4),
          fmtX(sm / tm),
          (r.report.training.test?.mseToTeacher ?? NaN).toPrecision(4),
        ],
        [
          'scratch student',
          sp.toLocaleString('en-US'),
          scm.toPrecision(4),
          fmtX(scm / tm),
          (r.report.scratch?.test?.mseToTeacher ?? NaN).toPrecision(4),
        ],
      ],
      [false, true, true, true, true],
    ),
  ].join('\n');
}

export const distillBench: Bench = {
  name: 'distill',
  title: 'Distillation: student vs teacher vs scratch',
  inDefaultSet: false,
  async run(ctx: BenchContext): Promise<string> {
    const goals: Goal[] = [];
    const fashion = await fashionSection(ctx, goals);
    const seed = await seedSection(ctx, goals);
    return [
      mdTable(
        ['goal', 'result', 'met'],
        goals.map((g) => [g.goal, g.result, g.met]),
      ),
      '',
      fashion,
      '',
      seed,
    ].join('\n');
  },
};
