import { ShrinkError } from '@shrink/core';
import { DEFAULT_GRID_INTENSITY } from '@shrink/core/runtime';

/**
 * Carbon intensity of electricity by region code, g CO2e/kWh, rounded annual averages (Ember / Our World
 * in Data, 2023). Coarse on purpose: a grid's hourly intensity varies by a factor of two or more, so a
 * precise figure needs `evaluation.gridIntensity` from the operator's own source.
 */
export const GRID_INTENSITY_BY_REGION: Readonly<Record<string, number>> = {
  WORLD: DEFAULT_GRID_INTENSITY,
  EU: 244,
  US: 369,
  CA: 128,
  GB: 238,
  DE: 381,
  FR: 56,
  NL: 268,
  PL: 662,
  SE: 41,
  NO: 31,
  IE: 283,
  ES: 174,
  IT: 331,
  CN: 582,
  IN: 713,
  JP: 485,
  KR: 432,
  AU: 549,
  BR: 98,
};

/** The grid intensity a config asks for: a number, a region code, or neither (core's default applies). */
export function gridIntensityOf(
  e: { gridIntensity?: number | undefined; region?: string | undefined },
  where: string,
): { value?: number; source?: string } {
  if (e.gridIntensity !== undefined && e.region !== undefined) {
    throw new ShrinkError('INVALID_CONFIG', `${where}evaluation: give gridIntensity or region, not both`);
  }
  if (e.gridIntensity !== undefined) return { value: e.gridIntensity, source: `${e.gridIntensity} g CO2e/kWh (given)` };
  if (e.region === undefined) return {};
  const code = e.region.toUpperCase();
  const v = Object.hasOwn(GRID_INTENSITY_BY_REGION, code) ? GRID_INTENSITY_BY_REGION[code] : undefined;
  if (v === undefined) {
    throw new ShrinkError(
      'INVALID_CONFIG',
      `${where}evaluation.region: unknown region ${JSON.stringify(e.region)}; known: ${Object.keys(GRID_INTENSITY_BY_REGION).join(', ')} (or set evaluation.gridIntensity in g CO2e/kWh)`,
    );
  }
  const from = code === 'WORLD' ? "CodeCarbon's world average" : 'annual average, Ember/OWID 2023, rounded';
  return { value: v, source: `${v} g CO2e/kWh for region ${code} (${from})` };
}
