import { isShrinkError, ShrinkError } from '../errors.js';
import type { Ctx } from '../context.js';
import type { Dataset } from '../data/dataset.js';
import { createRng } from '../data/rng.js';
import { createDataset, sampleSize } from '../data/dataset-ops.js';
import type { onnx } from '../onnx/proto.js';
import { countParams, type ParamCount } from '../measure/params.js';
import { countMacs, describeMacs, type MacCount } from '../measure/macs.js';
import { countOps } from '../measure/ops.js';
import { modelSizes } from '../measure/size.js';
import { createReport, metric, NonFiniteMetricError, type CandidateReport, type MetricValue, type Report } from '../report/report.js';
import { checkFloors, DEFAULT_FLOORS, type FidelityFloors } from '../report/guard.js';
import { createSession, type Feeds, type Session, type TypedArray } from './session.js';
import { feedsFor } from './feeds.js';
import { measureLatency, compareLatency, type LatencyResult, type LatencyComparison } from './latency.js';
import { measureEnergy, type EnergyResult } from './energy.js';
import { evaluate, type EvaluateResult } from './evaluate.js';
import { fidelity, type FidelityResult } from './fidelity.js';
import { fidelityOnFeeds } from './feed-fidelity.js';
import { feedSetFor, type FeedsSource } from './measure-feeds.js';
import type { FeedSet } from './synthetic-feeds.js';
import { collectEnvironment } from './environment.js';

/** A model to measure: in memory, plus the file it came from when there is one. */
export interface ModelUnderTest {
  name: string;
  model: onnx.IModelProto;
  /** .onnx path: sessions load from it (needed past 2 GB) and its size counts external data. */
  path?: string;
  /** Bytes on disk (model + external data); the encoded size is used when absent. */
  diskBytes?: number;
  /** false: no fidelity guard for this candidate (a reference such as a from-scratch student, not an output of a pass). */
  guard?: boolean;
}

export interface ProfileOptions {
  /** Evaluation data: accuracy/MSE, and latency feeds taken from its first samples. */
  data?: Dataset;
  /** Samples per latency run (1). */
  batch?: number;
  /** Samples per evaluation run (64). */
  evalBatch?: number;
  threads?: number;
  warmup?: number;
  runs?: number;
  /** Time budget of the latency runs per model (none); at least 5 runs are timed. */
  maxTimeMs?: number;
  gridIntensity?: number;
  /** Seed of the synthetic latency feeds used when there is no data (0). */
  seed?: number;
  /** The fidelity guard's floors for candidates (DEFAULT_FLOORS); false turns the guard off. */
  floors?: FidelityFloors | false;
  /** Inputs by name when there is no dataset: a feeds file, and --input values. */
  feeds?: FeedsSource;
}

export interface ModelProfile {
  name: string;
  path?: string;
  bytes: number;
  gzipBytes: number;
  params: ParamCount;
  macs: MacCount;
  ops: Record<string, number>;
  latency: LatencyResult;
  energy: EnergyResult;
  quality?: EvaluateResult;
}

/**
 * Feeds for a latency run of `batch` samples: real samples when data is given, otherwise seeded
 * uniform [0, 1) floats (zeros for integer inputs). Symbolic dims become `batch` on axis 0 and 1 elsewhere.
 */
