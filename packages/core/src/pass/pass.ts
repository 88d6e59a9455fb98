/**
 * The one contract every compression method keeps, so commands, pipelines, searches, their workers, the
 * demo and (later) the browser run them one way. A pass is data in, data out: a model and its options
 * in, a new model and what happened out; the input model is never mutated. Adding a method is a new
 * Pass in its own package plus one line in the registry.
 */
import type { z } from 'zod';
import type { Ctx } from '../context.js';
import type { Dataset, Split } from '../data/dataset.js';
import type { onnx } from '../onnx/proto.js';
import type { OptionsSchema } from '../options.js';
import type { GuardFailure } from '../report/guard.js';
import type { LayerDetail } from '../report/report.js';

/** The data a pass may ask for. Each is loaded once, on first use, by whoever runs the pass. */
export interface PassData {
  /**
   * The run's calibration data (a data spec, or random:N), for a pass whose options name none: the pass
   * resolves it itself, since random samples take the model's input shape.
   */
  readonly calibrationSpec?: string;
  /** Training data split into train and test parts (fine-tuning, distillation). */
  train(): Promise<Split>;
  /** Evaluation data, when the run has any (per-layer error, accuracy fallbacks). */
  eval(): Promise<Dataset | undefined>;
  /** Folder that relative paths in options are relative to (a config file's folder). */
  readonly cwd?: string;
}

export interface PassContext {
  readonly data: PassData;
  /** Logger, progress, abort signal, threads and seed. */
  readonly ctx: Ctx;
}

/** What a pass hands back: the new model, notes for the report, per-layer detail, and its own report. */
export interface PassOutput {
  model: onnx.ModelProto;
  /** Lines for the report, the first saying what the pass did ("q8 dynamic: 3 of 3 nodes quantized"). */
  notes: string[];
  layers: LayerDetail[];
  /** The pass trained a model (fine-tuning, distillation): its energy is reported. */
  trained: boolean;
  /**
   * The nodes the pass changed, labelled as an `exclude` option names them: what the accuracy fallback
   * ranks and leaves alone. Absent for passes that cannot leave a node alone.
   */
  changed?: ReadonlyArray<{ name: string; opType: string }>;
  /** The pass's own JSON report (`--json` puts it under the pass's kind). */
  report?: unknown;
  /**
   * Limits the run was asked to hold (maxAccuracyDrop, a fidelity floor) that this model does not: front
   * ends fail it as they fail the fidelity guard (nothing written unless degraded models are allowed).
   */
  unmet?: readonly GuardFailure[];
  /** Frees what the pass holds outside the model (a trained tfjs model). */
  dispose?(): void;
}

/** Which data a pass needs with these options; the runner refuses a missing one before anything runs. */
export interface PassNeeds {
  calibration?: boolean;
  train?: boolean;
}

/** What the run around a pass can give it, for checks that must fail before any step runs. */
export interface PassAvailability {
  calibration: boolean;
  train: boolean;
  eval: boolean;
}

export interface Pass<S extends OptionsSchema = OptionsSchema> {
  /** The step's key in configs and the command's name: `quantize`, `prune`, ... */
  readonly kind: string;
  /** One line for `--help` and the docs. */
  readonly summary: string;
  /** Options as configs, flags and search spaces give them (defaults included). */
  readonly schema: S;
  /**
   * Cross-field rules the schema cannot say, and what the run lacks (ShrinkError with `option`): called
   * before any step of a pipeline runs, so a mistake in step 3 does not cost the minutes of steps 1-2.
   */
  check?(options: z.output<S>, available: PassAvailability): void;
  needs(options: z.output<S>): PassNeeds;
  /** A short label for search trials and reports, e.g. `q8-pc`, `prune-structured0.5-ft`. */
  describe(options: z.output<S>): string;
  /**
   * Variants a search tries when the config gives none (null = leave the pass out), given what data the
   * run has. Absent: the pass is tried only when the config's space names it.
   */
  searchSpace?(available: PassAvailability): Array<z.input<S> | null>;
  /**
   * Options that name files, made absolute against `cwd` (a config file's folder) and checked to exist,
   * before any step runs; `where` names the options' place in errors ("steps[1].distill").
   */
  prepare?(options: z.output<S>, at: { cwd: string; where: string }): Promise<z.output<S>>;
  /**
   * Whether a node the speed guard rolls back keeps its compressed storage and computes in float with
   * these options (the pass's `floatCompute` has a form for them); otherwise it is left as it was.
   */
  floatComputes?(options: z.output<S>): boolean;
  run(model: onnx.ModelProto, options: z.output<S>, context: PassContext): Promise<PassOutput>;
}

/** Declares a pass with its schema's types flowing into check/needs/describe/run. */
export function definePass<S extends OptionsSchema>(pass: Pass<S>): Pass<S> {
  return pass;
}
