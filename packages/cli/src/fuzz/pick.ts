import type { Rng } from '@shrink/core/data';

/** One element of `xs`, chosen by `rng` (every fuzz choice goes through the seeded rng: cases replay). */
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;
