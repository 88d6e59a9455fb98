// `--include`/`--exclude` and repeated flags at the CLI: a list flag given twice keeps both values, a
// one-value flag given twice is refused, and entries reach nodes inside If bodies (a built If model, and
// silero-vad-v5 from the corpus when it is there). Shrink's own q8 output fed back to prune and quantize.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attr,
  decodeModel,
  encodeModel,
  Graph,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
  nodesDeep,
  type onnx,
} from '@shrink/core';

/** Every op type of the model, bodies included. */
const opsDeep = (m: onnx.IModelProto): string[] => nodesDeep(m.graph).map((n) => n.opType ?? '');
import { createSession } from '@shrink/core/runtime';
import { compareOutputs } from '../../../scripts/corpus/compare.mjs';
import { assertOneLineError, runJson, runShrink } from './cli.fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let dir: string;
const shrink = (...args: string[]) => runShrink(dir, args);
const json = (...args: string[]) => runJson(dir, args);

/** Seeded values in [-scale, scale). */
function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}

const D = 64;

/** x -> MatMul fc1 -> If(flag: then MatMul then_mm, else MatMul else_mm) -> y; each branch holds its own weight. */
function ifModel(): onnx.ModelProto {
  const branch = (side: string, seed: number) =>
    makeGraph({
      name: side,
      nodes: [makeNode('MatMul', ['h', `W_${side}`], [`y_${side}`], {}, { name: `${side}_mm` })],
      inputs: [],
      outputs: [makeValueInfo(`y_${side}`, 'float32', [4, D])],
      initializers: [makeTensor(`W_${side}`, 'float32', [D, D], values(D * D, seed, 0.2))],
    });
  return makeModel(
    makeGraph({
      name: 'ifnet',
      nodes: [
        makeNode('MatMul', ['x', 'W1'], ['h'], {}, { name: 'fc1' }),
        makeNode(
          'If',
          ['flag'],
          ['y'],
          { then_branch: attr.graph(branch('then', 2)), else_branch: attr.graph(branch('else', 3)) },
          { name: 'branch' },
        ),
      ],
      inputs: [makeValueInfo('x', 'float32', [4, D]), makeValueInfo('flag', 'bool', [])],
      outputs: [makeValueInfo('y', 'float32', [4, D])],
      initializers: [makeTensor('W1', 'float32', [D, D], values(D * D, 1, 0.2))],
    }),
    { opset: 17 },
  );
}

/** x [1, 4, 12, 12] -> Conv -> Relu -> Conv -> y: q8 stores both weights as int8 codes -> Cast -> Mul. */
function convModel(): onnx.ModelProto {
  return makeModel(
    makeGraph({
      name: 'convnet',
      nodes: [
        makeNode('Conv', ['x', 'W1'], ['h'], { pads: [1, 1, 1, 1] }, { name: 'conv1' }),
        makeNode('Relu', ['h'], ['a'], {}, { name: 'relu' }),
        makeNode('Conv', ['a', 'W2'], ['y'], { pads: [1, 1, 1, 1] }, { name: 'conv2' }),
      ],
      inputs: [makeValueInfo('x', 'float32', [1, 4, 12, 12])],
      outputs: [makeValueInfo('y', 'float32', [1, 8, 12, 12])],
      initializers: [
        makeTensor('W1', 'float32', [16, 4, 3, 3], values(16 * 36, 4, 0.3)),
        makeTensor('W2', 'float32', [8, 16, 3, 3], values(8 * 144, 5, 0.2)),
      ],
    }),
    { opset: 17 },
  );
}

