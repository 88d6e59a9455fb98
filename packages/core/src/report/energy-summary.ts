/** The energy and CO2e facts of a report in one place, for the Markdown section and the HTML panel. */
import { modelSeries } from './model-series.js';
import type { Report } from './report.js';

export interface EnergyRow {
  name: string;
  isBaseline: boolean;
  joulesPerInference?: number;
  kWhPerMillion?: number;
  gCO2ePerMillion?: number;
}

export interface EnergySummary {
  rows: EnergyRow[];
  /** Distinct methods of the energy and CO2e rows, in order of first use. */
  methods: string[];
  /** g CO2e per kWh the report's numbers imply (CO2e ÷ energy of one row); undefined without both. */
  gridIntensity?: number;
}

export const ENERGY_KEYS = ['energy.perInference', 'energy.kWhPerMillion', 'co2e.perMillion'] as const;

/** Undefined when the report has no energy or CO2e numbers at all. */
export function energySummary(report: Report): EnergySummary | undefined {
  const byName = new Map<string, EnergyRow>();
  const row = (name: string, isBaseline: boolean): EnergyRow => {
    const id = `${isBaseline ? 'b' : 'c'}:${name}`;
    let r = byName.get(id);
    if (r === undefined) byName.set(id, (r = { name, isBaseline }));
    return r;
  };
  const fields = {
    'energy.perInference': 'joulesPerInference',
    'energy.kWhPerMillion': 'kWhPerMillion',
    'co2e.perMillion': 'gCO2ePerMillion',
  } as const;
  for (const key of ENERGY_KEYS) for (const p of modelSeries(report, key)) row(p.name, p.isBaseline)[fields[key]] = p.value;
  if (byName.size === 0) return undefined;
  const methods: string[] = [];
  for (const c of report.candidates) {
    for (const key of ENERGY_KEYS) {
      const m = c.metrics[key]?.method;
      if (m !== undefined && !methods.includes(m)) methods.push(m);
    }
  }
  // Baseline first, then candidates in report order (Map keeps insertion order; the baseline is inserted first by modelSeries).
  const rows = [...byName.values()].sort((a, b) => Number(b.isBaseline) - Number(a.isBaseline));
  const both = rows.find((r) => r.kWhPerMillion !== undefined && r.kWhPerMillion > 0 && r.gCO2ePerMillion !== undefined);
  return { rows, methods, ...(both ? { gridIntensity: both.gCO2ePerMillion! / both.kWhPerMillion! } : {}) };
}
