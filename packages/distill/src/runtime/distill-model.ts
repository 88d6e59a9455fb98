import type * as tfjs from '@tensorflow/tfjs';
import { parseOptions, ShrinkError, type Ctx, type onnx } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import { exportToOnnx, initTf, TF_PRESETS } from '@shrink/core/tfjs';
import { distillOptionsSchema, type DistillOptions, type ResolvedDistillOptions } from '../options.js';
import { defaultCacheDir } from './teacher-cache.js';
import { teacherOutputs, type TeacherOutputs } from './teacher.js';
import { buildStudent, type Student } from './student.js';
import { parseStudentSpec } from '../student-spec.js';
import { initFromTeacher } from './init-from-teacher.js';
import type { LossLayout } from './losses.js';
import { packTargets, scoreStudent, trainStudent, type StudentEpoch, type StudentScore } from './train-student.js';

/** Where the student learns and is scored. */
export interface DistillData {
  train: Dataset;
  /** Held-out data: scored after every epoch and at the end. */
  test?: Dataset;
}

export interface DistillSettings {
  /** Folder of the teacher-output cache; false turns caching off. Default: defaultCacheDir(). */
  cacheDir?: string | false;
  /** Also train the same student from scratch on the labels alone (same seed, epochs, data). */
  baselineScratch?: boolean;
  /** Never read the data's labels: pure soft-target distillation (alpha becomes 1). */
  unlabeled?: boolean;
}

export interface TrainingRun {
  history: StudentEpoch[];
  seconds: number;
  secondsPerEpoch: number;
  /** Final scores on the held-out data. */
  test?: StudentScore;
}

export interface DistillReport {
  student: { spec: string; description: string; params: number; initialised: string[] };
  teacher: Pick<TeacherOutputs, 'outputName' | 'kind' | 'detectedBy' | 'cache' | 'seconds' | 'k'> & { testSeconds?: number };
  options: ResolvedDistillOptions;
  /** The loss as trained, in words. */
  loss: string;
  training: TrainingRun;
  /** The same student trained from scratch (settings.baselineScratch). */
  scratch?: TrainingRun;
  notes: string[];
}

export interface DistillResult {
  /** The student exported to ONNX: what the student outputs (probabilities for spec and preset classifiers). */
  model: onnx.ModelProto;
  /** The trained student in TensorFlow.js; the caller disposes it. */
  student: tfjs.LayersModel;
  /** The scratch baseline, when asked for; the caller disposes its tfjs model. */
  scratch?: { model: onnx.ModelProto; student: tfjs.LayersModel };
  report: DistillReport;
}

function hiddenPairs(o: ResolvedDistillOptions): Array<{ teacher: string; student: string }> {
  return (o.hiddenMatch ?? []).map((pair) => {
    const i = pair.lastIndexOf(':');
    const teacher = pair.slice(0, i);
    const student = pair.slice(i + 1);
    if (i <= 0 || student === '') {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `"${pair}": expected "teacherValue:studentLayer", e.g. fc1/Relu:0:fc1 (a teacher node output, then a student layer)`,
        { option: 'hiddenMatch' },
      );
    }
    return { teacher, student };
  });
}

/** Teacher values hidden matching may name: node outputs, listed (a few) when a name is wrong. */
function checkTeacherValues(teacher: onnx.IModelProto, names: readonly string[]): void {
  const nodes = teacher.graph?.node ?? [];
  const produced = new Set(nodes.flatMap((n) => n.output ?? []));
  for (const name of names) {
    if (produced.has(name)) continue;
    const hints = nodes
      .filter((n) => ['Relu', 'Gemm', 'MatMul', 'Add', 'Conv', 'Tanh', 'Sigmoid'].includes(n.opType ?? ''))
      .flatMap((n) => n.output ?? []);
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `the teacher has no value '${name}'; node outputs include ${hints.slice(0, 12).join(', ') || '(none)'}${hints.length > 12 ? ', ...' : ''}`,
      { option: 'hiddenMatch' },
    );
  }
}

/** Output width the student must have, known from the data before the teacher runs. */
function expectedOutputs(data: Dataset): number {
  return data.task === 'classification' ? (data.numClasses ?? 0) : (data.targetSize ?? 1);
}