export function latencyFeeds(session: Session, batch: number, data?: Dataset, seed = 0): Feeds {
  if (data) return feedsFor(session, data, 0, Math.min(batch, data.n)).feeds;
  const rng = createRng(seed);
  const feeds: Record<string, { data: TypedArray; dims: number[] }> = {};
  for (const meta of session.inputs) {
    const dims = (meta.shape ?? []).map((d, i) => (typeof d === 'number' && d >= 0 ? d : i === 0 ? batch : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    switch (meta.type) {
      case 'float32': {
        const x = new Float32Array(n);
        for (let i = 0; i < n; i++) x[i] = rng.next();
        feeds[meta.name] = { data: x, dims };
        break;
      }
      case 'int64':
        feeds[meta.name] = { data: new BigInt64Array(n), dims };
        break;
      case 'int32':
        feeds[meta.name] = { data: new Int32Array(n), dims };
        break;
      default:
        throw new ShrinkError(
          'UNSUPPORTED_MODEL',
          `${session.source}: input '${meta.name}' is ${meta.type ?? 'not a tensor'}; synthetic feeds are made for float32, int32 and int64 inputs — give evaluation data`,
          { missing: 'eval' },
        );
    }
  }
  return feeds;
}

/**
 * Seeded uniform [0, 1) samples shaped for the model's only input, for fidelity when the user gave no
 * data: two models can still be compared output for output. A [N, C] output with C > 1 is treated as
 * class scores, so top-1 agreement is reported too.
 */
export function syntheticDataset(session: Session, n = 64, seed = 0): Dataset {
  const meta = session.inputs[0];
  if (session.inputs.length !== 1 || !meta || meta.type !== 'float32') {
    throw new ShrinkError(
      'INVALID_DATA',
      `${session.source}: synthetic comparison data needs exactly one float32 input; give evaluation data`,
      { missing: 'eval' },
    );
  }
  const sampleShape = (meta.shape ?? []).slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const per = sampleSize(sampleShape);
  const rng = createRng(seed);
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const outShape = session.outputs[0]?.shape ?? [];
  const width = outShape.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' && d > 0 ? d : 1), 1);
  const name = `synthetic: ${n} seeded uniform [0,1) inputs`;
  // Class scores are [N, C]; a map or a sequence ([N, 1, H, W], [N, T, D]) has no top-1 class to agree on.
  return width > 1 && outShape.length === 2
    ? createDataset({ name, task: 'classification', sampleShape, x, y: new Int32Array(n), numClasses: width })
    : createDataset({ name, task: 'regression', sampleShape, x, y: new Float32Array(n), targetSize: 1 });
}

async function open(m: ModelUnderTest, threads: number | undefined, ctx?: Ctx): Promise<Session> {
  return createSession(m.path ?? m.model, { ...(threads !== undefined ? { threads } : {}), label: m.name }, ctx);
}

function staticFacts(m: ModelUnderTest) {
  const sizes = modelSizes(m.model);
  return {
    bytes: m.diskBytes ?? sizes.bytes,
    gzipBytes: sizes.gzipBytes,
    params: countParams(m.model),
    macs: countMacs(m.model),
    ops: countOps(m.model),
  };
}

/** Everything Shrink measures about one model, in one session. */
export async function profileModel(m: ModelUnderTest, opts: ProfileOptions = {}, ctx?: Ctx): Promise<ModelProfile> {
  const session = await open(m, opts.threads ?? ctx?.threads, ctx);
  try {
    const set = await feedSetFor(session, m.model, { ...opts, batch: opts.batch ?? 1 });
    return await profileSession(m, session, set, opts, ctx);
  } finally {
    await session.release();
  }
}

/** The profile of `m` on an open session of it, measured on `set` (or on the data / classic synthetic feeds). */
async function profileSession(
  m: ModelUnderTest,
  session: Session,
  set: FeedSet | undefined,
  opts: ProfileOptions,
  ctx: Ctx | undefined,
): Promise<ModelProfile> {
  const batch = opts.batch ?? 1;
  const feeds = set ? set.samples[0]! : latencyFeeds(session, batch, opts.data, opts.seed);
  const latency = await measureLatency(session, feeds, latencyOpts(opts, batch), ctx).catch((e: unknown) => {
    throw madeUpInputs(e, set);
  });
  const energy = await measureEnergy(
    session,
    feeds,
    { latency, ...(opts.gridIntensity !== undefined ? { gridIntensity: opts.gridIntensity } : {}) },
    ctx,
  );
  const quality = opts.data && !opts.data.unlabeled ? await evaluate(session, opts.data, { batch: opts.evalBatch ?? 64 }, ctx) : undefined;
  return { name: m.name, ...(m.path ? { path: m.path } : {}), ...staticFacts(m), latency, energy, ...(quality ? { quality } : {}) };
}

/**
 * A model that fails on inputs Shrink made up may only want other values (a sample rate of 8000 or
 * 16000, a longer waveform): the error says what the inputs were and that real ones can be given.
 */
function madeUpInputs(e: unknown, set: FeedSet | undefined): unknown {
  if (!isShrinkError(e) || e.code !== 'RUNTIME' || set?.synthetic !== true) return e;
  return new ShrinkError(
    'RUNTIME',
    `${e.message}; it ran on ${set.name}: give the model real inputs (a feeds file, or single inputs by name)`,
    {
      option: 'data',
      cause: e,
    },
  );
}

function latencyOpts(opts: ProfileOptions, batch: number) {
  return {
    batch,
    ...(opts.warmup !== undefined ? { warmup: opts.warmup } : {}),
    ...(opts.runs !== undefined ? { runs: opts.runs } : {}),
    ...(opts.maxTimeMs !== undefined ? { maxTimeMs: opts.maxTimeMs } : {}),
  };
}

// A quantized model has the same weights in another dtype: count them, or "parameters" would fall 99 %.
const weightCount = (p: ModelProfile) => p.params.params + p.params.quantized;
const nonZeroCount = (p: ModelProfile) => p.params.nonZero + p.params.quantizedNonZero;

/** The report rows of a profile (baseline column only), e.g. for `shrink demo` before any compression. */
export function profileMetrics(p: ModelProfile, vs?: ModelProfile, paired?: LatencyComparison): Record<string, MetricValue> {
  return namingModel(p, vs, () => rowsOf(p, vs, paired));
}

/**
 * Runs `build`; a NaN/Infinity metric (NonFiniteMetricError) becomes one line naming the model it came
 * from, the metric, and why: a model whose outputs are NaN or infinite gives NaN accuracy and fidelity.
 */
function namingModel<T>(
  candidate: { name: string; path?: string },
  baseline: { name: string; path?: string } | undefined,
  build: () => T,
): T {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof NonFiniteMetricError)) throw e;
    const side = e.side === 'baseline' ? 'baseline' : 'candidate';
    const m = side === 'baseline' && baseline ? baseline : candidate;
    throw new ShrinkError(
      'INVALID_MODEL',
      `${side} model ${m.name}: metric ${e.metric ?? '(unnamed)'}${e.side === 'ratio' ? ' ratio' : ''} is ${e.value} — the model computes non-finite outputs (NaN or Infinity) on the measurement inputs, so it cannot be measured`,
    );
  }
}

