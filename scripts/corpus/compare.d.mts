// Types of compare.mjs for the TypeScript bench and tests.
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number;
export function compareOutputs(
  baseline: string,
  candidate: string,
  samples: readonly string[],
): Promise<{ perOutput: Record<string, number>; worst: number }>;