function checkOutputs(t: TeacherOutputs, data: Dataset): void {
  if (data.task === 'classification') {
    if (data.numClasses !== undefined && t.k !== data.numClasses) {
      throw new ShrinkError(
        'INVALID_DATA',
        `teacher output '${t.outputName}' has ${t.k} values per sample but ${data.name} has ${data.numClasses} classes`,
      );
    }
    if (t.k < 2)
      throw new ShrinkError(
        'INVALID_DATA',
        `teacher output '${t.outputName}' has ${t.k} value per sample; classification distillation needs one score per class`,
      );
  } else if (t.k !== (data.targetSize ?? 1)) {
    throw new ShrinkError(
      'INVALID_DATA',
      `teacher output '${t.outputName}' has ${t.k} values per sample but ${data.name} has ${data.targetSize ?? 1} target(s)`,
    );
  }
}

/**
 * tfjs makes input names unique within a process (input, input_1, ...): the exported student's input is
 * always `input`, so the same seed gives the same file in any process.
 */
function exported(student: tfjs.LayersModel): onnx.ModelProto {
  const model = exportToOnnx(student).model;
  const g = model.graph;
  const v = g?.input?.[0];
  if (!g || !v?.name || v.name === 'input') return model;
  const from = v.name;
  v.name = 'input';
  for (const n of g.node ?? []) n.input = (n.input ?? []).map((i) => (i === from ? 'input' : i));
  return model;
}

function lossText(l: LossLayout, labelled: boolean): string {
  const hidden = l.hiddenDims.length
    ? ` + ${l.hiddenWeight} x MSE(projection, teacher activation) for ${l.hiddenDims.length} hidden pair(s)`
    : '';
  if (l.task === 'regression')
    return `${l.alpha} x MSE(student, teacher)${labelled && l.alpha < 1 ? ` + ${1 - l.alpha} x MSE(student, label)` : ''}${hidden}`;
  const soft = `${l.alpha} x T^2 x KL(softmax(t/T) || softmax(s/T)), T = ${l.temperature}`;
  return `${soft}${labelled && l.alpha < 1 ? ` + ${+(1 - l.alpha).toFixed(6)} x CE(label, softmax(s))` : ''}${hidden}`;
}

/**
 * Knowledge distillation: runs the ONNX teacher over the training data (cached on disk), then trains a
 * student in TensorFlow.js on the teacher's soft targets (Hinton et al. 2015) or outputs (regression),
 * optionally matching hidden activations, and exports it to ONNX. The teacher is never modified.
 */
