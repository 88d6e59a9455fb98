// The real silero VAD v5 (every weight sits in If branches, as Constant nodes): one-shot pruning finds
// and prunes them. Needs the corpus (node scripts/corpus/fetch.mjs); skipped without it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '@shrink/core';
import { loadModel } from '@shrink/core/io';
import { createSession, readFeedSet, tensorToFloat32 } from '@shrink/core/runtime';
import { pruneModel } from './runtime/prune-model.js';

const corpus = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../.cache/corpus');
const file = path.join(corpus, 'silero-vad-v5.onnx');
const feeds = path.join(corpus, 'silero-vad-v5.feeds.npz');
const absent = !existsSync(file) || !existsSync(feeds);

test(
  'silero VAD v5: magnitude 0.5 prunes the Conv weights inside both If branches; onnxruntime runs it on real audio',
  { skip: absent && 'corpus not fetched (node scripts/corpus/fetch.mjs)' },
  async () => {
    const model = await loadModel(file);
    const r = await pruneModel(model, { method: 'magnitude', sparsity: 0.5 });
    const pruned = r.report.layers.filter((l) => l.action === 'pruned');
    // 6 Convs in each sample-rate branch (STFT basis, 4 encoder convs, the decoder's head).
    for (const branch of ['then_branch', 'else_branch']) {
      assert.equal(
        pruned.filter((l) => l.name.startsWith(`If_0/${branch}/`)).length,
        6,
        `${branch}: ${pruned.map((l) => l.name).join(', ')}`,
      );
    }
    assert.ok(pruned.every((l) => Math.abs(l.sparsity! - 0.5) < 1e-3));
    assert.ok(Math.abs(r.report.sparsity - 0.5) < 1e-3);
    const base = await createSession(file, { threads: 1 });
    const cand = await createSession(encodeModel(r.model), { threads: 1 });
    try {
      const set = await readFeedSet(feeds, base, model);
      for (const f of set.samples) {
        const [a, b] = [tensorToFloat32((await base.run(f))['output']!, 'base'), tensorToFloat32((await cand.run(f))['output']!, 'pruned')];
        assert.equal(a.length, b.length);
        assert.ok(b.every(Number.isFinite));
        // Half of every Conv weight gone changes the speech probability, but not beyond recognition.
        const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
        assert.ok(diff > 0 && diff < 0.5, `max |change| of the speech probability ${diff}`);
      }
    } finally {
      await base.release();
      await cand.release();
    }
  },
);
