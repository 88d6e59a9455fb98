/** The corpus models the test suite uses (see test-set.mjs). */
export const TEST_CORPUS: readonly string[];
