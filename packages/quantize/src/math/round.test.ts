import assert from 'node:assert/strict';
import test from 'node:test';
import { roundHalfEven } from './round.js';

test('roundHalfEven sends halves to the even neighbour (numpy / onnxruntime), others to the nearest', () => {
  const cases: Array<[number, number]> = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [-0.5, 0],
    [-1.5, -2],
    [-2.5, -2],
    [-3.5, -4],
    [2.4, 2],
    [2.6, 3],
    [-2.4, -2],
    [-2.6, -3],
    [127.5, 128],
    [126.5, 126],
    [0, 0],
    [7, 7],
    [-7, -7],
    [0.49999999999999994, 0],
    [2 ** 53, 2 ** 53],
  ];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, `round(${x})`);
  assert.ok(Object.is(roundHalfEven(-0.4), 0), 'no negative zero');
});
