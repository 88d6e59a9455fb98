/**
 * Results of the costly data-driven steps (GPTQ's blocks, measured sensitivities), kept per input model
 * object: the speed guard and the fidelity floor run the pass again on the same model with more nodes
 * excluded, and a weight's blocks or its measured error do not depend on which others are excluded.
 * Weakly held: the memo goes with the model.
 */
const memo = new WeakMap<object, Map<string, unknown>>();

export async function perModel<T>(model: object, key: string, compute: () => Promise<T>): Promise<T> {
  let byKey = memo.get(model);
  if (!byKey) {
    byKey = new Map();
    memo.set(model, byKey);
  }
  if (byKey.has(key)) return byKey.get(key) as T;
  const value = await compute();
  byKey.set(key, value);
  return value;
}