async function run(file: string, flag: boolean): Promise<Float32Array> {
  const s = await createSession(readFileSync(file));
  try {
    const out = await s.run({ x: { data: values(4 * D, 9, 1), dims: [4, D] }, flag: { data: Uint8Array.of(flag ? 1 : 0), dims: [] } });
    return out['y']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** max |a - b| / max |b|. */
function relMax(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let r = 0;
  b.forEach((v, i) => {
    e = Math.max(e, Math.abs(a[i]! - v));
    r = Math.max(r, Math.abs(v));
  });
  return e / r;
}

type Row = { name: string; action: string; reason?: string };
const rows = (out: Record<string, any>): Record<string, Row> =>
  Object.fromEntries(
    (out['quantization'].nodes as Row[]).filter((n) => n.name.endsWith('_mm') || n.name === 'fc1').map((n) => [n.name, n]),
  );

/** The weight input a node reads is a float32 initializer (of its graph or an enclosing one) or Constant, not a Mul of int8 codes. */
function readsFloatWeight(model: onnx.IModelProto, nodeName: string): boolean {
  const find = (g: onnx.IGraphProto, outer: readonly onnx.ITensorProto[]): boolean | undefined => {
    const visible = [...outer, ...(g.initializer ?? [])];
    const n = (g.node ?? []).find((m) => m.name === nodeName);
    if (n) {
      const w = n.input![1];
      const constant = (g.node ?? []).find((m) => m.opType === 'Constant' && m.output![0] === w);
      return constant ? constant.attribute!.some((a) => a.t?.dataType === 1) : visible.some((t) => t.name === w && t.dataType === 1);
    }
    for (const m of g.node ?? []) {
      for (const a of m.attribute ?? []) {
        const r = a.g ? find(a.g, visible) : undefined;
        if (r !== undefined) return r;
      }
    }
    return undefined;
  };
  const found = find(model.graph!, []);
  assert.notEqual(found, undefined, `no node '${nodeName}'`);
  return found!;
}

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shrink-incl-'));
  writeFileSync(path.join(dir, 'if.onnx'), encodeModel(ifModel()));
  writeFileSync(path.join(dir, 'conv.onnx'), encodeModel(convModel()));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('--exclude given twice excludes both (a main-graph node and a node in an If branch); the excluded path computes exactly as float', async () => {
  const model = path.join(dir, 'if.onnx');
  for (const [i, args] of [
    ['--exclude', 'fc1', '--exclude', 'then_mm'],
    // One flag with two values, the body node by its path as the report names it.
    ['--exclude', 'fc1', 'branch/then_branch/then_mm'],
  ].entries()) {
    const out = path.join(dir, `if-${i}.onnx`);
    const r = rows(json('quantize', model, ...args, '--allow-slower', '-o', out, '--runs', '2'));
    assert.equal(r['fc1']?.action, 'skipped', JSON.stringify(r));
    assert.match(r['fc1']!.reason!, /excluded \('fc1' is in exclude\)/);
    assert.equal(r['branch/then_branch/then_mm']?.action, 'skipped', JSON.stringify(r));
    assert.equal(r['branch/else_branch/else_mm']?.action, 'quantized', JSON.stringify(r));
    const q = decodeModel(readFileSync(out));
    assert.ok(readsFloatWeight(q, 'fc1') && readsFloatWeight(q, 'then_mm'), 'excluded nodes keep their float weights');
    assert.deepEqual(
      opsDeep(q)
        .filter((o) => o.startsWith('MatMul'))
        .sort(),
      ['MatMul', 'MatMul', 'MatMulInteger'],
      'only else_mm is quantized',
    );
    // Through the then branch only float nodes run: the same numbers as the float model (float rounding
    // aside); through the else branch the quantized MatMul: close, not equal.
    const thenErr = relMax(await run(out, true), await run(model, true));
    const elseErr = relMax(await run(out, false), await run(model, false));
    assert.ok(thenErr < 1e-6, `then branch: max rel error ${thenErr}`);
    assert.ok(elseErr > 1e-4 && elseErr < 0.05, `else branch: max rel error ${elseErr}`);
  }
});

test('a one-value flag given twice is refused in one line; an entry naming nothing names the nearest names, a comma-joined list says so', () => {
  const model = path.join(dir, 'if.onnx');
  const out = path.join(dir, 'never.onnx');
  assertOneLineError(
    shrink('quantize', model, '--dtype', 'q8', '--dtype', 'q4', '-o', out),
    /--dtype: given 2 times \("q8", "q4"\); it takes one value/,
  );
  // An alias is one flag with its name: -o twice is --output twice.
  assertOneLineError(shrink('quantize', model, '--dtype', 'q8', '-o', out, '--output', out), /^shrink: --output: given 2 times/);
  assertOneLineError(
    shrink('quantize', model, '--exclude', 'then_mn', '-o', out),
    /--exclude: no node or op type named 'then_mn' in the model or its If\/Loop\/Scan bodies; .*nearest names: 'then_mm'/,
  );
  assertOneLineError(shrink('quantize', model, '--include', 'fc1,then_mm', '-o', out), /--include: .*several entries are separate values/);
  assert.equal(existsSync(out), false);
});

test("Shrink's own q8 weight-only Convs: prune prunes their int8 codes; quantize refuses them, --requantize quantizes again", async () => {
  const float = path.join(dir, 'conv.onnx');
  const q8 = path.join(dir, 'conv-q8.onnx');
  json('quantize', float, '--dtype', 'q8', '-o', q8, '--runs', '2');
  const pruned = path.join(dir, 'conv-q8-pruned.onnx');
  const p = json('prune', q8, '--method', 'magnitude', '--sparsity', '0.5', '-o', pruned, '--runs', '2', '--allow-degraded');
  assert.deepEqual(
    (p['pruning'].layers as Array<{ name: string; action: string; sparsity: number }>).map((l) => [l.name, l.action, l.sparsity]),
    [
      ['conv1', 'pruned', 0.5],
      ['conv2', 'pruned', 0.5],
    ],
  );
  // The report counts the int8 codes at 0 as zero parameters: half of each Conv's weight.
  const nonzero = p['report'].candidates[0].metrics['params.nonzero'];
  assert.equal(nonzero.candidate, (16 * 36 + 8 * 144) / 2, JSON.stringify(nonzero));
  const g = Graph.from(decodeModel(readFileSync(pruned)));
  for (const t of g.initializers.filter((i) => i.dataType === 3)) {
    const codes = g.readInitializer(t.name).data as Int8Array;
    assert.equal(codes.filter((c) => c === 0).length, codes.length / 2, `${t.name}: half the codes exactly 0`);
  }
  assertOneLineError(
    shrink('quantize', q8, '--dtype', 'fp16', '-o', path.join(dir, 'never.onnx')),
    /--requantize: model is already quantized: 2 int8 weight-only \(codes -> Cast -> Mul\) node\(s\) \(e\.g\. node 'conv1'\)/,
  );
  const again = path.join(dir, 'conv-q8-fp16.onnx');
  const r = json('quantize', q8, '--dtype', 'fp16', '--requantize', '-o', again, '--runs', '2', '--allow-slower');
  assert.match(r['quantization'].notes[0], /requantize: 2 Cast\+Mul weight code\(s\) back to float/);
});

// The real model: every weight sits in If branches (its main graph holds an If and its condition).
const V5 = path.join(ROOT, '.cache/corpus/silero-vad-v5.onnx');
const V5_FEEDS = path.join(ROOT, '.cache/corpus/silero-vad-v5.feeds.npz');
const v5Skip =
  existsSync(V5) && existsSync(V5_FEEDS) ? false : 'silero-vad-v5 is not in .cache/corpus (node scripts/corpus/inputs.mjs silero-vad-v5)';

test(
  'silero-vad-v5: --exclude reaches Convs in If branches by name and by path; they stay float, every output at cosine >= 0.99',
  { skip: v5Skip },
  async () => {
    const byPath = 'If_0/then_branch/If_0_then_branch__Inline_0__/encoder/0/reparam_conv/Conv';
    const byName = 'If_0_else_branch__Inline_0__/encoder/0/reparam_conv/Conv';
    const out = path.join(dir, 'v5-q8.onnx');
    const r = json('quantize', V5, '--dtype', 'q8', '--exclude', byPath, '--exclude', byName, '--data', V5_FEEDS, '-o', out, '--runs', '2');
    const nodes = r['quantization'].nodes as Row[];
    const conv = nodes.filter((n) => n.name.endsWith('/Conv'));
    assert.deepEqual(
      conv
        .filter((n) => n.action === 'skipped')
        .map((n) => n.name)
        .sort(),
      ['If_0/else_branch/If_0_else_branch__Inline_0__/encoder/0/reparam_conv/Conv', byPath],
    );
    assert.ok(conv.filter((n) => n.action === 'quantized').length >= 8, `${conv.length} Conv rows`);
    const q = decodeModel(readFileSync(out));
    assert.ok(readsFloatWeight(q, 'If_0_then_branch__Inline_0__/encoder/0/reparam_conv/Conv'), 'then-branch Conv keeps its float weight');
    assert.ok(readsFloatWeight(q, byName), 'else-branch Conv keeps its float weight');
    assert.ok(!readsFloatWeight(q, 'If_0_then_branch__Inline_0__/encoder/1/reparam_conv/Conv'), 'the next Conv is quantized');
    const { perOutput, worst } = await compareOutputs(V5, out, [V5_FEEDS]);
    assert.ok(worst >= 0.99, `cosine per output ${JSON.stringify(perOutput)}`);
  },
);
