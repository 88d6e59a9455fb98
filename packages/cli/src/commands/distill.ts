import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { refuseDegraded, ShrinkError, renderJson, type Report } from '@shrink/core';
import { renderTable } from '@shrink/core/terminal';
import { saveModel, writeFileAtomic } from '@shrink/core/io';
import { resolveSplit } from '@shrink/core/data';
import { compareModels, type ModelUnderTest } from '@shrink/core/runtime';
import { distillPass, type DistillPassReport } from '@shrink/distill/pass';
import type { DistillReport, TrainingRun } from '@shrink/distill/runtime';
import { baselineUnderTest, loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { ensureDir, outputPath, refuseExisting } from '../paths.js';
import { flagsFromSchema, optionsFromArgv } from '../schema-flags.js';
import { exportMaxAbsDiff } from '../export-check.js';
import { guardFlag, measureFlags, profileOptions } from './common-flags.js';

/** Files a distill run writes into its output folder. */
const FILES = {
  student: 'student.onnx',
  studentTfjs: 'student-tfjs',
  scratch: 'scratch.onnx',
  scratchTfjs: 'scratch-tfjs',
  report: 'report.json',
  distillation: 'distillation.json',
} as const;

const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${(v * 100).toFixed(2)}%`);

function runLine(label: string, r: TrainingRun): string {
  const t = r.test;
  const score =
    t?.accuracy !== undefined
      ? `test accuracy ${pct(t.accuracy)}, agreement with the teacher ${pct(t.agreement)}`
      : t?.mse !== undefined
        ? `test MSE ${t.mse.toPrecision(4)}, MSE to the teacher ${t.mseToTeacher?.toPrecision(4)}`
        : 'no held-out data';
  return `${label}: ${r.history.length} epoch(s) in ${r.seconds.toFixed(1)} s (${r.secondsPerEpoch.toFixed(2)} s/epoch); ${score}`;
}

function summary(d: DistillReport): string[] {
  const lines = [`student ${d.student.description}: ${d.student.params} parameters`, `loss: ${d.loss}`, runLine('distilled', d.training)];
  if (d.scratch) {
    lines.push(runLine('from scratch', d.scratch));
    const kd = d.training.test?.accuracy;
    const sc = d.scratch.test?.accuracy;
    if (kd !== undefined && sc !== undefined)
      lines.push(
        `distillation vs scratch: ${((kd - sc) * 100 >= 0 ? '+' : '') + ((kd - sc) * 100).toFixed(2)} points of test accuracy (same student, seed, epochs, data)`,
      );
  }
  return [...lines, ...d.notes];
}

const builder = (y: Argv<GlobalArgs>) =>
  measureFlags(guardFlag(flagsFromSchema(y, distillPass.schema)))
    .option('teacher', { type: 'string', demandOption: true, describe: 'Teacher: .onnx file or tfjs model folder' })
    .option('data', {
      type: 'string',
      demandOption: true,
      describe: 'Training data (its test part scores the models): digits, seed, fashion-mnist[:N], a .csv/.json file or an IDX folder',
    })
    .option('output', {
      alias: 'o',
      type: 'string',
      default: 'shrink-out/distill',
      describe: `Output folder: ${Object.values(FILES).join(', ')}`,
    })
    .option('force', { type: 'boolean', describe: 'Allow replacing existing output files' });
type Args = ArgsOf<typeof builder>;

export const distillCommand: CommandModule<GlobalArgs, Args> = {
  command: 'distill',
  describe:
    'Train a small student from a teacher model (knowledge distillation); compare teacher, student and optionally the same student from scratch',
  builder,
  handler: async (argv) => {
    const options = optionsFromArgv(distillPass.schema, argv, 'distill');
    distillPass.check?.(options, { calibration: false, train: true, eval: true });
    // Bad measurement flags stop the command before minutes of training (--batch trains here: not a measurement flag).
    const measure = (data: Parameters<typeof profileOptions>[1]) => profileOptions(argv, data, ['batch']);
    measure(undefined);
    const ctx = ctxFromArgs(argv);
    const force = argv.force === true;
    const dir = outputPath(argv.output);
    const target = (f: string) => path.join(dir, f);
    const wanted = [
      FILES.student,
      FILES.studentTfjs,
      FILES.report,
      FILES.distillation,
      ...(options.baselineScratch ? [FILES.scratch, FILES.scratchTfjs] : []),
    ];
    for (const f of wanted) await refuseExisting(target(f), force);
    if (options.cacheDir !== undefined) options.cacheDir = outputPath(options.cacheDir, '--cache-dir');
    const teacher = await loadModelInput(argv.teacher, ctx);
    const prepared = distillPass.prepare ? await distillPass.prepare(options, { cwd: process.cwd(), where: 'distill' }) : options;
    const split = await resolveSplit(argv.data);
    const out = await distillPass.run(teacher.model, prepared, {
      data: { train: async () => split, eval: async () => split.test, cwd: process.cwd() },
      ctx,
    });
    const r = out.report as DistillPassReport;
    try {
      // Check and measure everything in memory first: a failure leaves no half-written output folder.
      const { initTf, saveLayersModel } = await import('@shrink/core/tfjs');
      const { tf } = await initTf(ctx);
      const students: Array<{ onnx: string; tfjs: string; model: typeof out.model; layers: typeof r.student }> = [
        { onnx: FILES.student, tfjs: FILES.studentTfjs, model: out.model, layers: r.student },
      ];
      if (r.scratch) students.push({ onnx: FILES.scratch, tfjs: FILES.scratchTfjs, model: r.scratch.model, layers: r.scratch.student });
      for (const s of students) {
        const diff = await exportMaxAbsDiff(tf, s.layers, s.model);
        if (!(diff <= 1e-4))
          throw new ShrinkError('RUNTIME', `${s.onnx}: the ONNX export differs from the tfjs student by ${diff}; please report this`);
      }
      const cmp = await compareModels(
        baselineUnderTest(teacher),
        // The from-scratch student is a reference, not what distillation made: the guard judges the student only.
        students.map((s, i): ModelUnderTest => ({ name: s.onnx, model: s.model, ...(i > 0 ? { guard: false } : {}) })),
        { ...measure(split.test), batch: 1 },
        ctx,
      );
      const report: Report = cmp.report;
      refuseDegraded(report.candidates, { allow: argv.allowDegraded === true });
      await ensureDir(dir);
      for (const [i, s] of students.entries()) {
        const saved = await saveModel(s.model, target(s.onnx), { force, inputs: teacher.inputs });
        await saveLayersModel(s.layers, target(s.tfjs));
        report.candidates[i]!.path = saved.path;
      }
      const lines = summary(r.distillation);
      report.candidates[0]!.notes = [...(report.candidates[0]!.notes ?? []), `distilled: ${r.distillation.loss}`];
      if (report.candidates[1])
        report.candidates[1].notes = [...(report.candidates[1].notes ?? []), 'the same student trained from scratch on the labels'];
      report.notes.push(...lines);
      await writeFileAtomic(target(FILES.report), renderJson(report));
      await writeFileAtomic(target(FILES.distillation), `${JSON.stringify(r.distillation, null, 2)}\n`);
      emit(argv, { output: dir, distillation: r.distillation, report }, () =>
        [renderTable(report), `wrote ${wanted.map((f) => target(f)).join(', ')}`].join('\n\n'),
      );
    } finally {
      out.dispose?.();
    }
  },
};
