// The prune pass through the registry's runner: the accuracy fallback is the runner's, so it works for
// pruning as it does for quantization (any pass that takes exclude and says what it changed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel } from '@shrink/core';
import { resolveData, resolveSplit } from '@shrink/core/data';
import { createSession, evaluate, runPass } from '@shrink/core/runtime';
import { exportToOnnx, trainPreset } from '@shrink/core/tfjs';
import { prunePass } from './pass.js';

test(
  'maxAccuracyDrop on pruning: layers that hurt most are left unpruned until the drop is within the limit',
  { timeout: 300_000 },
  async () => {
    const trained = await trainPreset('digits-mlp', { epochs: 3, seed: 5 });
    const model = exportToOnnx(trained.model).model;
    trained.model.dispose();
    const test = await resolveData('digits', { split: 'test' });
    const split = await resolveSplit('digits');
    const data = { train: async () => split, eval: async () => test };
    const accuracy = async (m: typeof model) => {
      const s = await createSession(encodeModel(m));
      try {
        const r = await evaluate(s, test);
        return r.task === 'classification' ? r.accuracy : NaN;
      } finally {
        await s.release();
      }
    };
    const base = await accuracy(model);
    const options = prunePass.schema.parse({ method: 'magnitude', sparsity: 0.95 });
    const plain = await runPass(prunePass, model, options, { data, ctx: {} });
    const plainDrop = base - (await accuracy(plain.model));
    assert.ok(plainDrop > 0.05, `95 % magnitude pruning should hurt a 3-epoch model: drop ${plainDrop}`);

    const limit = 0.02;
    const guarded = await runPass(prunePass, model, { ...options, maxAccuracyDrop: limit }, { data, ctx: {} });
    const fallback = (guarded.report as { fallback: { met: boolean; keptFloat: string[]; final: number } }).fallback;
    const drop = base - (await accuracy(guarded.model));
    assert.ok(fallback.keptFloat.length > 0, 'some layer was left unpruned');
    assert.equal(fallback.met, drop <= limit + 1e-12, `met ${fallback.met} vs drop ${drop}`);
    assert.ok(drop < plainDrop, `the fallback helps: ${drop} vs ${plainDrop}`);
    for (const name of fallback.keptFloat) {
      const layer = guarded.layers.find((l) => l.name === name);
      assert.match(layer?.action ?? '', /^kept: accuracy fallback/, name);
    }
    assert.ok(guarded.notes.some((n) => /^accuracy fallback: original accuracy/.test(n)));
  },
);
