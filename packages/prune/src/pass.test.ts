// The prune pass through the registry's runner: the accuracy fallback is the runner's, so it works for
// pruning as it does for quantization (any pass that takes exclude and says what it changed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, targetContext } from '@shrink/core';
import { resolveData, resolveSplit } from '@shrink/core/data';
import { createSession, evaluate, runPass } from '@shrink/core/runtime';
import { exportToOnnx, trainPreset } from '@shrink/core/tfjs';
import { prunePass } from './pass.js';

/** A digits MLP trained `epochs` epochs, with the digits data a pass and its fallback read. */
async function digits(epochs: number, seed: number) {
  const trained = await trainPreset('digits-mlp', { epochs, seed });
  const model = exportToOnnx(trained.model).model;
  trained.model.dispose();
  const test = await resolveData('digits', { split: 'test' });
  const split = await resolveSplit('digits');
  return { model, test, data: { train: async () => split, eval: async () => test } };
}

test(
  'maxAccuracyDrop on pruning: layers that hurt most are left unpruned until the drop is within the limit',
  { timeout: 300_000 },
  async () => {
    const { model, test, data } = await digits(3, 5);
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

test(
  "a web target's fidelity floor is not applied to a fine-tuned model (it is meant to change), and is to one-shot pruning",
  { timeout: 300_000 },
  async () => {
    const { model, data } = await digits(2, 3);
    const options = prunePass.schema.parse({ method: 'magnitude', sparsity: 0.5, finetune: true, epochs: 1 });
    const ctx = { target: targetContext('wasm') };

    const tuned = await runPass(prunePass, model, options, { data, ctx });
    assert.ok(
      tuned.notes.some((n) => /^the wasm fidelity floor 0\.99 is not applied: prune trained the model/.test(n)),
      tuned.notes.join('\n'),
    );
    assert.equal((tuned.report as Record<string, unknown>)['fidelityFallback'], undefined);
    assert.equal(tuned.unmet, undefined);
    assert.ok(
      tuned.layers.some((l) => l.action === 'pruned'),
      'the layers stay pruned',
    );

    // Without training, the floor applies: the fallback measures the pruned model against the original.
    const oneShot = await runPass(prunePass, model, { ...options, finetune: false }, { data, ctx });
    const floor = (oneShot.report as Record<string, { met: boolean; final: number } | undefined>)['fidelityFallback'];
    assert.ok(floor, 'the one-shot pruning is held to the floor');
    assert.equal(floor.met, floor.final >= 0.99, JSON.stringify(floor));
  },
);
