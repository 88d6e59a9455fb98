import { ShrinkError } from '@shrink/core';

/** The same sparsity at every step (masks are still re-chosen every `frequency` steps). */
export interface ConstantSchedule {
  kind: 'constant';
  sparsity: number;
  /** Steps between mask updates. */
  frequency: number;
}

/**
 * Zhu & Gupta 2017, "To prune, or not to prune": s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt))^3,
 * evaluated only at the pruning steps t0, t0 + dt, ..., t0 + n*dt and held in between; s_i before t0,
 * s_f from t0 + n*dt on. Sparsity rises fast while weights are plentiful and slowly near the end.
 */
export interface CubicSchedule {
  kind: 'cubic';
  initialSparsity: number;
  finalSparsity: number;
  /** t0: first pruning step. */
  beginStep: number;
  /** dt: steps between pruning steps. */
  frequency: number;
  /** n: pruning steps after t0 until s_f is reached. */
  pruningSteps: number;
}

export type SparsitySchedule = ConstantSchedule | CubicSchedule;

function checkSparsity(key: string, s: number): void {
  if (!(Number.isFinite(s) && s >= 0 && s < 1)) {
    throw new ShrinkError('INVALID_CONFIG', `schedule ${key} ${s} must be in [0, 1)`);
  }
}

function checkCount(key: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) {
    throw new ShrinkError('INVALID_CONFIG', `schedule ${key} ${v} must be an integer >= ${min}`);
  }
}

/** Throws INVALID_CONFIG naming the first bad field. */
export function checkSchedule(schedule: SparsitySchedule): void {
  if (schedule.kind === 'constant') {
    checkSparsity('sparsity', schedule.sparsity);
    checkCount('frequency', schedule.frequency, 1);
    return;
  }
  if (schedule.kind !== 'cubic') {
    throw new ShrinkError(
      'INVALID_CONFIG',
      `schedule kind '${String((schedule as { kind: unknown }).kind)}' must be 'cubic' or 'constant'`,
    );
  }
  checkSparsity('initialSparsity', schedule.initialSparsity);
  checkSparsity('finalSparsity', schedule.finalSparsity);
  checkCount('beginStep', schedule.beginStep, 0);
  checkCount('frequency', schedule.frequency, 1);
  checkCount('pruningSteps', schedule.pruningSteps, 1);
}

/** Target sparsity in force at `step` (0-based optimizer step). */
export function sparsityAt(schedule: SparsitySchedule, step: number): number {
  checkSchedule(schedule);
  if (schedule.kind === 'constant') return schedule.sparsity;
  const { initialSparsity: si, finalSparsity: sf, beginStep: t0, frequency: dt, pruningSteps: n } = schedule;
  if (step < t0) return si;
  // The value holds from one pruning step to the next.
  const k = Math.min(n, Math.floor((step - t0) / dt));
  return sf + (si - sf) * (1 - k / n) ** 3;
}

/** Whether masks are re-chosen before `step`: every `frequency` steps (cubic: from t0 up to t0 + n*dt). */
export function isPruningStep(schedule: SparsitySchedule, step: number): boolean {
  if (schedule.kind === 'constant') return step % schedule.frequency === 0;
  const { beginStep: t0, frequency: dt, pruningSteps: n } = schedule;
  return step >= t0 && step <= t0 + n * dt && (step - t0) % dt === 0;
}
