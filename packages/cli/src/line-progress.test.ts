// Without a terminal (CI logs) progress is plain lines: nothing for quick steps (a refusal stays one line on
// stderr), a "still running" line with the count for long ones, and an end line for a long step that ticked
// only once at its end (the synchronous quantizers do).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineProgress } from './progress.js';

function capture(run: () => void): string[] {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    run();
  } finally {
    process.stderr.write = write;
  }
  return lines;
}

test('a quick step prints nothing; a step with something to say prints it', () => {
  let t = 0;
  const p = lineProgress(() => t);
  assert.deepEqual(
    capture(() => {
      p.start('quantizing', 10);
      t = 900;
      p.tick(10);
      p.stop();
    }),
    [],
  );
  assert.deepEqual(
    capture(() => {
      p.start('epoch', 3);
      p.tick(1, 'loss 0.42');
      p.stop();
    }),
    ['epoch 1/3: loss 0.42\n'],
  );
});

test('a long step prints its count at 5 s and every 10 s after, and a long step that never ticked says when it ended', () => {
  let t = 0;
  const p = lineProgress(() => t);
  const lines = capture(() => {
    p.start('timing', 100);
    for (let i = 0; i < 100; i++) {
      t += 400; // 40 s in all
      p.tick();
    }
    p.stop();
  });
  assert.deepEqual(lines, ['timing 13/100 (5 s)\n', 'timing 38/100 (15 s)\n', 'timing 63/100 (25 s)\n', 'timing 88/100 (35 s)\n']);
  const once = capture(() => {
    t = 0;
    p.start('quantizing q8 dynamic (900 nodes)', 900);
    t = 7_000;
    p.tick(900);
    p.stop();
  });
  assert.deepEqual(once, ['quantizing q8 dynamic (900 nodes) 900/900 (7 s)\n']);
  const silent = capture(() => {
    t = 0;
    p.start('loading', 1);
    t = 6_000;
    p.stop();
  });
  assert.deepEqual(silent, ['loading: done in 6 s\n']);
});
