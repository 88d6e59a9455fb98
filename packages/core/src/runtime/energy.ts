/**
 * Energy per inference and CO2e per million inferences.
 *
 * Measured when the machine exposes Intel/AMD RAPL package counters (/sys/class/powercap/intel-rapl:N/
 * energy_uj, usually root-only since 2020), otherwise estimated with a CPU power model in the spirit of
 * CodeCarbon's constant mode. Either way the result says which method produced it and with which constants.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import { measureLatency, type LatencyOptions, type LatencyResult } from './latency.js';
import type { Feeds, Session } from './session.js';

/** CodeCarbon's POWER_CONSTANT: watts assumed per CPU socket when its model is not in their TDP table. */
export const DEFAULT_TDP_WATTS = 85;
/** World-average grid carbon intensity in g CO2e per kWh, CodeCarbon's default. */
export const DEFAULT_GRID_INTENSITY = 475;
const J_PER_KWH = 3.6e6;

export interface RaplDomain {
  /** e.g. "package-0". */
  readonly name: string;
  readonly path: string;
  readonly energyUj: number;
  /** Counter range: energy_uj wraps to 0 after reaching it. */
  readonly maxEnergyRangeUj: number;
}

export type RaplReading = { readonly ok: true; readonly domains: readonly RaplDomain[] } | { readonly ok: false; readonly reason: string };

/**
 * Package-level RAPL counters (intel-rapl:N, not the core/dram subzones intel-rapl:N:M, which the
 * package already contains; not psys, which contains the packages).
 */
export function readRapl(root = '/sys/class/powercap'): RaplReading {
  let entries: string[];
  try {
    entries = readdirSync(root).filter((e) => /^intel-rapl:\d+$/.test(e)).sort();
  } catch {
    return { ok: false, reason: `${root} does not exist` };
  }
  if (entries.length === 0) return { ok: false, reason: `no intel-rapl package zones under ${root}` };
  const domains: RaplDomain[] = [];
  for (const e of entries) {
    const path = join(root, e);
    try {
      const name = readFileSync(join(path, 'name'), 'utf8').trim();
      if (!name.startsWith('package')) continue;
      const energyUj = Number(readFileSync(join(path, 'energy_uj'), 'utf8').trim());
      const maxEnergyRangeUj = Number(readFileSync(join(path, 'max_energy_range_uj'), 'utf8').trim());
      if (!Number.isFinite(energyUj) || !Number.isFinite(maxEnergyRangeUj)) return { ok: false, reason: `${path}: unreadable counter values` };
      domains.push({ name, path, energyUj, maxEnergyRangeUj });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, reason: code === 'EACCES' ? `${path}/energy_uj is not readable (root only on most kernels)` : `${path}: ${code ?? String(err)}` };
    }
  }
  if (domains.length === 0) return { ok: false, reason: `no package-* zone under ${root}` };
  return { ok: true, domains };
}

/** Joules between two readings, summed over packages; a counter that went down wrapped once past its range. */
export function raplJoules(before: readonly RaplDomain[], after: readonly RaplDomain[]): number {
  let uj = 0;
  for (const b of before) {
    const a = after.find((d) => d.path === b.path);
    if (!a) throw new ShrinkError('RUNTIME', `RAPL zone ${b.path} disappeared between readings`);
    uj += a.energyUj >= b.energyUj ? a.energyUj - b.energyUj : a.energyUj + b.maxEnergyRangeUj - b.energyUj;
  }
  return uj / 1e6;
}

export interface PowerModel {
  /** TDP per socket, W (85, CodeCarbon's default for an unknown CPU). */
  tdpWatts?: number;
  sockets?: number;
  /** Threads kept busy by inference. */
  threads: number;
  logicalCores: number;
}

/** Watts drawn by inference: the busy threads' share of the CPUs' TDP. */
export function cpuPowerWatts(m: PowerModel): number {
  const tdp = m.tdpWatts ?? DEFAULT_TDP_WATTS;
  const sockets = m.sockets ?? 1;
  for (const [k, v] of [['tdpWatts', tdp], ['sockets', sockets], ['threads', m.threads], ['logicalCores', m.logicalCores]] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new ShrinkError('INVALID_ARGUMENT', `power model ${k} must be a positive number, got ${v}`);
  }
  return (tdp * sockets * Math.min(m.threads, m.logicalCores)) / m.logicalCores;
}

export interface PerMillion {
  readonly kWhPerMillion: number;
  readonly gCO2ePerMillion: number;
}

/** kWh and g CO2e for a million inferences of `joulesPerInference` at `gridIntensity` g/kWh. */
export function perMillion(joulesPerInference: number, gridIntensity = DEFAULT_GRID_INTENSITY): PerMillion {
  if (!(Number.isFinite(gridIntensity) && gridIntensity >= 0)) {
    throw new ShrinkError('INVALID_ARGUMENT', `grid intensity must be a number of g CO2e/kWh >= 0, got ${gridIntensity}`);
  }
  const kWhPerMillion = (joulesPerInference * 1e6) / J_PER_KWH;
  return { kWhPerMillion, gCO2ePerMillion: kWhPerMillion * gridIntensity };
}

