/** Pareto fronts of search trials: the ones no other trial beats on both axes at once. */
export interface ParetoPoint {
  name: string;
  /** Lower is better (size, latency). */
  cost: number;
  /** Higher is better (accuracy). */
  quality: number;
}

/** Names on the front, cheapest first; ties on both axes all stay. */
export function paretoFront(points: readonly ParetoPoint[]): string[] {
  const dominated = (p: ParetoPoint) =>
    points.some((q) => q !== p && q.cost <= p.cost && q.quality >= p.quality && (q.cost < p.cost || q.quality > p.quality));
  return points
    .filter((p) => Number.isFinite(p.cost) && Number.isFinite(p.quality) && !dominated(p))
    .sort((a, b) => a.cost - b.cost || b.quality - a.quality)
    .map((p) => p.name);
}