function rowsOf(p: ModelProfile, vs: ModelProfile | undefined, paired: LatencyComparison | undefined): Record<string, MetricValue> {
  const latencyMethod = paired?.method ?? p.latency.method;
  // Rows computed from the median run time take their ratio from the paired runs, as latency p50 does: two
  // medians measured minutes apart on a loaded machine can disagree with the interleaved pairs (a slower
  // model once showed 4x the throughput), and a ratio against its delta makes the row 'same', never 'better'.
  const timeRatio = vs ? paired?.ratio.p50 : undefined;
  const fromTime =
    timeRatio !== undefined &&
    p.energy.method === 'cpu-power-model' &&
    vs?.energy.method === 'cpu-power-model' &&
    p.energy.watts === vs.energy.watts;
  const energyRatio = fromTime ? { ratio: timeRatio } : {};
  const pairedNote = timeRatio !== undefined ? '; ratio from the interleaved pairs (latency p50)' : '';
  const rows: Record<string, MetricValue> = {
    'size.bytes': metric('size.bytes', vs?.bytes, p.bytes),
    'size.gzipBytes': metric('size.gzipBytes', vs?.gzipBytes, p.gzipBytes, { method: 'gzip level 9 of the ONNX encoding' }),
    params: metric('params', vs ? weightCount(vs) : undefined, weightCount(p), {
      method: 'every weight: float elements plus quantized weight codes; quantization scales and zero points are not parameters',
    }),
    'params.nonzero': metric('params.nonzero', vs ? nonZeroCount(vs) : undefined, nonZeroCount(p), {
      method: 'non-zero float elements plus quantized codes other than their zero point (a pruned weight is zero in any dtype)',
    }),
    macs: metric('macs', vs?.macs.total, p.macs.total, {
      method: describeMacs(p.macs),
    }),
    'latency.p50': metric('latency.p50', vs?.latency.p50, p.latency.p50, {
      method: latencyMethod,
      ...(paired ? { ratio: paired.ratio.p50 } : {}),
    }),
    'latency.p90': metric('latency.p90', vs?.latency.p90, p.latency.p90, { method: latencyMethod }),
    throughput: metric('throughput', vs?.latency.throughputPerSec, p.latency.throughputPerSec, {
      method: `${latencyMethod}; throughput = batch × 1000 / median (p50) run time in ms${pairedNote}`,
      ...(timeRatio !== undefined ? { ratio: 1 / timeRatio } : {}),
    }),
    'energy.perInference': metric('energy.perInference', vs?.energy.joulesPerInference, p.energy.joulesPerInference, {
      method: `${p.energy.note}${fromTime ? pairedNote : ''}`,
      ...energyRatio,
    }),
    'energy.kWhPerMillion': metric('energy.kWhPerMillion', vs?.energy.kWhPerMillion, p.energy.kWhPerMillion, {
      method: `${p.energy.method}${fromTime ? pairedNote : ''}`,
      ...energyRatio,
    }),
    'co2e.perMillion': metric('co2e.perMillion', vs?.energy.gCO2ePerMillion, p.energy.gCO2ePerMillion, {
      method: `energy x ${p.energy.gridIntensity} gCO2e/kWh${fromTime ? pairedNote : ''}`,
      ...energyRatio,
    }),
  };
  const q = p.quality;
  const vq = vs?.quality;
  if (q?.task === 'classification') {
    rows['accuracy'] = metric('accuracy', vq?.task === 'classification' ? vq.accuracy : undefined, q.accuracy, {
      method: `top-1 on ${q.n} samples`,
    });
  } else if (q?.task === 'regression') {
    rows['mse'] = metric('mse', vq?.task === 'regression' ? vq.mse : undefined, q.mse, { method: `on ${q.n} samples` });
    rows['mae'] = metric('mae', vq?.task === 'regression' ? vq.mae : undefined, q.mae, { method: `on ${q.n} samples` });
  }
  return rows;
}