export async function distillModel(
  teacher: onnx.IModelProto,
  options: DistillOptions,
  data: DistillData,
  settings: DistillSettings = {},
  ctx?: Ctx,
): Promise<DistillResult> {
  const o = parseOptions(distillOptionsSchema, options, 'distill');
  const train = data.train;
  if (train.n === 0) throw new ShrinkError('INVALID_DATA', `${train.name}: no samples to distil on`);
  const labelled = settings.unlabeled !== true && train.unlabeled !== true;
  // Everything that can be refused cheaply is refused before the teacher runs over the data.
  if (settings.baselineScratch && !labelled)
    throw new ShrinkError('INVALID_ARGUMENT', 'the from-scratch baseline trains on the labels; it cannot run on unlabeled data', {
      option: 'baselineScratch',
    });
  const pairs = hiddenPairs(o);
  checkTeacherValues(
    teacher,
    pairs.map((p) => p.teacher),
  );
  const spec = parseStudentSpec(o.student);
  if (settings.baselineScratch && spec.kind === 'name' && !TF_PRESETS.has(spec.name)) {
    throw new ShrinkError(
      'INVALID_ARGUMENT',
      `the student ${o.student} is a trained model, which cannot be trained "from scratch"; give a layer spec or a preset name`,
      { option: 'baselineScratch' },
    );
  }
  const { tf } = await initTf(ctx);
  // Labelled data says how many outputs the student needs before the teacher runs; without labels the
  // teacher's output width decides (one value: regression).
  const early = train.unlabeled
    ? undefined
    : await buildStudent(tf, o.student, { inputShape: train.sampleShape, outputs: expectedOutputs(train), task: train.task }, o.seed);
  const notes: string[] = [];
  const alpha = labelled ? o.alpha : 1;
  if (!labelled && o.alpha !== 1) notes.push(`labels not used (unlabeled data): alpha ${o.alpha} -> 1, pure soft targets`);
  const cacheDir = settings.cacheDir ?? defaultCacheDir();
  let t: TeacherOutputs;
  let tTest: TeacherOutputs | undefined;
  try {
    t = await teacherOutputs(teacher, train, { output: o.teacherOutput, hidden: pairs.map((p) => p.teacher), cacheDir }, ctx);
    if (!train.unlabeled) checkOutputs(t, train);
    tTest = data.test ? await teacherOutputs(teacher, data.test, { output: o.teacherOutput, hidden: [], cacheDir }, ctx) : undefined;
  } catch (e) {
    early?.model.dispose();
    throw e;
  }
  const task = train.unlabeled ? (t.k === 1 ? 'regression' : 'classification') : train.task;
  const shape = { inputShape: train.sampleShape, outputs: t.k, task };
  const student = early ?? (await buildStudent(tf, o.student, shape, o.seed));
  const layout: LossLayout = { task, k: t.k, temperature: o.temperature, alpha, hiddenDims: t.hiddenDims, hiddenWeight: o.hiddenWeight };

  const run = async (student: Student, l: LossLayout, hiddenLayers: string[], label: string, lab: boolean): Promise<TrainingRun> => {
    const score = data.test && tTest ? async () => scoreStudent(tf, student.model, data.test!, tTest.values, t.k, task) : undefined;
    const targets = packTargets(l, t.values, t.hidden, train, lab);
    const r = await trainStudent(
      tf,
      student,
      train,
      targets,
      { layout: l, epochs: o.epochs, batch: o.batch, lr: o.lr, seed: o.seed, hiddenLayers, label },
      score,
      ctx,
    );
    const last = r.history.at(-1)?.test;
    return {
      history: r.history,
      seconds: r.seconds,
      secondsPerEpoch: r.seconds / Math.max(1, r.history.length),
      ...(last ? { test: last } : {}),
    };
  };

  let initialised: string[] = [];
  try {
    if (o.initFromTeacher) {
      const init = initFromTeacher(tf, student.model, teacher);
      initialised = init.layers;
      notes.push(init.note);
    }
    const training = await run(
      student,
      layout,
      pairs.map((p) => p.student),
      'student',
      labelled,
    );
    const model = exported(student.model);
    let scratch: DistillResult['scratch'];
    let scratchRun: TrainingRun | undefined;
    if (settings.baselineScratch) {
      const s = await buildStudent(tf, o.student, shape, o.seed);
      try {
        scratchRun = await run(s, { ...layout, alpha: 0, hiddenDims: [] }, [], 'scratch', true);
        scratch = { model: exported(s.model), student: s.model };
      } catch (e) {
        s.model.dispose();
        throw e;
      }
      notes.push(`scratch baseline: the same student spec, seed ${o.seed}, ${o.epochs} epoch(s), trained on the labels alone`);
    }
    notes.push(
      `teacher outputs: ${t.detectedBy}; ${t.cache === 'hit' ? 'read from the cache' : t.cache === 'miss' ? 'computed and cached' : 'computed (cache off)'} in ${t.seconds.toFixed(2)} s`,
    );
    return {
      model,
      student: student.model,
      ...(scratch ? { scratch } : {}),
      report: {
        student: { spec: o.student, description: student.description, params: student.model.countParams(), initialised },
        teacher: {
          outputName: t.outputName,
          kind: t.kind,
          detectedBy: t.detectedBy,
          cache: t.cache,
          seconds: t.seconds,
          k: t.k,
          ...(tTest ? { testSeconds: tTest.seconds } : {}),
        },
        options: { ...o, alpha },
        loss: lossText(layout, labelled),
        training,
        ...(scratchRun ? { scratch: scratchRun } : {}),
        notes,
      },
    };
  } catch (e) {
    student.model.dispose();
    throw e;
  }
}
