// fp16 keeps a squeeze-and-excitation gate's weighted layer float32: its output, through a (Hard)Sigmoid,
// scales a whole feature map (PP-OCRv4's recogniser: cosine 0.998 with the gate in float16, 0.9994 without).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, parseOptions } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';
import { convertToFloat16 } from './fp16.js';
import { quantizeOptionsSchema } from './options.js';
import { lcgValues } from './test-data.fixture.js';

const C = 8;

/** x -> conv -> relu -> [GAP -> se_reduce -> Relu -> se_expand -> HardSigmoid] * feature -> y. */
function seBlock() {
  return makeModel(
    makeGraph({
      nodes: [
        makeNode('Conv', ['x', 'W'], ['f'], { pads: [1, 1, 1, 1] }, { name: 'conv' }),
        makeNode('Relu', ['f'], ['fr']),
        makeNode('GlobalAveragePool', ['fr'], ['pooled']),
        makeNode('Conv', ['pooled', 'Wr'], ['r'], {}, { name: 'se_reduce' }),
        makeNode('Relu', ['r'], ['rr']),
        makeNode('Conv', ['rr', 'We', 'Be'], ['e'], {}, { name: 'se_expand' }),
        makeNode('HardSigmoid', ['e'], ['gate'], { alpha: attr.float(0.2), beta: attr.float(0.5) }),
        makeNode('Mul', ['fr', 'gate'], ['y']),
      ],
      inputs: [makeValueInfo('x', 'float32', ['N', C, 6, 6])],
      outputs: [makeValueInfo('y', 'float32', ['N', C, 6, 6])],
      initializers: [
        makeTensor('W', 'float32', [C, C, 3, 3], lcgValues(C * C * 9, 1, 0.3)),
        makeTensor('Wr', 'float32', [2, C, 1, 1], lcgValues(2 * C, 2)),
        makeTensor('We', 'float32', [C, 2, 1, 1], lcgValues(2 * C, 3)),
        makeTensor('Be', 'float32', [C], lcgValues(C, 4)),
      ],
    }),
    { opset: 17 },
  );
}

test('fp16: the weighted layer feeding a (Hard)Sigmoid gate stays float32 with the reason; the rest converts and runs', async () => {
  const r = convertToFloat16(seBlock(), parseOptions(quantizeOptionsSchema, { dtype: 'fp16' }));
  const row = (name: string) => r.report.nodes.find((n) => n.name === name);
  assert.equal(row('se_expand')?.action, 'kept-float');
  assert.match(row('se_expand')?.reason ?? '', /squeeze-and-excitation gate/);
  // The reduce layer feeds a Relu and a Conv, not the gate: it converts, as does the main conv.
  assert.equal(row('se_reduce')?.action, 'quantized');
  assert.equal(row('conv')?.action, 'quantized');
  const x = lcgValues(2 * C * 36, 9);
  const outs = [];
  for (const m of [seBlock(), r.model]) {
    const s = await createSession(encodeModel(m));
    try {
      outs.push((await s.run({ x: { data: x, dims: [2, C, 6, 6] } }))['y']!.data as Float32Array);
    } finally {
      await s.release();
    }
  }
  let [dot, na, nb] = [0, 0, 0];
  for (let i = 0; i < outs[0]!.length; i++)
    [dot, na, nb] = [dot + outs[0]![i]! * outs[1]![i]!, na + outs[0]![i]! ** 2, nb + outs[1]![i]! ** 2];
  assert.ok(dot / Math.sqrt(na * nb) > 0.9999, `cosine ${dot / Math.sqrt(na * nb)}`);
});
