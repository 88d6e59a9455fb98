/**
 * Elementwise arithmetic with numpy broadcasting: Add, Sub, Mul, Div, Neg, Sqrt, on float32, float64,
 * int32 and int64. A float32 result is computed in doubles and rounded once, which is exactly the
 * float32 operation (doubles have more than twice float32's precision, so +, -, *, / and sqrt round
 * the same: the folded values equal onnxruntime's bit for bit, NaN payloads aside). Ints do what C++
 * does where it is defined: division truncates toward zero; an overflow or a division by zero is
 * kept for the runtime.
 */
import { broadcastShapes, type DType, type TensorData, type TensorValue } from '@shrink/core';
import { broadcastIndex } from './broadcast-index.js';
import { folded, keep, type FoldDecision, type FoldOp } from './fold-types.js';

const ARITH_TYPES: ReadonlySet<DType> = new Set(['float32', 'float64', 'int32', 'int64']);

type NumberOp = (a: number, b: number) => number;
type BigOp = (a: bigint, b: bigint) => bigint | undefined;

interface Binary {
  readonly number: NumberOp;
  readonly big: BigOp;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The int64 result, or undefined where it overflows. */
const int64 = (v: bigint): bigint | undefined => (BigInt.asIntN(64, v) === v ? v : undefined);

const BINARY: ReadonlyMap<string, Binary> = new Map<string, Binary>([
  ['Add', { number: (a, b) => a + b, big: (a, b) => int64(a + b) }],
  ['Sub', { number: (a, b) => a - b, big: (a, b) => int64(a - b) }],
  ['Mul', { number: (a, b) => a * b, big: (a, b) => int64(a * b) }],
  ['Div', { number: (a, b) => a / b, big: (a, b) => (b === 0n ? undefined : int64(a / b)) }],
]);

function operands(node: { input: string[] }, view: { value(i: number): TensorValue | undefined }, count: number): TensorValue[] | string {
  const out: TensorValue[] = [];
  for (let i = 0; i < count; i++) {
    const v = view.value(i);
    if (!v) return `input ${i} is missing`;
    if (!ARITH_TYPES.has(v.dtype)) return `${v.dtype} arithmetic is not folded (float32, float64, int32 and int64 are)`;
    out.push(v);
  }
  if (node.input.length !== count) return `expected ${count} input(s), got ${node.input.length}`;
  if (out.some((v) => v.dtype !== out[0]!.dtype)) return `inputs are ${out.map((v) => v.dtype).join(' and ')}`;
  return out;
}

/** Elementwise `f` over the outputs' elements, into `dtype`'s array; a string says why not (int overflow, division by zero). */
function compute(dtype: DType, n: number, f: (i: number) => number | bigint | undefined, division: boolean): TensorData | string {
  switch (dtype) {
    case 'float32':
    case 'float64': {
      const out = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = f(i) as number;
      return out;
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = f(i) as number;
        if (!Number.isFinite(v)) return 'division by zero (undefined for ints)';
        const t = division ? Math.trunc(v) : v;
        if (t < INT32_MIN || t > INT32_MAX) return `int32 overflow (${t})`;
        out[i] = t;
      }
      return out;
    }
    default: {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = f(i) as bigint | undefined;
        if (v === undefined) return 'int64 overflow or division by zero';
        out[i] = v;
      }
      return out;
    }
  }
}

function binary(op: Binary): FoldOp {
  return {
    needs: 'all',
    fold(node, view): FoldDecision {
      const ins = operands(node, view, 2);
      if (typeof ins === 'string') return keep(ins);
      if (view.opset < 7) return keep(`opset ${view.opset} broadcasts by attribute (legacy); not folded`);
      const [a, b] = ins as [TensorValue, TensorValue];
      const dims = broadcastShapes(a.dims, b.dims);
      if (!dims) return keep(`[${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`);
      const ia = broadcastIndex(dims, a.dims);
      const ib = broadcastIndex(dims, b.dims);
      const big = a.dtype === 'int64';
      const x = a.data as ArrayLike<number | bigint>;
      const y = b.data as ArrayLike<number | bigint>;
      const f = big
        ? (i: number) => op.big(x[ia[i]!] as bigint, y[ib[i]!] as bigint)
        : (i: number) => op.number(x[ia[i]!] as number, y[ib[i]!] as number);
      const data = compute(a.dtype, ia.length, f, node.opType === 'Div');
      return typeof data === 'string' ? keep(data) : folded({ dtype: a.dtype, dims, data });
    },
  };
}

function unary(number: (a: number) => number, big: ((a: bigint) => bigint | undefined) | undefined): FoldOp {
  return {
    needs: 'all',
    fold(node, view): FoldDecision {
      const ins = operands(node, view, 1);
      if (typeof ins === 'string') return keep(ins);
      const a = ins[0]!;
      if ((a.dtype === 'int32' || a.dtype === 'int64') && !big) return keep(`${node.opType} takes floats`);
      const x = a.data as ArrayLike<number | bigint>;
      const f = a.dtype === 'int64' ? (i: number) => big!(x[i] as bigint) : (i: number) => number(x[i] as number);
      const data = compute(a.dtype, x.length, f, false);
      return typeof data === 'string' ? keep(data) : folded({ dtype: a.dtype, dims: a.dims, data });
    },
  };
}

export const ARITH_OPS: ReadonlyMap<string, FoldOp> = new Map<string, FoldOp>([
  ...[...BINARY].map(([name, op]) => [name, binary(op)] as const),
  [
    'Neg',
    unary(
      (a) => -a,
      (a) => int64(-a),
    ),
  ],
  ['Sqrt', unary(Math.sqrt, undefined)],
]);
