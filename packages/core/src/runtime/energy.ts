/**
 * Energy per inference and CO2e per million inferences.
 *
 * Measured when the machine exposes Intel/AMD RAPL package counters (/sys/class/powercap/intel-rapl:N/
 * energy_uj, usually root-only since 2020), otherwise estimated with CodeCarbon's constant mode for a CPU
 * not in its TDP table (mlco2/codecarbon, codecarbon/external/hardware.py and ram.py): CPU power =
 * TDP × CONSUMPTION_PERCENTAGE_CONSTANT (0.5), plus its RAM power model (machine RAM in GiB → estimated
 * DIMMs × 5 W on x86, 1.5 W on ARM), energy = power × duration. Either way the result says which method
 * produced it and with which constants.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { arch, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Ctx } from '../context.js';
import { ShrinkError } from '../errors.js';
import { measureLatency, type LatencyOptions, type LatencyResult } from './latency.js';
import type { Feeds, Session } from './session.js';

/** CodeCarbon's POWER_CONSTANT: watts assumed per CPU socket when its model is not in their TDP table. */
export const DEFAULT_TDP_WATTS = 85;
/** CodeCarbon's CONSUMPTION_PERCENTAGE_CONSTANT: the share of TDP its constant mode assumes is drawn. */
export const CPU_TDP_SHARE = 0.5;
/** CodeCarbon's RAM_SLOT_POWER_X86: watts per DIMM on x86 (1.5 W and a 3 W floor on ARM). */
export const RAM_SLOT_POWER_X86 = 5;
const RAM_SLOT_POWER_ARM = 1.5;
const B_TO_GB = 1024 ** 3;
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
    entries = readdirSync(root)
      .filter((e) => /^intel-rapl:\d+$/.test(e))
      .sort();
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
      if (!Number.isFinite(energyUj) || !Number.isFinite(maxEnergyRangeUj))
        return { ok: false, reason: `${path}: unreadable counter values` };
      domains.push({ name, path, energyUj, maxEnergyRangeUj });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return {
        ok: false,
        reason: code === 'EACCES' ? `${path}/energy_uj is not readable (root only on most kernels)` : `${path}: ${code ?? String(err)}`,
      };
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
  /** Machine RAM in bytes (os.totalmem()); 0 leaves RAM out. */
  ramBytes?: number;
  /** ARM memory draws less per DIMM in CodeCarbon's model (default: process.arch is arm/arm64). */
  arm?: boolean;
}

/** CodeCarbon's DIMM-count heuristic (RAM._estimate_dimm_count) for `gb` GiB of RAM. */
export function estimateDimmCount(gb: number): number {
  if (gb <= 2) return 1;
  if (gb <= 16) return 2;
  if (gb <= 32) return 4;
  if (gb <= 64) return 4;
  if (gb <= 128) return 8;
  for (const size of [128, 64, 32, 16, 8, 4]) {
    if (size <= gb / 8) return Math.min(Math.ceil(gb / size), 32);
  }
  return 8;
}

/** CodeCarbon's RAM power (RAM._calculate_ram_power): watts per DIMM, tapering past 4, 8 and 16 DIMMs, with a floor. */
export function ramPowerWatts(bytes: number, arm = isArm()): number {
  if (!(Number.isFinite(bytes) && bytes >= 0))
    throw new ShrinkError('INVALID_ARGUMENT', `power model ramBytes must be a number >= 0, got ${bytes}`);
  if (bytes === 0) return 0;
  const n = estimateDimmCount(bytes / B_TO_GB);
  const w = arm ? RAM_SLOT_POWER_ARM : RAM_SLOT_POWER_X86;
  const floor = arm ? 3 : 2 * w;
  const total =
    n <= 4
      ? w * n
      : n <= 8
        ? w * 4 + w * 0.9 * (n - 4)
        : n <= 16
          ? w * 4 + w * 0.9 * 4 + w * 0.8 * (n - 8)
          : w * 4 + w * 0.9 * 4 + w * 0.8 * 8 + w * 0.7 * (n - 16);
  return Math.max(floor, total);
}

