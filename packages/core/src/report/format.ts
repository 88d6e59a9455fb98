/** Human-readable numbers for the table and Markdown renderers. Sizes use SI prefixes (1 KB = 1000 B). */
import { METRICS, type Environment, type MetricDef, type MetricValue, type TargetReport, type Unit } from './report.js';

/** 3 significant digits without exponent for |x| in [1e-3, 1e6); exponent notation outside. */
function sig(x: number, digits = 3): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toPrecision(digits);
  // Trailing zeros are kept ("1.20"): a fixed number of significant digits reads better in a column.
  const r = Number(x.toPrecision(digits)); // round first so 9.996 becomes 10.0, not 10.00
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(r))));
  return r.toFixed(decimals);
}

/** Scales x into the largest prefix whose rounded value is >= 1 (e.g. 999 999 B -> "1.00 MB", not "1000 KB"). */
function scaled(x: number, steps: ReadonlyArray<readonly [number, string]>): string {
  const a = Math.abs(x);
  for (let i = steps.length - 1; i >= 0; i--) {
    const [factor, suffix] = steps[i]!;
    if (a >= factor * 0.9995 || i === 0) return `${sig(x / factor)}${suffix}`;
  }
  return sig(x);
}

const BYTES = [
  [1, ' B'],
  [1e3, ' KB'],
  [1e6, ' MB'],
  [1e9, ' GB'],
  [1e12, ' TB'],
] as const;
const COUNT = [
  [1, ''],
  [1e3, ' k'],
  [1e6, ' M'],
  [1e9, ' G'],
  [1e12, ' T'],
] as const;
const MS = [
  [1e-6, ' ns'],
  [1e-3, ' µs'],
  [1, ' ms'],
  [1e3, ' s'],
] as const;
const JOULES = [
  [1e-9, ' nJ'],
  [1e-6, ' µJ'],
  [1e-3, ' mJ'],
  [1, ' J'],
  [1e3, ' kJ'],
  [1e6, ' MJ'],
] as const;
const KWH = [
  [1e-9, ' µWh'],
  [1e-6, ' mWh'],
  [1e-3, ' Wh'],
  [1, ' kWh'],
  [1e3, ' MWh'],
] as const;
const GRAMS = [
  [1e-6, ' µg CO2e'],
  [1e-3, ' mg CO2e'],
  [1, ' g CO2e'],
  [1e3, ' kg CO2e'],
  [1e6, ' t CO2e'],
] as const;

export function formatValue(x: number, unit: Unit): string {
  switch (unit) {
    case 'bytes':
      return Math.abs(x) < 1000 && Number.isInteger(x) ? `${x} B` : scaled(x, BYTES);
    case 'count':
      return Math.abs(x) < 1000 && Number.isInteger(x) ? `${x}` : scaled(x, COUNT);
    case 'ms':
      return scaled(x, MS);
    case 'samples/s':
      return `${scaled(x, COUNT)}/s`;
    case 'fraction':
      return `${(x * 100).toFixed(2)} %`;
    case '%':
      return `${x.toFixed(2)} %`;
    case 'J':
      return scaled(x, JOULES);
    case 'kWh':
      return scaled(x, KWH);
    case 'gCO2e':
      return scaled(x, GRAMS);
    case 'x':
      return `${sig(x)}×`;
    case '':
      return sig(x, 4);
    default:
      return `${sig(x, 4)} ${unit}`;
  }
}

function signed(s: string, x: number): string {
  return x > 0 ? `+${s}` : s;
}

/**
 * The change of a row: the delta in the row's unit (percentage points for fractions) and, relative to
 * a non-zero baseline, the same delta in percent, e.g. "-918 KB (-74.6 %)". The percent is the delta's,
 * not the ratio column's: a paired latency ratio is its own estimate and may differ (see verdict).
 */
export function formatChange(m: MetricValue): string {
  if (m.delta === undefined) return m.ratio === undefined ? '' : formatRatio(m.ratio);
  const d = m.unit === 'fraction' ? `${(m.delta * 100).toFixed(2)} pp` : formatValue(m.delta, m.unit);
  const abs = signed(d, m.delta);
  if (m.baseline === undefined || m.baseline === 0 || m.unit === 'fraction') return abs;
  const rel = (m.delta / Math.abs(m.baseline)) * 100;
  return `${abs} (${signed(rel.toFixed(1), rel)} %)`;
}

export function formatRatio(r: number): string {
  return `${sig(r)}×`;
}

/** The display label of a metric key: METRICS' label, or the key itself for metrics Shrink does not define. */
export function metricLabel(key: string): string {
  return (METRICS as Record<string, MetricDef>)[key]?.label ?? key;
}

const ENV_ORDER = [
  'shrink',
  'node',
  'platform',
  'arch',
  'cpuModel',
  'isa',
  'int8Kernels',
  'logicalCores',
  'threads',
  'onnxruntime',
] as const;

/** Environment entries in display order: the common fields first, then the rest alphabetically; undefined left out. */
export function environmentEntries(env: Environment): Array<[string, string | number | boolean]> {
  const common: readonly string[] = ENV_ORDER;
  const keys = [
    ...ENV_ORDER.filter((k) => env[k] !== undefined),
    ...Object.keys(env)
      .filter((k) => !common.includes(k) && env[k] !== undefined)
      .sort(),
  ];
  return keys.map((k) => [k, env[k]!]);
}

/**
 * The target in one line for every renderer: name (and what `cpu` was), runtime and version, this
 * machine's ISA, threads, and whether the numbers were measured there, e.g. "cpu (cpu-x86-avx512-vnni) ·
 * onnxruntime-node 1.30.0 · ISA avx512-vnni · 2 threads · measured on this machine".
 */
export function targetText(t: TargetReport): string {
  return [
    `${t.name}${t.resolved !== undefined ? ` (${t.resolved})` : ''}`,
    `${t.runtime}${t.runtimeVersion !== undefined ? ` ${t.runtimeVersion}` : ''}`,
    `ISA ${t.isa}`,
    t.threads !== undefined ? `${t.threads} thread${t.threads === 1 ? '' : 's'}` : 'threads: onnxruntime default',
    t.measurement,
  ].join(' · ');
}
