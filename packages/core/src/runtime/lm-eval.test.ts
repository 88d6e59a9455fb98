// LM evaluation in real onnxruntime: built bigram models whose float32 logits are exact (dyadic weights),
// so perplexity and KL can be checked against a float64 computation made here, independently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../onnx/builder.js';
import type { TokenRows } from '../data/lm-tokens.js';
import { evaluateLm, lmWindows } from './lm-eval.js';

const V = 11;
const D = 6;

/** Seeded values on a 1/16 grid in [-1, 1]: products and sums of a few of them are exact in float32. */
function grid(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (Math.floor((s / 2147483648) * 33) - 16) / 16;
  });
}

/** Embedding Gather -> MatMul -> logits [1, seq, V]; `extra` adds attention_mask/position_ids/past inputs (read, so they stay inputs). */
function bigram(E: number[], W: number[], extra = false) {
  const nodes = [makeNode('Gather', ['E', 'input_ids'], ['h']), makeNode('MatMul', ['h', 'W'], extra ? ['l0'] : ['logits'])];
  const inputs = [makeValueInfo('input_ids', 'int64', ['batch', 'seq'])];
  if (extra) {
    inputs.push(
      makeValueInfo('attention_mask', 'int64', ['batch', 'past + seq']),
      makeValueInfo('position_ids', 'int64', ['batch', 'seq']),
      makeValueInfo('past_key_values.0.key', 'float32', ['batch', 2, 'past', 3]),
    );
    // logits + 0 * sum(past) + 0 * sum(mask) + 0 * sum(positions): the inputs are read, the values unchanged
    nodes.push(
      makeNode('ReduceSum', ['past_key_values.0.key'], ['ps'], { keepdims: 0 }),
      makeNode('Cast', ['attention_mask'], ['mf'], { to: 1 }),
      makeNode('ReduceSum', ['mf'], ['ms'], { keepdims: 0 }),
      makeNode('Cast', ['position_ids'], ['pf'], { to: 1 }),
      makeNode('ReduceSum', ['pf'], ['pss'], { keepdims: 0 }),
      makeNode('Add', ['ms', 'pss'], ['s1']),
      makeNode('Add', ['s1', 'ps'], ['s2']),
      makeNode('Mul', ['s2', 'zero'], ['z']),
      makeNode('Add', ['l0', 'z'], ['logits']),
    );
  }
  return makeModel(
    makeGraph({
      nodes,
      inputs,
      outputs: [makeValueInfo('logits', 'float32', ['batch', 'seq', V])],
      initializers: [
        makeTensor('E', 'float32', [V, D], new Float32Array(E)),
        makeTensor('W', 'float32', [D, V], new Float32Array(W)),
        ...(extra ? [makeTensor('zero', 'float32', [], new Float32Array([0]))] : []),
      ],
    }),
  );
}

const E = grid(V * D, 1);
const W = grid(D * V, 2);
const W2 = W.map((w, i) => w + (i % 3 === 0 ? 0.25 : i % 3 === 1 ? -0.125 : 0));

/** log-softmax of the float64 logits E[t] W. */
function logProbs(w: number[], t: number): number[] {
  const l = Array.from({ length: V }, (_, j) => {
    let s = 0;
    for (let k = 0; k < D; k++) s += E[t * D + k]! * w[k * V + j]!;
    return s;
  });
  const m = Math.max(...l);
  const lse = m + Math.log(l.reduce((s, v) => s + Math.exp(v - m), 0));
  return l.map((v) => v - lse);
}

function rowsOf(rows: number[][]): TokenRows {
  return {
    name: 'test',
    source: 'test: input_ids',
    rows: rows.map((r) => Int32Array.from(r)),
    rowIndex: rows.map((_, i) => i),
    maxId: Math.max(...rows.flat()),
    maxAt: '',
  };
}

const ROWS = [grid(40, 3).map((v) => Math.floor((v + 1) * 5) % V), grid(23, 4).map((v) => Math.floor((v + 1) * 5) % V), [3]];

test('lmWindows scores every token after the first of a row exactly once, with at least context - stride tokens before it past the first window', () => {
  for (const [context, stride] of [
    [8, 4],
    [8, 3],
    [8, 7],
    [5, 1],
  ] as const) {
    const rows = ROWS.map((r) => Int32Array.from(r));
    const seen = rows.map((r) => new Array<number>(r.length).fill(0));
    for (const w of lmWindows(rows, context, stride)) {
      assert.ok(w.end - w.begin <= context);
      for (let p = w.from; p < w.end; p++) {
        seen[w.row]![p]!++;
        if (w.begin > 0) assert.ok(p - w.begin >= context - stride, `${context}/${stride}: position ${p} has ${p - w.begin} before it`);
      }
    }
    seen.forEach((s) => s.forEach((c, p) => assert.equal(c, p === 0 ? 0 : 1, `${context}/${stride} position ${p}`)));
  }
});