function isArm(): boolean {
  return /arm/.test(arch());
}

/** CPU watts in CodeCarbon's constant mode: half the TDP, per socket. */
export function cpuPowerWatts(m: Pick<PowerModel, 'tdpWatts' | 'sockets'> = {}): number {
  const tdp = m.tdpWatts ?? DEFAULT_TDP_WATTS;
  const sockets = m.sockets ?? 1;
  for (const [k, v] of [
    ['tdpWatts', tdp],
    ['sockets', sockets],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new ShrinkError('INVALID_ARGUMENT', `power model ${k} must be a positive number, got ${v}`);
  }
  return tdp * sockets * CPU_TDP_SHARE;
}

/** CPU plus RAM watts, as CodeCarbon adds its hardware's powers, and the note stating the constants. */
export function powerModel(m: PowerModel = {}): { watts: number; cpuWatts: number; ramWatts: number; note: string } {
  const cpuWatts = cpuPowerWatts(m);
  const ramBytes = m.ramBytes ?? totalmem();
  const ramWatts = ramPowerWatts(ramBytes, m.arm ?? isArm());
  const gb = ramBytes / B_TO_GB;
  const note =
    `CodeCarbon constant mode: CPU ${m.tdpWatts ?? DEFAULT_TDP_WATTS} W TDP${m.tdpWatts === undefined ? " (CodeCarbon's default for an unknown CPU)" : ''} × ${m.sockets ?? 1} socket(s) × ${CPU_TDP_SHARE} = ${Number(cpuWatts.toPrecision(4))} W` +
    ` + RAM ${gb.toFixed(1)} GiB → ${ramBytes === 0 ? 0 : estimateDimmCount(gb)} DIMM(s) × ${(m.arm ?? isArm()) ? RAM_SLOT_POWER_ARM : RAM_SLOT_POWER_X86} W (tapered, floored) = ${Number(ramWatts.toPrecision(4))} W`;
  return { watts: cpuWatts + ramWatts, cpuWatts, ramWatts, note };
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
  model: PowerModel = {},
  gridIntensity = DEFAULT_GRID_INTENSITY,
  why = '',
): EnergyResult {
  const power = powerModel(model);
  // The median run, not the mean: on a shared machine a few preempted runs would otherwise decide the
  // figure, and comparisons would follow the noise instead of the models.
  const joulesPerInference = (power.watts * latency.p50) / 1000 / latency.batch;
  const note =
    `cpu-power-model${why}: ${power.note} = ${Number(power.watts.toPrecision(4))} W; energy = power × median (p50) latency per sample ` +
    `(CodeCarbon's power × duration); CO2e at ${gridIntensity} g/kWh. The machine's power while this runs, not the model's share of it.`;
  return {
    method: 'cpu-power-model',
    joulesPerInference,
    watts: power.watts,
    gridIntensity,
    note,
    ...perMillion(joulesPerInference, gridIntensity),
  };
}

export interface EnergyOptions extends LatencyOptions {
  gridIntensity?: number;
  tdpWatts?: number;
  sockets?: number;
  /** Machine RAM in bytes for the RAM power (os.totalmem()). */
  ramBytes?: number;
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
  const model: PowerModel = {
    ...(opts.tdpWatts !== undefined ? { tdpWatts: opts.tdpWatts } : {}),
    ...(opts.sockets !== undefined ? { sockets: opts.sockets } : {}),
    ...(opts.ramBytes !== undefined ? { ramBytes: opts.ramBytes } : {}),
  };
  powerModel(model); // validates the model's numbers up front as well

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
          return {
            method: 'rapl',
            joulesPerInference,
            watts: joules / seconds,
            gridIntensity: grid,
            note,
            ...perMillion(joulesPerInference, grid),
          };
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
