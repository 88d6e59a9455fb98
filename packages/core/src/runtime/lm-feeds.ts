/**
 * How a decoder language model is fed one window of tokens and where its next-token logits come out:
 * `input_ids` (int64 or int32), plus `attention_mask`, `position_ids`, `token_type_ids` when it has them,
 * empty past key/values (past length 0) for Optimum-style exports with a cache, `use_cache_branch` false
 * for merged decoders. Anything else is refused, naming the input and what would be valid.
 */
import type * as ort from 'onnxruntime-node';
import { ShrinkError } from '../errors.js';
import { describeValue, type FeedTensor, type Session, type TensorType, type ValueMeta } from './session.js';

const PAST = /past|cache/i;
const FILLED =
  'input_ids, attention_mask, position_ids, token_type_ids, past key/values (past_key_values.*, fed empty) and use_cache_branch';

export interface LmPlan {
  /** The output read as [batch, sequence, vocab] logits. */
  readonly logits: string;
  /** The sequence length the model fixes, if it does (then every window is padded to it). */
  readonly fixedSeq?: number;
  /** The vocabulary size the logits' shape fixes, if it does. */
  readonly vocab?: number;
  /** Feeds for one window of `ids`, padded to `length` (padding masked out where the model has a mask). */
  feeds(ids: Int32Array, length: number): Record<string, FeedTensor>;
}

const refuse = (s: Session, what: string, option?: string) =>
  new ShrinkError('UNSUPPORTED_MODEL', `${s.source}: ${what}`, option !== undefined ? { option } : undefined);

function intArray(type: TensorType | undefined, n: number, at: (i: number) => number): FeedTensor['data'] {
  if (type === 'int32') return Int32Array.from({ length: n }, (_, i) => at(i));
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) out[i] = BigInt(at(i));
  return out;
}

/** An empty past tensor: batch 1, every symbolic dim after the first 0 (past length), fixed dims (heads, head size) kept. */
function emptyPast(s: Session, m: ValueMeta): FeedTensor {
  const shape = m.shape ?? [];
  if (shape.length === 0)
    throw refuse(
      s,
      `input ${describeValue(m)} looks like a cache, but its shape is unknown; an LM evaluation feeds past key/values [batch, heads, past, head size] with past 0`,
    );
  const dims = shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' && d >= 0 ? d : 0));
  if (!dims.includes(0))
    throw refuse(
      s,
      `input ${describeValue(m)} looks like a cache but has no symbolic past length to set to 0; an LM evaluation runs without a cache`,
    );
  const type = m.type ?? 'float32';
  const data = type === 'float16' ? new Uint16Array(0) : type === 'float32' ? new Float32Array(0) : undefined;
  if (data === undefined)
    throw refuse(s, `input ${describeValue(m)} looks like a cache but is ${type}; past key/values are float32 or float16`);
  return { data, dims, type };
}

/** Reads a session's inputs and outputs once; refuses a model that is not a decoder LM in one line. */
export function planLm(s: Session): LmPlan {
  const byName = new Map(s.inputs.map((m) => [m.name, m]));
  const ids = byName.get('input_ids');
  if (ids === undefined)
    throw refuse(
      s,
      `has no input 'input_ids'; an LM evaluation feeds token ids as input_ids (int64 [batch, sequence]); inputs: ${s.inputs.map(describeValue).join(', ')}`,
    );
  if (
    !ids.isTensor ||
    (ids.type !== 'int64' && ids.type !== 'int32') ||
    (ids.shape !== undefined && ids.shape.length !== 2 && ids.shape.length !== 0)
  )
    throw refuse(s, `input ${describeValue(ids)} is not token ids; an LM evaluation feeds input_ids as int64 (or int32) [batch, sequence]`);
  for (const m of s.inputs) {
    const known =
      ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids', 'use_cache_branch'].includes(m.name) || PAST.test(m.name);
    if (!known) throw refuse(s, `input ${describeValue(m)} is not one an LM evaluation can fill; it fills ${FILLED}`);
  }
  const seqDim = ids.shape?.[1];
  const fixedSeq = typeof seqDim === 'number' && seqDim > 0 ? seqDim : undefined;

  const floats = s.outputs.filter((o) => o.isTensor && (o.type === 'float32' || o.type === 'float16'));
  const named = s.outputs.find((o) => o.name === 'logits');
  const threeD = floats.filter((o) => o.shape?.length === 3);
  const out = named ?? (threeD.length === 1 ? threeD[0] : undefined);
  if (out === undefined)
    throw refuse(
      s,
      `has no output 'logits' and ${threeD.length === 0 ? 'no' : threeD.length} 3-D float outputs (${s.outputs.map(describeValue).join(', ')}); an LM evaluation reads next-token logits [batch, sequence, vocab] from the output named logits, else the only 3-D float one`,
    );
  if (
    !out.isTensor ||
    (out.type !== 'float32' && out.type !== 'float16') ||
    (out.shape !== undefined && out.shape.length !== 3 && out.shape.length !== 0)
  )
    throw refuse(
      s,
      `output ${describeValue(out)} is not next-token logits; an LM evaluation reads float32 or float16 [batch, sequence, vocab]`,
    );
  const vDim = out.shape?.[2];
  const vocab = typeof vDim === 'number' && vDim > 0 ? vDim : undefined;

  const past = s.inputs.filter((m) => PAST.test(m.name)).map((m) => [m.name, emptyPast(s, m)] as const);
  return {
    logits: out.name,
    ...(fixedSeq !== undefined ? { fixedSeq } : {}),
    ...(vocab !== undefined ? { vocab } : {}),
    feeds(win, length) {
      const n = win.length;
      const feeds: Record<string, FeedTensor> = {};
      const int = (m: ValueMeta, at: (i: number) => number): FeedTensor => ({
        data: intArray(m.type, length, at),
        dims: [1, length],
        ...(m.type ? { type: m.type } : {}),
      });
      feeds['input_ids'] = int(ids, (i) => (i < n ? win[i]! : 0));
      const mask = byName.get('attention_mask');
      if (mask)
        feeds['attention_mask'] =
          mask.type === 'float32'
            ? { data: Float32Array.from({ length }, (_, i) => (i < n ? 1 : 0)), dims: [1, length] }
            : int(mask, (i) => (i < n ? 1 : 0));
      const pos = byName.get('position_ids');
      if (pos) feeds['position_ids'] = int(pos, (i) => i);
      const tt = byName.get('token_type_ids');
      if (tt) feeds['token_type_ids'] = int(tt, () => 0);
      const branch = byName.get('use_cache_branch');
      if (branch) feeds['use_cache_branch'] = { data: new Uint8Array(1), dims: (branch.shape ?? [1]).map(() => 1), type: 'bool' };
      for (const [name, t] of past) feeds[name] = t;
      return feeds;
    },
  };
}

/** The vocabulary size of one run's [1, length, vocab] logits, checked. */
export function logitsVocab(s: Session, t: ort.Tensor, name: string, length: number): number {
  if (t.dims.length !== 3 || t.dims[0] !== 1 || t.dims[1] !== length)
    throw new ShrinkError(
      'UNSUPPORTED_MODEL',
      `${s.source}: output '${name}' came out [${t.dims.join(', ')}] for ${length} tokens; an LM evaluation reads [batch, sequence, vocab] logits, one row per input token`,
    );
  return t.dims[2]!;
}