test('perplexity equals exp(mean NLL) computed independently; KL with itself is 0, top-1 1; against a perturbed copy KL matches float64 within 1e-6', async () => {
  const tokens = rowsOf(ROWS);
  // A bigram model's logits depend on the token alone, so every window layout scores the same tokens alike.
  let nll = 0;
  let kl = 0;
  let agree = 0;
  let n = 0;
  for (const r of ROWS)
    for (let i = 1; i < r.length; i++) {
      const p = logProbs(W, r[i - 1]!);
      const q = logProbs(W2, r[i - 1]!);
      nll -= p[r[i]!]!;
      kl += p.reduce((s, lp, j) => s + Math.exp(lp) * (lp - q[j]!), 0);
      const top = (x: number[]) => x.indexOf(Math.max(...x));
      if (top(p) === top(q)) agree++;
      n++;
    }
  const base = bigram(E, W);
  const one = await evaluateLm([{ model: base, label: 'base' }], tokens, { context: 8 });
  assert.equal(one.tokens, n);
  assert.equal(one.stride, 4);
  assert.ok(
    Math.abs(one.score.perplexity - Math.exp(nll / n)) / Math.exp(nll / n) < 1e-9,
    `${one.score.perplexity} vs ${Math.exp(nll / n)}`,
  );
  assert.equal(one.comparison, undefined);

  const self = await evaluateLm(
    [
      { model: base, label: 'a' },
      { model: base, label: 'b' },
    ],
    tokens,
    { context: 16, stride: 5 },
  );
  assert.equal(self.comparison!.meanKL, 0);
  assert.equal(self.comparison!.top1Agreement, 1);
  assert.ok(Math.abs(self.score.perplexity - one.score.perplexity) / one.score.perplexity < 1e-9);

  const cmp = await evaluateLm(
    [
      { model: base, label: 'a' },
      { model: bigram(E, W2, true), label: 'b' },
    ],
    tokens,
    { context: 8 },
  );
  const c = cmp.comparison!;
  assert.ok(c.meanKL > 0);
  assert.ok(Math.abs(c.meanKL - kl / n) / (kl / n) < 1e-6, `${c.meanKL} vs ${kl / n}`);
  assert.ok(Math.abs(c.top1Agreement - agree / n) < 1e-12);
  assert.ok(agree < n, 'the perturbation changes some top tokens');
  assert.ok(c.maxKL >= c.meanKL);
});

test('max windows and the context option; a model that is no LM is refused naming its input or output', async () => {
  const tokens = rowsOf(ROWS);
  const r = await evaluateLm([{ model: bigram(E, W), label: 'base' }], tokens, { context: 8, stride: 8, maxWindows: 2 });
  assert.equal(r.windows, 2);
  assert.equal(r.tokens, 14); // stride = context: a window's first token has nothing before it in the window
  assert.match(r.stopped!, /first 2 of \d+ windows/);

  const image = makeModel(
    makeGraph({
      nodes: [makeNode('Relu', ['x'], ['y'])],
      inputs: [makeValueInfo('x', 'float32', ['N', 4])],
      outputs: [makeValueInfo('y', 'float32', ['N', 4])],
    }),
  );
  await assert.rejects(
    evaluateLm([{ model: image, label: 'img.onnx' }], tokens),
    /img\.onnx: has no input 'input_ids'.*inputs: 'x' \(float32 \[N, 4\]\)/,
  );
  const noLogits = makeModel(
    makeGraph({
      nodes: [makeNode('Gather', ['E', 'input_ids'], ['h'])],
      inputs: [makeValueInfo('input_ids', 'int64', ['batch', 'seq'])],
      outputs: [makeValueInfo('h', 'int64', ['batch', 'seq', D])],
      initializers: [makeTensor('E', 'int64', [V, D], new BigInt64Array(V * D))],
    }),
  );
  await assert.rejects(
    evaluateLm([{ model: noLogits, label: 'emb.onnx' }], tokens),
    /emb\.onnx: has no output 'logits' and no 3-D float outputs/,
  );
  await assert.rejects(
    evaluateLm([{ model: bigram(E, W), label: 'b' }], rowsOf([[1, 2, V]])),
    (e: Error & { option?: string }) => e.option === 'tokens' && /outside the vocabulary of b \(11 logits/.test(e.message),
  );
  await assert.rejects(
    evaluateLm([{ model: bigram(E, W), label: 'b' }], tokens, { context: 8, stride: 9 }),
    /stride \(9\) is longer than the context/,
  );
});

test('a trained GPT export with past key/values (fed empty) scores as the same weights without a cache', async () => {
  const dir = new URL('../../../../fixtures/transformers/', import.meta.url);
  const text = readFileSync('/usr/share/common-licenses/GPL-3', 'latin1').slice(0, 1500);
  const tokens = rowsOf([[...Buffer.from(text, 'latin1')]]);
  const plain = await evaluateLm([{ model: fileURLToPath(new URL('gpt-tiny.onnx', dir)), label: 'gpt-tiny' }], tokens);
  const past = await evaluateLm([{ model: fileURLToPath(new URL('gpt-tiny-past.onnx', dir)), label: 'gpt-tiny-past' }], tokens);
  assert.equal(plain.context, 128);
  assert.ok(
    Math.abs(past.score.perplexity - plain.score.perplexity) / plain.score.perplexity < 1e-4,
    `${past.score.perplexity} vs ${plain.score.perplexity}`,
  );
  // trained on these licences: far better than the 260-way uniform guess
  assert.ok(plain.score.perplexity < 20, `perplexity ${plain.score.perplexity}`);
});
