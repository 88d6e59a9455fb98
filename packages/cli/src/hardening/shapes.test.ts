// Opsets 11..26, dynamic batch and symbolic dims, and graph parts a pass may not understand (If, Loop,
// a model-local function): every pass either handles them (q8/q4/fp16 and magnitude/N:M pruning go into
// If/Loop bodies) or leaves them byte for byte and lists them as unhandled, and the output runs in
// onnxruntime (and passes onnx.checker up to opset 17).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModel, onnx } from '@shrink/core';
import { createDataset } from '@shrink/core/data';
import { createSession } from '@shrink/core/runtime';
import { quantizeModel } from '@shrink/quantize/runtime';
import { pruneModel } from '@shrink/prune/runtime';
import { assertValidModel } from './check-onnx.fixture.js';
import { nanIn } from './degenerate.fixture.js';
import { functionModel, ifModel, loopModel, symbolicConv, symbolicMlp } from './shapes.fixture.js';

interface PassOut {
  model: onnx.IModelProto;
  unhandled: Record<string, number>;
  notes: string[];
}

const PASSES: ReadonlyArray<readonly [string, (m: onnx.ModelProto, sample: readonly number[]) => Promise<PassOut>]> = [
  ['q8 dynamic', async (m) => out(await quantizeModel(m, { dtype: 'q8' }))],
  ['q8 dynamic per-channel', async (m) => out(await quantizeModel(m, { dtype: 'q8', perChannel: true }))],
  [
    'int8 static',
    async (m, sample) => {
      const per = sample.reduce((a, b) => a * b, 1);
      const calibration = createDataset({
        name: 'cal',
        task: 'regression',
        sampleShape: [...sample],
        x: Float32Array.from({ length: 4 * per }, (_, i) => (i % 11) / 11),
        y: new Float32Array(4),
        targetSize: 1,
      });
      return out(await quantizeModel(m, { dtype: 'int8', mode: 'static' }, { calibration }));
    },
  ],
  ['q4', async (m) => out(await quantizeModel(m, { dtype: 'q4', blockSize: 16 }))],
  ['fp16', async (m) => out(await quantizeModel(m, { dtype: 'fp16' }))],
  ['prune magnitude', async (m) => out(await pruneModel(m, { method: 'magnitude', sparsity: 0.5 }))],
  ['prune nm', async (m) => out(await pruneModel(m, { method: 'nm' }))],
  ['prune structured', async (m) => out(await pruneModel(m, { method: 'structured', sparsity: 0.5 }))],
];

function out(r: { model: onnx.IModelProto; report: { unhandled: Record<string, number>; notes: string[] } }): PassOut {
  return { model: r.model, unhandled: r.report.unhandled, notes: r.report.notes };
}

/** Runs the model on a batch of `dims` in onnxruntime; returns the first output's dims, checking it is finite. */
async function runs(model: onnx.IModelProto, dims: number[]): Promise<readonly number[]> {
  const s = await createSession(encodeModel(model));
  try {
    const n = dims.reduce((a, b) => a * b, 1);
    const outputs = await s.run({ x: { data: Float32Array.from({ length: n }, (_, i) => ((i * 7) % 13) / 13), dims } });
    const y = outputs[s.outputNames[0]!]!;
    assert.ok(
      (y.data as Float32Array).every((v) => Number.isFinite(v)),
      'non-finite output',
    );
    return y.dims;
  } finally {
    await s.release();
  }
}

// IR version of each opset's ONNX release (onnx/docs/Versioning.md); ORT 1.30 officially supports ai.onnx up to 26.
// 25 and 26 with IR 13, the newest IR onnxruntime-node 1.30 loads (14 is refused, and so is opset 27).
const OPSETS: ReadonlyArray<readonly [number, number]> = [
  [11, 6],
  [13, 7],
  [17, 8],
  [19, 9],
  [21, 10],
  [23, 11],
  [25, 13],
  [26, 13],
];

for (const [opset, ir] of OPSETS) {
  test(`opset ${opset}: symbolic-dim MLP and conv net through every pass, running in onnxruntime at two batch/sequence/image sizes`, async () => {
    const cases = [
      [
        'MLP [N, S, 64]',
        symbolicMlp,
        [3, 64],
        [
          [1, 1, 64],
          [2, 5, 64],
        ],
        (d: number[]) => [d[0]!, d[1]!, 3],
      ],
      [
        'conv [N, 1, H, W]',
        symbolicConv,
        [1, 8, 8],
        [
          [1, 1, 8, 8],
          [3, 1, 5, 7],
        ],
        (d: number[]) => [d[0]!, 3],
      ],
    ] as const;
    const skipped: string[] = [];
    for (const [label, make, sample, feeds, want] of cases) {
      const base = make(opset);
      base.irVersion = ir;
      for (const [pass, run] of PASSES) {
        const where = `opset ${opset} ${label} ${pass}`;
        let r: PassOut;
        try {
          r = await run(base, sample);
        } catch (e) {
          // A refusal is a defined result only when it says what is unsupported.
          assert.equal((e as { code?: string }).code, 'UNSUPPORTED_MODEL', `${where}: ${(e as Error).stack}`);
          skipped.push(`${where}: ${(e as Error).message}`);
          continue;
        }
        assert.deepEqual(nanIn(r.model), [], where);
        for (const d of feeds) assert.deepEqual(await runs(r.model, [...d]), want([...d]), where);
        await assertValidModel(r.model);
      }
    }
    if (skipped.length) console.log(`# refused: ${skipped.join('; ')}`);
  });
}

