import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, makeGraph, makeModel, makeNode, makeValueInfo } from '@shrink/core';
import { tinyMlp } from '../fuzz/corpus.js';
import { assertValidModel, checkerUnavailable, checkOnnx } from './check-onnx.fixture.js';

test(
  'checkOnnx accepts a valid model, rejects a broken one, and says so when it cannot check a newer opset',
  { skip: checkerUnavailable() ?? false },
  async () => {
    const ok = await assertValidModel(tinyMlp());
    assert.equal(ok.checked, true, ok.skipped);
    const broken = makeModel(
      makeGraph({
        nodes: [makeNode('Relu', ['missing'], ['y'])],
        inputs: [makeValueInfo('x', 'float32', [1])],
        outputs: [makeValueInfo('y', 'float32', [1])],
      }),
    );
    await assert.rejects(checkOnnx(encodeModel(broken)), /onnx.checker rejects/);
    const newer = tinyMlp();
    newer.opsetImport[0]!.version = 21;
    const r = await checkOnnx(newer);
    assert.equal(r.checked, false);
    assert.match(r.skipped ?? '', /opsets up to \d+.*opset 21/);
  },
);