export interface EnergyResult extends PerMillion {
  readonly method: 'rapl' | 'cpu-power-model';
  readonly joulesPerInference: number;
  /** Average watts over the measurement (RAPL) or the model's watts. */
  readonly watts: number;
  readonly gridIntensity: number;
  /** The constants and assumptions behind the numbers, for the report. */
  readonly note: string;
}

/** Energy from the power model for a measured latency (ms per run of `batch` samples). */
export function modelEnergy(
  latency: Pick<LatencyResult, 'p50' | 'batch'>,
  model: PowerModel,
  gridIntensity = DEFAULT_GRID_INTENSITY,
  why = '',
): EnergyResult {
  const watts = cpuPowerWatts(model);
  // The median run, not the mean: on a shared machine a few preempted runs would otherwise decide the
  // figure, and comparisons would follow the noise instead of the models.
  const joulesPerInference = (watts * latency.p50) / 1000 / latency.batch;
  const tdp = model.tdpWatts ?? DEFAULT_TDP_WATTS;
  const sockets = model.sockets ?? 1;
  const note =
    `cpu-power-model${why}: ${tdp} W TDP per socket${model.tdpWatts === undefined ? " (CodeCarbon's default for an unknown CPU)" : ''} × ${sockets} socket(s) × ` +
    `${Math.min(model.threads, model.logicalCores)}/${model.logicalCores} logical cores busy = ${watts.toPrecision(3)} W; ` +
    `energy = power × median (p50) latency per sample; CO2e at ${gridIntensity} g/kWh. Upper-bound estimate: CodeCarbon's constant mode ` +
    'assumes 50 % of TDP for an unknown load, here the busy threads are counted at full TDP share.';
  return { method: 'cpu-power-model', joulesPerInference, watts, gridIntensity, note, ...perMillion(joulesPerInference, gridIntensity) };
}

export interface EnergyOptions extends LatencyOptions {
  gridIntensity?: number;
  tdpWatts?: number;
  sockets?: number;
  /** Threads busy during inference; the session's intra-op threads, else every logical core. */
  threads?: number;
  logicalCores?: number;
  /** Where RAPL lives (tests point it at a fixture); `false` skips RAPL. */
  raplRoot?: string | false;
  /** Shortest RAPL measurement, so the counters (updated about every ms) advance enough (300 ms). */
  minRaplMs?: number;
  /** A latency already measured for these feeds, reused by the power model instead of measuring again. */
  latency?: LatencyResult;
}

/** Energy per inference of `session` on `feeds`: RAPL when readable, else the CPU power model. */
export async function measureEnergy(session: Session, feeds: Feeds, opts: EnergyOptions = {}, ctx?: Ctx): Promise<EnergyResult> {
  const grid = opts.gridIntensity ?? DEFAULT_GRID_INTENSITY;
  perMillion(0, grid); // validates the intensity before any measuring
  const logicalCores = opts.logicalCores ?? availableParallelism();
  const threads = opts.threads ?? session.threads ?? logicalCores;
  const model: PowerModel = { threads, logicalCores, ...(opts.tdpWatts !== undefined ? { tdpWatts: opts.tdpWatts } : {}), ...(opts.sockets !== undefined ? { sockets: opts.sockets } : {}) };
  cpuPowerWatts(model); // validates the model's numbers up front as well

  let why = '';
  if (opts.raplRoot !== false) {
    const root = opts.raplRoot ?? '/sys/class/powercap';
    const before = readRapl(root);
    if (before.ok) {
      const ortFeeds = session.toOrtFeeds(feeds);
      const batch = opts.batch ?? Object.values(ortFeeds)[0]?.dims[0] ?? 1;
      for (let i = 0; i < (opts.warmup ?? 5); i++) await session.ort.run(ortFeeds);
      const minMs = opts.minRaplMs ?? 300;
      const start = readRapl(root);
      const t0 = performance.now();
      let runs = 0;
      while (runs < (opts.runs ?? 50) || performance.now() - t0 < minMs) {
        ctx?.signal?.throwIfAborted();
        await session.ort.run(ortFeeds);
        runs++;
      }
      const seconds = (performance.now() - t0) / 1000;
      const end = readRapl(root);
      if (start.ok && end.ok) {
        const joules = raplJoules(start.domains, end.domains);
        if (joules > 0) {
          const joulesPerInference = joules / (runs * batch);
          const note =
            `rapl: package energy counters (${start.domains.map((d) => d.name).join(', ')}) over ${runs} runs of batch ${batch} in ${seconds.toFixed(2)} s; ` +
            `includes the package's idle power and any other load on the machine; CO2e at ${grid} g/kWh.`;
          return { method: 'rapl', joulesPerInference, watts: joules / seconds, gridIntensity: grid, note, ...perMillion(joulesPerInference, grid) };
        }
        why = ' (RAPL counters did not advance)';
      } else {
        why = ` (RAPL: ${!start.ok ? start.reason : !end.ok ? end.reason : ''})`;
      }
    } else {
      why = ` (no RAPL: ${before.reason})`;
    }
  }
  const latency = opts.latency ?? (await measureLatency(session, feeds, opts, ctx));
  return modelEnergy(latency, model, grid, why);
}
