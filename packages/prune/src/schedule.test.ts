import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShrinkError } from '@shrink/core';
import { isPruningStep, sparsityAt, type CubicSchedule } from './schedule.js';

const cubic: CubicSchedule = { kind: 'cubic', initialSparsity: 0.1, finalSparsity: 0.9, beginStep: 10, frequency: 5, pruningSteps: 4 };
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test('cubic: s_i before t0, s_f from t0 + n*dt, the cubic at pruning steps, held in between', () => {
  close(sparsityAt(cubic, 0), 0.1);
  close(sparsityAt(cubic, 9), 0.1);
  close(sparsityAt(cubic, 10), 0.1); // (1 - 0/4)^3 = 1
  // t = 15: 0.9 + (0.1 - 0.9) * (3/4)^3 = 0.9 - 0.8 * 0.421875 = 0.5625
  close(sparsityAt(cubic, 15), 0.5625);
  close(sparsityAt(cubic, 19), 0.5625);
  // t = 20: 0.9 - 0.8 * 0.125 = 0.8; t = 25: 0.9 - 0.8 / 64 = 0.8875
  close(sparsityAt(cubic, 20), 0.8);
  close(sparsityAt(cubic, 25), 0.8875);
  close(sparsityAt(cubic, 30), 0.9);
  close(sparsityAt(cubic, 1000), 0.9);
});

test('constant: the same sparsity at every step; masks re-chosen every frequency steps', () => {
  const c = { kind: 'constant', sparsity: 0.75, frequency: 3 } as const;
  for (const t of [0, 1, 7, 1e6]) assert.equal(sparsityAt(c, t), 0.75);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((t) => isPruningStep(c, t)),
    [true, false, false, true, false, false, true],
  );
});

test('cubic pruning steps are t0, t0 + dt, ..., t0 + n*dt only', () => {
  const steps = Array.from({ length: 40 }, (_, t) => t).filter((t) => isPruningStep(cubic, t));
  assert.deepEqual(steps, [10, 15, 20, 25, 30]);
});

test('bad schedules get INVALID_CONFIG naming the field', () => {
  const bad: [object, RegExp][] = [
    [{ ...cubic, finalSparsity: 1 }, /finalSparsity 1 must be in \[0, 1\)/],
    [{ ...cubic, initialSparsity: -0.1 }, /initialSparsity/],
    [{ ...cubic, frequency: 0 }, /frequency 0 must be an integer >= 1/],
    [{ ...cubic, pruningSteps: 1.5 }, /pruningSteps/],
    [{ kind: 'constant', sparsity: Number.NaN, frequency: 1 }, /sparsity NaN/],
    [{ kind: 'linear' }, /kind 'linear' must be 'cubic' or 'constant'/],
  ];
  for (const [s, re] of bad) {
    assert.throws(
      () => sparsityAt(s as CubicSchedule, 0),
      (e: unknown) => e instanceof ShrinkError && e.code === 'INVALID_CONFIG' && re.test(e.message),
    );
  }
});
