/**
 * What a model is measured on when no labelled dataset is given: a feeds file, or synthetic inputs made
 * for what each input means. Small single-input float models keep the classic seeded dataset (its
 * batches give top-1 agreement on class scores); every other model gets a feed set.
 */
import { ShrinkError } from '../errors.js';
import type { onnx } from '../onnx/proto.js';
import { tensorNumel } from '../onnx/tensor.js';
import type { Dataset } from '../data/dataset.js';
import { readFeedSet } from './feeds-file.js';
import { toInputTensor, type RawArray } from './input-tensor.js';
import type { FeedTensor, Session } from './session.js';
import { syntheticFeedSet, type FeedSet } from './synthetic-feeds.js';

/** Inputs given by the user instead of a dataset: a feeds file or folder, and single inputs by name. */
export interface FeedsSource {
  /** A feeds file (.json, .npz, .npy) or a folder of them. */
  readonly file?: string;
  /** `--input NAME=VALUE|FILE`: this input in every sample, whatever the file or the synthetic rule says. */
  readonly inputs?: Readonly<Record<string, RawArray>>;
}

export interface MeasureFeedsOptions {
  readonly data?: Dataset;
  readonly feeds?: FeedsSource;
  readonly seed?: number;
  readonly batch?: number;
  /** Synthetic samples to make (8). */
  readonly count?: number;
}

/** Largest sample of a single float input that still gets the classic synthetic dataset (64 at a time). */
const CLASSIC_MAX_VALUES = 65536;

function classicFits(session: Session): boolean {
  const meta = session.inputs[0];
  if (session.inputs.length !== 1 || meta?.type !== 'float32' || !meta.shape || meta.shape.length === 0) return false;
  const rest = meta.shape.slice(1);
  return rest.every((d) => typeof d === 'number' && d > 0) && tensorNumel(rest as number[]) <= CLASSIC_MAX_VALUES;
}

/** The --input values as feeds for `session`; a name that is no input of the model is refused by name. */
function givenFeeds(session: Session, inputs: Readonly<Record<string, RawArray>>): Record<string, FeedTensor> {
  const given: Record<string, FeedTensor> = {};
  for (const [name, raw] of Object.entries(inputs)) {
    const meta = session.inputs.find((m) => m.name === name);
    if (!meta) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `--input ${name}: the model has no input '${name}'; its inputs: ${session.inputNames.join(', ')}`,
        {
          option: 'input',
        },
      );
    }
    given[name] = toInputTensor(meta, raw, `--input ${name}`);
  }
  return given;
}

/**
 * The feed set to measure `session` on, or undefined when a dataset (given, or the classic synthetic
 * one) does the job. `model` is the session's graph, read to tell what integer inputs mean.
 */
export async function feedSetFor(session: Session, model: onnx.IModelProto, opts: MeasureFeedsOptions): Promise<FeedSet | undefined> {
  if (opts.data) return undefined;
  const over = givenFeeds(session, opts.feeds?.inputs ?? {});
  const given = Object.keys(over).length > 0;
  if (opts.feeds?.file !== undefined) {
    const set = await readFeedSet(opts.feeds.file, session, model);
    if (!given) return set;
    return {
      ...set,
      name: `${set.name}; ${Object.keys(over).join(', ')} from --input`,
      samples: set.samples.map((f) => ({ ...f, ...over })),
    };
  }
  if (!given && classicFits(session)) return undefined;
  return syntheticFeedSet(session, model, {
    count: opts.count ?? 8,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.batch !== undefined ? { batch: opts.batch } : {}),
    given: over,
  });
}
