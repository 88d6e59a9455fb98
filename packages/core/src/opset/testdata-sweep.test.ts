import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { sweepOne, TESTDATA, testdataCases } from './sweep-testdata.js';

const missing = existsSync(TESTDATA) ? false : `${TESTDATA} is missing (Debian package libonnx-testdata)`;

test(
  'every libonnx-testdata model below opset 11 converts to 13 and computes the same, or is refused by node',
  { skip: missing },
  async () => {
    const cases = testdataCases(11);
    assert.ok(cases.length > 200, `only ${cases.length} cases found`);
    const failed: string[] = [];
    let pass = 0;
    let refused = 0;
    for (const c of cases) {
      const r = await sweepOne(c, 13);
      if (r.kind === 'pass') pass++;
      else if (r.kind === 'refused') {
        refused++;
        assert.match(r.why, /^cannot convert opset \d+ → 13: node '.*' \(\w+\) at step/, c.dir);
      } else if (r.kind === 'failed') failed.push(`${c.dir}: ${r.why}`);
    }
    assert.deepEqual(failed, []);
    // Measured: 230 pass, 1 refused (Scan-8), 8 StringNormalizer models onnxruntime cannot run without locales.
    assert.ok(pass >= 220, `${pass} passed`);
    assert.ok(refused <= 3, `${refused} refused`);
  },
);
