import { ShrinkError } from '../errors.js';
import type { Task } from './dataset.js';

/** True when every value is a non-negative integer, i.e. could be a class index. */
export function areClassIndices(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isInteger(v) || v < 0) return false;
  }
  return values.length > 0;
}

/** Number of distinct values (for the "few distinct labels" rule). */
export function countDistinct(values: ArrayLike<number>): number {
  return new Set(Array.from(values)).size;
}

/**
 * Converts label values to class indices, refusing non-integers or negatives.
 * `where(i)` names the place of value i ("data.csv:12", "y[3]") for the error message.
 */
export function toClassIndices(
  values: ArrayLike<number>,
  source: string,
  where: (i: number) => string,
): { y: Int32Array; numClasses: number } {
  const y = new Int32Array(values.length);
  let max = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) {
      throw new ShrinkError(
        'INVALID_DATA',
        `${where(i)}: label ${v} is not a class index (a non-negative integer); pass task 'regression' if ${source} holds continuous targets`,
      );
    }
    y[i] = v;
    if (v > max) max = v;
  }
  return { y, numClasses: max + 1 };
}

/** Chooses the task for inferred data; `forced` (from the caller) always wins. */
export function chooseTask(forced: Task | undefined, looksLikeClasses: boolean): Task {
  return forced ?? (looksLikeClasses ? 'classification' : 'regression');
}