/** The encoded bytes of a node's attributes (subgraphs included), by node name. */
function attributeBytes(model: onnx.IModelProto, name: string): Buffer {
  const node = (model.graph?.node ?? []).find((n) => n.name === name);
  assert.ok(node, `node '${name}' is gone`);
  return Buffer.concat((node.attribute ?? []).map((a) => Buffer.from(onnx.AttributeProto.encode(a).finish())));
}

/** What a node's subgraphs hold apart from outer-scope names: op types and initializer bytes. */
function subgraphContent(model: onnx.IModelProto, name: string): string[] {
  const node = (model.graph?.node ?? []).find((n) => n.name === name);
  assert.ok(node, `node '${name}' is gone`);
  return (node.attribute ?? []).flatMap((a) =>
    a.g
      ? [
          ...(a.g.node ?? []).map((n) => n.opType ?? ''),
          ...(a.g.initializer ?? []).map((t) => `${t.name}:${Buffer.from(onnx.TensorProto.encode(t).finish()).toString('base64')}`),
        ]
      : [],
  );
}

const functionBytes = (model: onnx.IModelProto) =>
  Buffer.concat((model.functions ?? []).map((f) => Buffer.from(onnx.FunctionProto.encode(f).finish())));

/** The first output's values on the fixed batch `runs` feeds. */
async function values(model: onnx.IModelProto, dims: number[]): Promise<Float32Array> {
  const s = await createSession(encodeModel(model));
  try {
    const n = dims.reduce((a, b) => a * b, 1);
    const outputs = await s.run({ x: { data: Float32Array.from({ length: n }, (_, i) => ((i * 7) % 13) / 13), dims } });
    return outputs[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

const cosine = (a: Float32Array, b: Float32Array) => {
  let [dot, na, nb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) [dot, na, nb] = [dot + a[i]! * b[i]!, na + a[i]! ** 2, nb + b[i]! ** 2];
  return dot / Math.sqrt(na * nb);
};

// Passes that leave If/Loop bodies alone: static calibration and structured pruning stop at the body.
const LEAVE_BODIES = new Set(['int8 static', 'prune structured']);

for (const [label, make, node, op, dims] of [
  ['If (then/else subgraphs with their own weights)', ifModel, 'choose', 'If', [3]],
  ['Loop (body subgraph with its own weight)', loopModel, 'repeat', 'Loop', [16]],
  ['a model-local function', functionModel, 'dense', 'local:Dense', [3]],
] as const) {
  test(`${label}: every pass handles it or leaves it byte for byte (listed as unhandled), and the output still runs`, async () => {
    const base = make();
    assert.deepEqual(await runs(base, [2, 64]), [2, ...dims]);
    const want = await values(base, [2, 64]);
    for (const [pass, run] of PASSES) {
      const r = await run(base, [64]);
      const where = `${label}, ${pass}`;
      if (op === 'local:Dense') {
        assert.ok(functionBytes(r.model).equals(functionBytes(base)), `${where}: function changed`);
        if (pass !== 'fp16') assert.ok(attributeBytes(r.model, node).equals(attributeBytes(base, node)), `${where}: attributes changed`);
        assert.ok(op in r.unhandled, `${where}: unhandled is ${JSON.stringify(r.unhandled)}`);
      } else if (LEAVE_BODIES.has(pass)) {
        assert.ok(attributeBytes(r.model, node).equals(attributeBytes(base, node)), `${where}: ${op} attributes changed`);
        assert.ok(op in r.unhandled, `${where}: unhandled is ${JSON.stringify(r.unhandled)}`);
      } else {
        // The body's weights were rewritten (quantized or pruned) inside it.
        assert.deepEqual(
          subgraphContent(r.model, node).some((c) => !subgraphContent(base, node).includes(c)),
          true,
          `${where}: the ${op} body is unchanged`,
        );
        // Quantized bodies compute what the float body does; pruned ones (half the weights gone) only run.
        if (!pass.startsWith('prune')) {
          const c = cosine(want, await values(r.model, [2, 64]));
          assert.ok(c >= 0.99, `${where}: cosine ${c}`);
        }
      }
      assert.deepEqual(await runs(r.model, [2, 64]), [2, ...dims], where);
      await assertValidModel(r.model);
    }
  });
}
