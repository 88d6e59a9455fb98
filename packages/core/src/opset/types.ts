import type { onnx } from '../onnx/proto.js';
import type { DType, TensorValue } from '../onnx/tensor.js';

/** Which way a conversion steps through opset versions. */
export type OpsetDirection = 'up' | 'down';

/** What an adapter may ask about the graph a node sits in (this graph and the graphs around it). */
export interface AdapterScope {
  /** The version being stepped to (up: the new schema's version; down: one below the schema left). */
  readonly to: number;
  /** The version the whole conversion ends at. */
  readonly target: number;
  /** Value of an initializer or Constant output visible here; undefined when computed at run time. */
  constant(name: string): TensorValue | undefined;
  /** Rank of a value when the graph declares or implies it. */
  rank(name: string): number | undefined;
  /** Element type of a value when known (declared, or followed from the inputs). */
  dtype(name: string): DType | undefined;
  /** A value name unused anywhere in the model. */
  fresh(base: string): string;
  /** Whether a value is read by any node or is a graph output (in this graph or below). */
  used(name: string): boolean;
}

/** What an adapter decides for one node: data, applied by the converter. */
export type AdapterPlan =
  /** The node is fine as it is at the new version. */
  | { readonly kind: 'keep' }
  /**
   * The node is replaced by `nodes` (in order, writing the original node's output names), with
   * `initializers` added to its graph. `what` says what changed, for the report.
   */
  | {
      readonly kind: 'rewrite';
      readonly nodes: readonly onnx.INodeProto[];
      readonly initializers?: readonly onnx.ITensorProto[];
      readonly what: string;
      readonly note?: string;
    }
  /** The node cannot be carried across this version: why, in a few words. */
  | { readonly kind: 'refuse'; readonly why: string };

/** One op's rule for one version step. */
export interface OpsetAdapter {
  readonly op: string;
  readonly direction: OpsetDirection;
  /** Up: the version whose schema the node moves to. Down: the version whose schema the node leaves. */
  readonly version: number;
  plan(node: onnx.INodeProto, scope: AdapterScope): AdapterPlan;
}

/** One node the conversion rewrote. */
export interface OpsetChange {
  readonly node: string;
  readonly op: string;
  /** The step: up from version-1 to version, or down from version to version-1. */
  readonly version: number;
  readonly what: string;
}

export interface ConvertOpsetResult {
  readonly model: onnx.ModelProto;
  readonly fromOpset: number;
  readonly toOpset: number;
  readonly irVersion: { readonly from: number; readonly to: number };
  readonly changes: readonly OpsetChange[];
  /** Nodes changed, counted per op (the op each had before the conversion). */
  readonly counts: Readonly<Record<string, number>>;
  /** Distinct nodes rewritten (a node rewritten at several steps counts once). */
  readonly nodesChanged: number;
  readonly notes: readonly string[];
}
