/**
 * Distillation as a registry pass (see @shrink/core's Pass): the model it is given is the teacher, and
 * the model it returns is the student. TensorFlow.js loads only when it runs.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { z } from 'zod';
import { definePass, ShrinkError, type onnx } from '@shrink/core';
import { distillOptionsSchema } from './options.js';
import { parseStudentSpec } from './student-spec.js';

export const distillPassSchema = distillOptionsSchema.extend({
  unlabeled: z
    .boolean()
    .default(false)
    .describe('Never read the labels: pure soft-target distillation (alpha 1); data with only "x" is unlabeled anyway'),
  baselineScratch: z
    .boolean()
    .default(false)
    .describe('Also train the same student on the labels alone, to measure what distillation adds'),
  cache: z.boolean().default(true).describe('Cache teacher outputs on disk (false recomputes them)'),
  cacheDir: z.string().optional().describe('Teacher-output cache folder (default $SHRINK_CACHE_DIR, else ~/.cache/shrink)'),
});

export type DistillPassOptions = z.output<typeof distillPassSchema>;

/** What distillation hands back besides the ONNX student: the tfjs students, which the caller may save. */
export interface DistillPassReport {
  distillation: import('./runtime/distill-model.js').DistillReport;
  student: tfjs.LayersModel;
  scratch?: { model: onnx.ModelProto; student: tfjs.LayersModel };
}

export const distillPass = definePass({
  kind: 'distill',
  summary: 'Train a small student from the model (the teacher) by knowledge distillation',
  schema: distillPassSchema,
  check(_o, available) {
    if (!available.train)
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        'distillation needs training data (the samples the student learns from), and none is given',
        { missing: 'train' },
      );
  },
  needs: () => ({ train: true }),
  describe: (o) => `distill-${o.student.replace(/[^\w.-]+/g, '_')}`,
  /**
   * A student that is neither a layer spec (784-64-10, c16-c32-64-10) nor a preset name is a model path,
   * relative to `cwd` like every other path of a config, and it must exist.
   */
  async prepare(o, { cwd }) {
    const spec = parseStudentSpec(o.student);
    if (spec.kind !== 'name') return o;
    // tfjs and the file system load only for a student given by name (the presets live beside tfjs).
    const [{ TF_PRESETS }, { existsSync }, path] = await Promise.all([import('@shrink/core/tfjs'), import('node:fs'), import('node:path')]);
    if (TF_PRESETS.has(spec.name)) return o;
    const abs = path.resolve(cwd, spec.name);
    if (!existsSync(abs)) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `${abs} does not exist; a student is a layer spec (784-64-10, c16-c32-64-10), a preset (${[...TF_PRESETS.keys()].join(', ')}) or a model path`,
        { option: 'student' },
      );
    }
    return { ...o, student: abs };
  },
  async run(model, o, { data, ctx }) {
    const { defaultCacheDir, distillModel } = await import('./runtime/index.js');
    const { unlabeled, baselineScratch, cache, cacheDir, ...options } = o;
    const split = await data.train();
    const r = await distillModel(
      model,
      options,
      { train: split.train, test: split.test },
      { cacheDir: !cache ? false : (cacheDir ?? defaultCacheDir()), baselineScratch, unlabeled },
      ctx,
    );
    const report: DistillPassReport = { distillation: r.report, student: r.student, ...(r.scratch ? { scratch: r.scratch } : {}) };
    return {
      model: r.model,
      notes: r.report.notes,
      layers: [],
      trained: true,
      report,
      dispose: () => {
        r.student.dispose();
        r.scratch?.student.dispose();
      },
    };
  },
});
