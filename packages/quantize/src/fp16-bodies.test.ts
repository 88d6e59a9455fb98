import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attr,
  constantTensor,
  isShrinkError,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  onnx,
  parseOptions,
  subgraphsOf,
} from '@shrink/core';
import type { Feeds } from '@shrink/core/runtime';
import { convertToFloat16 } from './fp16.js';
import { quantizeModel } from './runtime/quantize-model.js';
import { quantizeOptionsSchema } from './options.js';
import { lcgValues, relMax, runOutput as run } from './test-data.fixture.js';

const T = onnx.TensorProto.DataType;
const D = 16;
const H = 8;
const opts = parseOptions(quantizeOptionsSchema, { dtype: 'fp16' });

/** Float weights (initializers and Constant tensors, bodies included) by element type, in elements. */
function weightElements(g: onnx.IGraphProto, into = { [T.FLOAT]: 0, [T.FLOAT16]: 0 } as Record<number, number>): Record<number, number> {
  const tensors = [...(g.initializer ?? []), ...(g.node ?? []).filter((n) => n.opType === 'Constant').map((n) => constantTensor(n)!)];
  for (const t of tensors) {
    const n = (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
    if (t.dataType === T.FLOAT || t.dataType === T.FLOAT16) into[t.dataType] = (into[t.dataType] ?? 0) + n;
  }
  for (const n of g.node ?? []) for (const s of subgraphsOf(n)) weightElements(s, into);
  return into;
}

/**
 * y = If(flag, then: Relu(x W_then) + nestedIf(W_c), else: x W_else + b) as silero-vad exports it:
 * W_then is the branch's own initializer, W_c a Constant of the then branch that only the nested If's
 * branches read, W_else an outer initializer only the else branch reads, b an outer value read in the
 * else branch and by an outer node too. Branch outputs declare no type (torch.onnx leaves them so).
 */
function ifModel(): onnx.ModelProto {
  const inner = makeGraph({
    name: 'inner',
    nodes: [makeNode('MatMul', ['x', 'W_c'], ['yi'], {}, { name: 'inner_mm' })],
    inputs: [],
    outputs: [onnx.ValueInfoProto.create({ name: 'yi' })],
  });
  const thenG = makeGraph({
    name: 'then',
    nodes: [
      makeNode(
        'Constant',
        [],
        ['W_c'],
        { value: attr.tensor(makeTensor('W_c', 'float32', [D, H], lcgValues(D * H, 3, 0.2))) },
        { name: 'wc' },
      ),
      makeNode('MatMul', ['x', 'W_then'], ['t1'], {}, { name: 'then_mm' }),
      makeNode('Relu', ['t1'], ['t2'], {}, { name: 'then_relu' }),
      makeNode('If', ['flag2'], ['t3'], { then_branch: attr.graph(inner), else_branch: attr.graph(inner) }, { name: 'nested_if' }),
      makeNode('Add', ['t2', 't3'], ['yt'], {}, { name: 'then_add' }),
    ],
    inputs: [],
    outputs: [onnx.ValueInfoProto.create({ name: 'yt' })],
    initializers: [makeTensor('W_then', 'float32', [D, H], lcgValues(D * H, 1, 0.2))],
  });
  const elseG = makeGraph({
    name: 'else',
    nodes: [
      makeNode('MatMul', ['x', 'W_else'], ['e1'], {}, { name: 'else_mm' }),
      makeNode('Add', ['e1', 'b'], ['ye'], {}, { name: 'else_add' }),
    ],
    inputs: [],
    outputs: [onnx.ValueInfoProto.create({ name: 'ye' })],
  });
  return makeModel(
    makeGraph({
      name: 'ifnet',
      nodes: [
        makeNode('If', ['flag'], ['z'], { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) }, { name: 'branch' }),
        makeNode('Add', ['z', 'b'], ['y'], {}, { name: 'out_add' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [2, D]), makeValueInfo('flag', 'bool', []), makeValueInfo('flag2', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', [2, H])],
      initializers: [
        makeTensor('W_else', 'float32', [D, H], lcgValues(D * H, 2, 0.2)),
        makeTensor('b', 'float32', [H], lcgValues(H, 4, 0.1)),
      ],
    }),
    { opset: 17 },
  );
}

test('fp16 converts weights inside If branches (own, outer-only, Constants only nested bodies read); every branch matches float32 within 1e-2', async () => {
  const model = ifModel();
  const r = convertToFloat16(model, opts);
  const before = weightElements(model.graph!);
  const after = weightElements(r.model.graph!);
  // Before bodies were converted every weight stayed float32 (the file kept its size).
  assert.equal(after[T.FLOAT], 0, `float32 weight elements left: ${after[T.FLOAT]}`);
  assert.equal(after[T.FLOAT16], before[T.FLOAT]);
  const x = new Float32Array(lcgValues(2 * D, 9, 1));
  for (const flag of [true, false]) {
    for (const flag2 of [true, false]) {
      const feeds: Feeds = {
        x: { type: 'float32', dims: [2, D], data: x },
        flag: { type: 'bool', dims: [], data: Uint8Array.of(flag ? 1 : 0) },
        flag2: { type: 'bool', dims: [], data: Uint8Array.of(flag2 ? 1 : 0) },
      };
      const want = await run(model, feeds);
      const got = await run(r.model, feeds);
      assert.ok(relMax(got, want) < 1e-2, `flag=${flag} flag2=${flag2}: rel error ${relMax(got, want)}`);
    }
  }
});

/**
 * silero-vad-16k-op15's tail: an If whose branches leave their output type undeclared, an Unsqueeze of
 * it (core's inference took the int64 axes' type), and an Add of that and a Cast(to=float) of an int64
 * input. fp16 converted the Cast but not the "int64" side: onnxruntime refused the Add.
 */
function clashModel(): onnx.ModelProto {
  const branch = (name: string, scale: number): onnx.GraphProto =>
    makeGraph({
      name,
      nodes: [
        makeNode('Constant', [], [`${name}_s`], { value: attr.tensor(makeTensor(`${name}_s`, 'float32', [], [scale])) }),
        makeNode('Mul', ['x', `${name}_s`], [`${name}_y`]),
      ],
      inputs: [],
      outputs: [onnx.ValueInfoProto.create({ name: `${name}_y` })],
    });
  return makeModel(
    makeGraph({
      name: 'clash',
      nodes: [
        makeNode(
          'If',
          ['flag'],
          ['h'],
          { then_branch: attr.graph(branch('a', 2)), else_branch: attr.graph(branch('b', 3)) },
          { name: 'if' },
        ),
        makeNode('Unsqueeze', ['h', 'axes'], ['u'], {}, { name: 'unsq' }),
        makeNode('Cast', ['sr'], ['c'], { to: T.FLOAT }, { name: 'cast' }),
        makeNode('Add', ['u', 'c'], ['y'], {}, { name: 'add' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [4]), makeValueInfo('flag', 'bool', []), makeValueInfo('sr', 'int64', [])],
      outputs: [makeValueInfo('y', 'float32', [1, 4])],
      initializers: [makeTensor('axes', 'int64', [1], [0])],
    }),
    { opset: 15 },
  );
}

test('a value whose type only an If body tells (silero-vad op15) is typed from the body: the fp16 model loads and matches float32', async () => {
  const model = clashModel();
  const r = convertToFloat16(model, opts);
  const feeds: Feeds = {
    x: { type: 'float32', dims: [4], data: Float32Array.of(1.5, -2.25, 3, 0.125) },
    flag: { type: 'bool', dims: [], data: Uint8Array.of(1) },
    sr: { type: 'int64', dims: [], data: BigInt64Array.of(16000n) },
  };
  const want = await run(model, feeds);
  // Before the fix onnxruntime refused this model: "Type parameter (T) of Optype (Add) bound to different types".
  const got = await run(r.model, feeds);
  assert.ok(relMax(got, want) < 1e-3, `rel error ${relMax(got, want)}`);
});

test('--dtype fp16 of a model that stores its weights as float16 already is refused in one line (UNSUPPORTED_MODEL, exit 2)', async () => {
  const model = makeModel(
    makeGraph({
      name: 'half',
      nodes: [
        makeNode('MatMul', ['x16', 'W'], ['y16'], {}, { name: 'mm' }),
        makeNode('Cast', ['y16'], ['y'], { to: T.FLOAT }, { name: 'out' }),
      ],
      inputs: [makeValueInfo('x16', 'float16', [1, D])],
      outputs: [makeValueInfo('y', 'float32', [1, H])],
      initializers: [makeTensor('W', 'float16', [D, H], new Uint16Array(D * H).fill(0x3c00))],
    }),
    { opset: 17 },
  );
  await assert.rejects(
    quantizeModel(model, opts),
    (e: unknown) =>
      isShrinkError(e) &&
      e.code === 'UNSUPPORTED_MODEL' &&
      /already stores its weights as float16 \(1 of 1 float weights\); nothing to convert/.test(e.message) &&
      !e.message.includes('\n'),
  );
  // The pass itself (what q4f16 and q8 of a float16 model go through) does not refuse.
  assert.doesNotThrow(() => convertToFloat16(model, opts));
  // A float32 model with one float16 weight still converts: something changes.
  const mixed = ifModel();
  mixed.graph!.initializer!.push(makeTensor('unused16', 'float16', [1], new Uint16Array([0x3c00])));
  await quantizeModel(mixed, opts);
});
