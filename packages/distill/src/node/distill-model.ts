import type * as tfjs from '@tensorflow/tfjs';
import { ShrinkError, type Ctx, type onnx } from '@shrink/core';
import type { Dataset } from '@shrink/core/data';
import type { DistillOptions } from '../options.js';

/** Where the student learns and is scored. */
export interface DistillData {
  train: Dataset;
  /** Held-out data for the final student metrics. */
  test?: Dataset;
}

export interface DistillSettings {
  /** Folder of the teacher-output cache; false turns caching off. Default: defaultCacheDir(). */
  cacheDir?: string | false;
}

export interface DistillReport {
  notes: string[];
}

export interface DistillResult {
  /** The student exported to ONNX (outputs probabilities for classifiers). */
  model: onnx.ModelProto;
  /** The trained student in TensorFlow.js; the caller disposes it. */
  student: tfjs.LayersModel;
  report: DistillReport;
}

/** Trains a student from an ONNX teacher (contract; the implementation lands with the distill issue). */
export async function distillModel(_teacher: onnx.IModelProto, _options: DistillOptions, _data: DistillData, _settings: DistillSettings = {}, _ctx?: Ctx): Promise<DistillResult> {
  throw new ShrinkError('UNSUPPORTED_MODEL', 'distillation is not implemented yet');
}
