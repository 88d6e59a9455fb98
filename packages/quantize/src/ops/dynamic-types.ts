/**
 * Shared shapes of the dynamic op handlers. A handler looks at one node and returns its replacement as
 * data: the weights to store as 8-bit codes, the float constants to add, and the nodes that replace it,
 * reading values by reference. dynamic-place.ts writes plans into the graph: it names new values,
 * stores a weight read by several nodes once, and gives each float activation one
 * DynamicQuantizeLinear shared by all its readers (as onnxruntime's quantizer does).
 */
import type { AttrInput, DType, Graph, onnx, TensorData } from '@shrink/core';
import type { ConvFormat } from '../options.js';
import type { WeightFormat } from '../weight-format.js';

/** A value the plan adds; the placer names it uniquely after `base`. One object is one value. */
export interface NewValue {
  readonly base: string;
}

/** The three tensors of quantized values: codes, scale, zero point. */
export type QuantPart = 'codes' | 'scale' | 'zeroPoint';

/** A value a planned node reads or writes. */
export type DynamicRef =
  /** A value already in the graph (the replaced node's inputs and outputs). */
  | string
  | NewValue
  /** A stored weight of this plan, by its key. */
  | { readonly weight: string; readonly part: QuantPart }
  /** The DynamicQuantizeLinear outputs of a float activation. */
  | { readonly activation: string; readonly part: QuantPart };

/** A constant weight stored as codes + scale + zero point; an equal key stored before is reused. */
export interface PlannedWeight {
  readonly kind: 'weight';
  /** Source tensor and layout: a weight read by several nodes the same way is stored once. */
  readonly key: string;
  /** Initializer names start with it. */
  readonly base: string;
  /** The values to quantize (transposed, scaled: as the replacement reads them). */
  readonly data: Float32Array;
  readonly dims: readonly number[];
  readonly type: 'int8' | 'uint8';
  readonly symmetric: boolean;
  readonly reduceRange?: boolean;
  /** Per channel along this axis; per tensor when absent. */
  readonly axis?: number;
  /** Per channel: the scale's dims, for broadcasting against the op's output (Conv: [M, 1, 1]). */
  readonly scaleDims?: readonly number[];
  /** Per channel with one zero point for all channels (symmetric codes), stored as a scalar: ConvInteger takes no other. */
  readonly sharedZeroPoint?: boolean;
  /** Symmetric codes whose readers take zero as the zero point (a Cast): no zero point is stored. */
  readonly noZeroPoint?: boolean;
  /** The tensor errors name. */
  readonly source: string;
}

/** A float constant the replacement reads (a reshaped bias, a scaled C). */
export interface PlannedConstant {
  readonly kind: 'constant';
  readonly value: NewValue;
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData | readonly number[];
}

export interface PlannedNode {
  readonly opType: string;
  /** Node names start with it. */
  readonly name: string;
  readonly inputs: readonly DynamicRef[];
  readonly outputs: readonly DynamicRef[];
  readonly attrs?: Readonly<Record<string, AttrInput>>;
  /** Takes over the replaced node's attributes (ConvInteger keeps Conv's, the code Gather keeps Gather's). */
  readonly keepAttributes?: boolean;
  /** Takes over the replaced node's name too (the same op, reading a dequantized weight), so reports and profiles still find it. */
  readonly keepName?: boolean;
}

export interface DynamicPlan {
  /** Initializers, in the order they are written. */
  readonly initializers: readonly (PlannedWeight | PlannedConstant)[];
  /** The nodes that replace the planned one; the last writes its output. */
  readonly nodes: readonly PlannedNode[];
  /** For the report: how it was quantized. */
  readonly reason: string;
  /**
   * The plan computes in the node's own float type, float16 too (a weight-only Conv: its dequantized
   * weight ends in that type), so dynamic.ts does not run it in float32 between Casts.
   */
  readonly ownPrecision?: boolean;
  /** Run-level notes, said once per run however many nodes give them. */
  readonly notes?: readonly string[];
}

export type DynamicDecision = { kind: 'plan'; plan: DynamicPlan } | { kind: 'skip'; reason: string };

/** What a handler may read besides its node. */
export interface DynamicView {
  readonly graph: Graph;
  /** Weight codes for MatMul, Gemm and Gather. */
  readonly format: WeightFormat;
  readonly perChannel: boolean;
  /** How Conv is quantized (options.convFormat); absent means 'auto'. */
  readonly convFormat?: ConvFormat;
  /** Default-domain opset of the model. */
  readonly opset: number;
}

export type DynamicOp = (node: onnx.NodeProto, view: DynamicView) => DynamicDecision;

export function skip(reason: string): DynamicDecision {
  return { kind: 'skip', reason };
}

export function newValue(base: string): NewValue {
  return { base };
}

/** How a weight is stored: everything of a PlannedWeight but which tensor it is. */
export type WeightCoding = Omit<PlannedWeight, 'kind' | 'key' | 'base' | 'data' | 'dims' | 'source'>;

/**
 * Tensor `name`'s values, as the replacement reads them, stored under `key` as `coding` says; the
 * tensor names the initializers and errors. The values come from floatWeight/constantWeight, which
 * hand float32 data whatever the tensor's stored type.
 */
export function plannedWeight(
  key: string,
  name: string,
  values: { readonly data: TensorData; readonly dims: readonly number[] },
  coding: WeightCoding,
): PlannedWeight {
  return { kind: 'weight', key, base: name, data: values.data as Float32Array, dims: values.dims, ...coding, source: name };
}

export const weightPart = (key: string, part: QuantPart): DynamicRef => ({ weight: key, part });
export const activationPart = (name: string, part: QuantPart): DynamicRef => ({ activation: name, part });