/** Which output the cosine row stands for when a model has several: the worst one is what the row shows. */
function cosineMethod(fid: FidelityResult): string | undefined {
  if (fid.outputs.length === 1) return undefined;
  const worst = fid.outputs.reduce((w, o) => (o.cosineSimilarity < w.cosineSimilarity ? o : w));
  return `worst of ${fid.outputs.length} outputs (${fid.outputs.map((o) => `'${o.name}' ${o.cosineSimilarity.toFixed(4)}`).join(', ')}): '${worst.name}'; other outputs compared as one vector over all samples`;
}

function cosineOpts(fid: FidelityResult): { method?: string } {
  const method = cosineMethod(fid);
  return method === undefined ? {} : { method };
}

export interface Comparison {
  report: Report;
  baseline: ModelProfile;
  candidates: Array<{ profile: ModelProfile; latency: LatencyComparison; fidelity?: FidelityResult }>;
}

/**
 * Baseline against each candidate: static facts, quality and fidelity on the data, and latency measured
 * interleaved with the baseline in one run (the paired ratio is what the report's latency ratio says).
 */
export async function compareModels(
  baseline: ModelUnderTest,
  candidates: readonly ModelUnderTest[],
  opts: ProfileOptions = {},
  ctx?: Ctx,
): Promise<Comparison> {
  const threads = opts.threads ?? ctx?.threads;
  const batch = opts.batch ?? 1;
  const baseSession = await open(baseline, threads, ctx);
  const out: Comparison['candidates'] = [];
  const reports: CandidateReport[] = [];
  let set: FeedSet | undefined;
  let base: ModelProfile;
  try {
    set = await feedSetFor(baseSession, baseline.model, { ...opts, batch });
    // One session and one feed set (a feeds file read, synthetic samples made) serve the profile and the pairs.
    base = await profileSession(baseline, baseSession, set, opts, ctx);
    const feeds = set ? set.samples[0]! : latencyFeeds(baseSession, batch, opts.data, opts.seed);
    for (const c of candidates) {
      const session = await open(c, threads, ctx);
      try {
        const candFeeds = set ? feeds : latencyFeeds(session, batch, opts.data, opts.seed);
        const latency = await compareLatency(baseSession, session, feeds, candFeeds, latencyOpts(opts, batch), ctx);
        // Both energies from the same interleaved run, so their ratio is as fair as the latency ratio.
        const grid = opts.gridIntensity !== undefined ? { gridIntensity: opts.gridIntensity } : {};
        const energy = await measureEnergy(session, candFeeds, { latency: latency.b, ...grid }, ctx);
        const baseEnergy = await measureEnergy(baseSession, feeds, { latency: latency.a, ...grid }, ctx);
        const quality =
          opts.data && !opts.data.unlabeled ? await evaluate(session, opts.data, { batch: opts.evalBatch ?? 64 }, ctx) : undefined;
        const fid = set
          ? await fidelityOnFeeds(baseSession, session, set, ctx)
          : await fidelity(
              baseSession,
              session,
              opts.data ?? syntheticDataset(baseSession, 64, opts.seed),
              { batch: opts.evalBatch ?? 64 },
              ctx,
            );
        const on = opts.data
          ? `${fid.n} samples of ${opts.data.name}`
          : set
            ? fid.n < set.samples.length
              ? `the first ${fid.n} of ${set.name}, as many as fit the comparison's time budget`
              : set.name
            : `${fid.n} synthetic inputs`;
        const profile: ModelProfile = {
          name: c.name,
          ...(c.path ? { path: c.path } : {}),
          ...staticFacts(c),
          latency: latency.b,
          energy,
          ...(quality ? { quality } : {}),
        };
        const metrics = profileMetrics(profile, { ...base, latency: latency.a, energy: baseEnergy }, latency);
        // Inputs on which the baseline computes nothing cannot tell two models apart: no fidelity rows, and
        // the guard says it could not judge rather than passing a model nobody checked.
        const blind = fid.baselineSilent
          ? `the baseline's output${set ? 's are' : ` '${fid.outputs[0]!.name}' is`} ${fid.baselineSilence ?? 'all zeros'} on ${on}, so they cannot tell the models apart${opts.data || (set && !set.synthetic) ? '' : '; give real inputs with --data (a dataset or a feeds file)'}`
          : undefined;
        if (!blind)
          namingModel(profile, base, () => {
            if (fid.top1Agreement !== undefined)
              metrics['fidelity.top1Agreement'] = metric('fidelity.top1Agreement', undefined, fid.top1Agreement);
            metrics['fidelity.maxAbsError'] = metric('fidelity.maxAbsError', undefined, fid.maxAbsError, {
              method: `vs baseline on ${on}`,
            });
            metrics['fidelity.relativeL2'] = metric('fidelity.relativeL2', undefined, fid.relativeL2, {
              method: `||candidate - baseline|| / ||baseline||, worst output, on ${on}`,
            });
            metrics['fidelity.cosineSimilarity'] = metric('fidelity.cosineSimilarity', undefined, fid.cosineSimilarity, cosineOpts(fid));
            if (fid.meanKL !== undefined) {
              metrics['fidelity.meanKL'] = metric('fidelity.meanKL', undefined, fid.meanKL, {
                method: 'mean over samples of KL(baseline || candidate); logits go through a softmax first',
              });
            }
          });
        out.push({ profile, latency, fidelity: fid });
        const guard =
          opts.floors !== false && c.guard !== false
            ? checkFloors(metrics, opts.floors ?? DEFAULT_FLOORS, {
                synthetic: !opts.data && (set === undefined || set.synthetic),
                ...(blind ? { unjudged: blind } : {}),
              })
            : undefined;
        reports.push({ name: c.name, ...(c.path ? { path: c.path } : {}), metrics, ...(guard ? { guard } : {}) });
      } finally {
        await session.release();
      }
    }
  } finally {
    await baseSession.release();
  }
  const report = createReport({
    baseline: { name: baseline.name, ...(baseline.path ? { path: baseline.path } : {}) },
    candidates: reports,
    environment: collectEnvironment(threads !== undefined ? { threads } : {}),
    notes: opts.data
      ? [`data: ${opts.data.name} (${opts.data.n} samples)`]
      : set && !set.synthetic
        ? [`inputs: ${set.name}; latency on the first, no accuracy (no labels)`]
        : set
          ? [`no data given: latency and fidelity on ${set.name}, no accuracy`]
          : ['no data given: latency and fidelity on seeded synthetic inputs, no accuracy'],
  });
  return { report, baseline: base, candidates: out };
}
