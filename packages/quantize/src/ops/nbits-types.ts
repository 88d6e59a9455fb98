/**
 * Shared shapes of the weight-only (MatMulNBits) handlers. A handler looks at one node and returns, as
 * data, the weight to pack ([K, N] as the MatMul reads it), the bias and the values MatMulNBits reads
 * and writes; nbits-place.ts quantizes and writes them, once per weight key.
 */
import type { Graph, onnx } from '@shrink/core';

/** A float weight to store as MatMulNBits blocks. */
export interface NBitsWeight {
  /** Source tensor, layout and scaling: a weight read by several nodes the same way is stored once. */
  readonly key: string;
  /** The tensor initializer names start from, and errors name. */
  readonly source: string;
  /** B [K, N], row-major: transposed and scaled as the node reads it. */
  readonly data: Float32Array;
  readonly K: number;
  readonly N: number;
  /** The weight's float type: MatMulNBits wants scales (and bias) in A's type. */
  readonly floatType: 'float32' | 'float16';
}

/** MatMulNBits' bias: a constant read as it is, or N values written in the weight's float type. */
export type NBitsBias = { readonly value: string } | { readonly base: string; readonly data: Float32Array };

export interface NBitsPlan {
  /** A [.., K]. */
  readonly input: string;
  readonly weight: NBitsWeight;
  readonly bias?: NBitsBias;
  /** The replaced node's output, which MatMulNBits writes. */
  readonly output: string;
  /**
   * An embedding lookup (nbits-gather.ts): `input` holds indices into the N rows of the table, whose
   * transpose is `weight` (so a head reading the same table transposed shares the stored blocks), and the
   * node becomes com.microsoft GatherBlockQuantized instead of MatMulNBits.
   */
  readonly lookup?: true;
  /**
   * A lookup of the rows a Slice takes (nbits-slice.ts): the indices are computed from its starts and ends
   * (one value each, axis 0, step 1) as Slice clamps them; `input` is unused.
   */
  readonly rows?: { readonly starts: string; readonly ends: string };
}

export type NBitsDecision = { kind: 'plan'; plan: NBitsPlan } | { kind: 'skip'; reason: string };

/** What a handler may read besides its node. */
export interface NBitsView {
  readonly graph: Graph;
  /** The block size codes are stored in: GatherBlockQuantized rows must hold whole blocks (absent: not checked). */
  readonly blockSize?: number;
}

export type NBitsOp = (node: onnx.NodeProto, view: NBitsView) => NBitsDecision;

export function skip(reason: string): NBitsDecision {
  return { kind: 'skip', reason };
}
