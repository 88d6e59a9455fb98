/**
 * A dataset in memory: samples in row-major order, one sample after another.
 * Images are stored NHWC (the tfjs layout); exporters and loaders convert where a model wants NCHW.
 */
export type Task = 'classification' | 'regression';

export interface Dataset {
  /** Where it came from, for reports ("digits", "fashion-mnist:test", "/path/data.csv"). */
  readonly name: string;
  readonly task: Task;
  /** Shape of one sample, e.g. [64] for digits, [28, 28, 1] for Fashion-MNIST images. */
  readonly sampleShape: readonly number[];
  /** n * prod(sampleShape) values. */
  readonly x: Float32Array;
  /** Class index per sample (classification) or targetSize values per sample (regression). */
  readonly y: Int32Array | Float32Array;
  /** Number of samples. */
  readonly n: number;
  /** Classes for classification; undefined for regression. */
  readonly numClasses?: number;
  /** Values per sample in `y` for regression (1 for the seed model). */
  readonly targetSize?: number;
  /**
   * The source had no labels (a JSON file with only "x"): `y` holds placeholders. Label-free uses
   * work (calibration, fidelity, distillation on soft targets); scoring and training on labels refuse it.
   */
  readonly unlabeled?: boolean;
}

/** A deterministic train/test pair. */
export interface Split {
  readonly train: Dataset;
  readonly test: Dataset;
}
