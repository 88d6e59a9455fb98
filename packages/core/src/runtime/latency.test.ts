import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShrinkError } from '../errors.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import { withSession } from './session.js';
import { clearlySlower, compareLatency, measureLatency, MIN_PAIRS_FOR_A_CLAIM, probablySlower } from './latency.js';

function dense(k: number) {
  return makeModel(
    makeGraph({
      nodes: [makeNode('MatMul', ['x', 'W'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', k])],
      outputs: [makeValueInfo('y', 'float32', ['N', k])],
      initializers: [makeTensor('W', 'float32', [k, k], new Float32Array(k * k).fill(0.01))],
    }),
  );
}
const feeds = (k: number, n = 4) => ({ x: { data: new Float32Array(n * k).fill(1), dims: [n, k] } });

// No timing assertions: only that the statistics are consistent and the runs are counted.
test('measureLatency: runs counted, percentiles ordered, throughput from batch and median', async () => {
  await withSession(dense(16), { threads: 1 }, async (s) => {
    let ticks = 0;
    const r = await measureLatency(
      s,
      feeds(16),
      { warmup: 2, runs: 7 },
      {
        progress: {
          start() {},
          tick: () => {
            ticks++;
          },
          stop() {},
        },
      },
    );
    assert.equal(r.runs, 7);
    assert.equal(ticks, 9, 'warm-up and timed runs all ticked');
    assert.equal(r.batch, 4, 'batch read from the feed');
    assert.ok(r.min > 0 && r.min <= r.p50 && r.p50 <= r.p90 && r.p90 <= r.p99 && r.p99 <= r.max);
    assert.ok(r.mean >= r.min && r.mean <= r.max && r.stdev >= 0);
    assert.ok(Math.abs(r.throughputPerSec - (4 * 1000) / r.p50) < 1e-9, 'batch x 1000 / p50, not the mean');
    assert.match(r.method, /1 intra-op thread, batch 4, 2 warm-up \+ 7 timed runs/);
    const budget = await measureLatency(s, feeds(16), { warmup: 0, runs: 1000, maxTimeMs: 1e-6, minRuns: 3 });
    assert.equal(budget.runs, 3, 'a spent time budget stops after minRuns');
    assert.equal((await measureLatency(s, feeds(16), { warmup: 0, runs: 2, batch: 32 })).batch, 32);
  });
});

test('compareLatency: interleaved pairs, both summaries and ratio percentiles', async () => {
  await withSession(dense(8), { label: 'small' }, async (a) => {
    await withSession(dense(64), { label: 'big' }, async (b) => {
      const c = await compareLatency(a, b, feeds(8), feeds(64), { warmup: 1, runs: 6 });
      assert.equal(c.pairs, 6);
      assert.equal(c.a.runs, 6);
      assert.equal(c.b.runs, 6);
      assert.ok(c.ratio.p10 > 0 && c.ratio.p10 <= c.ratio.p50 && c.ratio.p50 <= c.ratio.p90);
      assert.match(c.method, /^interleaved A\/B/);
      await assert.rejects(
        compareLatency(a, b, feeds(8)),
        (e) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT' && /big: input 'x' has dims \[4, 8\]/.test(e.message),
      );
    });
  });
});

test('latency options are validated', async () => {
  await withSession(dense(4), {}, async (s) => {
    for (const bad of [{ runs: 0 }, { warmup: -1 }, { maxTimeMs: 0 }, { batch: 0 }, { runs: 1.5 }]) {
      await assert.rejects(
        measureLatency(s, feeds(4), bad),
        (e) => e instanceof ShrinkError && e.code === 'INVALID_ARGUMENT',
        JSON.stringify(bad),
      );
    }
  });
});

test('clearlySlower: slower in 90 % of at least 10 pairs, never from a handful', () => {
  const r = (p10: number) => ({ p10, p50: p10 + 0.2, p90: p10 + 0.4, mean: p10 + 0.2 });
  assert.equal(clearlySlower({ ratio: r(1.05), pairs: 50 }), true);
  assert.equal(clearlySlower({ ratio: r(0.95), pairs: 50 }), false);
  assert.equal(clearlySlower({ ratio: r(3), pairs: 1 }), false, 'one pair proves nothing');
  assert.equal(clearlySlower({ ratio: r(1.05), pairs: MIN_PAIRS_FOR_A_CLAIM }), true);
});

test('probablySlower: a sign test over the pairs, with the median above 1', () => {
  const r = (p50: number) => ({ p10: p50 - 0.1, p50, p90: p50 + 0.1, mean: p50 });
  // 60 pairs: no difference allows up to 30 + 2.326 * sqrt(60) / 2 = 39.0 slower pairs.
  assert.equal(probablySlower({ ratio: r(1.03), pairs: 60, slowerPairs: 40 }), true);
  assert.equal(probablySlower({ ratio: r(1.015), pairs: 60, slowerPairs: 50 }), false, 'inside the same-model offset');
  assert.equal(probablySlower({ ratio: r(1.03), pairs: 60, slowerPairs: 39 }), false, 'within what chance gives');
  assert.equal(probablySlower({ ratio: r(0.99), pairs: 30, slowerPairs: 29 }), false, 'a median at or below 1 is not slower');
  assert.equal(probablySlower({ ratio: r(2), pairs: 5, slowerPairs: 5 }), false, 'a handful of pairs proves nothing');
});

test('compareLatency block: pairs of k-run turns, each side the median of its turn', async () => {
  await withSession(dense(8), { label: 'small' }, async (a) => {
    await withSession(dense(64), { label: 'big' }, async (b) => {
      const c = await compareLatency(a, b, feeds(8), feeds(64), { warmup: 1, runs: 4, block: 3 });
      assert.equal(c.pairs, 4);
      assert.ok(c.slowerPairs >= 0 && c.slowerPairs <= 4);
      assert.match(c.method, /4 timed pairs of 3-run turns/);
      await assert.rejects(
        compareLatency(a, b, feeds(8), feeds(64), { block: 0 }),
        (e) => e instanceof ShrinkError && /block must be a positive integer/.test(e.message),
      );
    });
  });
});
