import type * as tfjs from '@tensorflow/tfjs';
import { ShrinkError } from '../../errors.js';
import type { Graph } from '../../onnx/graph.js';
import { nodeLabel } from '../../onnx/node-label.js';
import type { onnx } from '../../onnx/proto.js';
import { toFloat32, type TensorValue } from '../../onnx/tensor.js';
import type { StaticShapes } from './import-static.js';

export type Tf = typeof tfjs;

/**
 * What an ONNX value is in the tfjs model being built. The tfjs tensor may hold the ONNX value with its
 * axes reordered (`perm`: ONNX axis i is tfjs axis perm[i]; NCHW images live as NHWC, perm [0,3,1,2]),
 * and a matrix flattened from such an image has its features in tfjs order (`rowPerm`: ONNX feature i
 * is tfjs feature rowPerm[i]) until a Dense layer absorbs the order into its kernel rows.
 */
export interface TfValue {
  t: tfjs.SymbolicTensor;
  perm: readonly number[];
  rowPerm?: Int32Array;
  /** Known to be >= 0 (after Relu and the like): lets zero padding stand in for MaxPool's -inf padding. */
  nonNegative?: boolean;
}

export interface Weight {
  dims: number[];
  data: Float32Array;
}

export const identityPerm = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);
export const samePerm = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export function describeNode(node: onnx.INodeProto): string {
  return `node '${nodeLabel(node) || '?'}' (${node.opType})`;
}

/** Builds the tfjs functional graph node by node and records which layers each ONNX node became. */
export class ImportBuilder {
  readonly values = new Map<string, TfValue>();
  /** Nodes already converted as part of a neighbour (a fused activation, a bias Add). */
  readonly absorbed = new Map<onnx.NodeProto, onnx.NodeProto>();
  private readonly layerNames = new Set<string>();
  private readonly permuted = new Map<string, tfjs.SymbolicTensor>();
  private scope = 'layer';
  private scopeLayers: string[] = [];

  constructor(
    readonly tf: Tf,
    readonly graph: Graph,
    readonly opset: number,
    /** ONNX shapes of values at two batch sizes (see import-static.ts). */
    readonly staticShapes: StaticShapes,
    /** Nodes that only compute shapes: they become no layer and do not count as readers of data. */
    readonly shapeNodes: ReadonlySet<onnx.NodeProto>,
  ) {}

  /** The nodes that read `value` as data (shape computations, which only look at its dims, left out). */
  consumers(value: string): onnx.NodeProto[] {
    return this.graph.consumers(value).filter((c) => !this.shapeNodes.has(c));
  }

  unsupported(node: onnx.INodeProto, why: string): ShrinkError {
    return new ShrinkError('UNSUPPORTED_OP', `${describeNode(node)} ${why}`);
  }

  begin(node: onnx.INodeProto, index: number): void {
    this.scope = sanitize(node.name || `${node.opType}_${index}`);
    this.scopeLayers = [];
  }

  end(): string[] {
    const done = this.scopeLayers;
    this.scopeLayers = [];
    return done;
  }

  /** A tfjs layer name derived from the current node, unique in this model. */
  layerName(suffix?: string): string {
    return this.freshName(suffix ? `${this.scope}_${suffix}` : this.scope);
  }

  /** A unique tfjs layer name from any text. */
  freshName(text: string): string {
    const base = sanitize(text);
    let name = base;
    for (let i = 1; this.layerNames.has(name); i++) name = `${base}_${i}`;
    this.layerNames.add(name);
    return name;
  }

  /** Applies a new layer and sets its weights (the layer is built by the call, so it has variables to set). */
  apply(layer: tfjs.layers.Layer, x: tfjs.SymbolicTensor | tfjs.SymbolicTensor[], weights?: Weight[]): tfjs.SymbolicTensor {
    const y = layer.apply(x) as tfjs.SymbolicTensor;
    if (weights) {
      const ts = weights.map((w) => this.tf.tensor(w.data, w.dims, 'float32'));
      layer.setWeights(ts);
      ts.forEach((t) => t.dispose());
    }
    this.scopeLayers.push(layer.name);
    return y;
  }

  /** The converted value of input `i` of `node`. */
  input(node: onnx.NodeProto, i: number): TfValue {
    const name = node.input[i] ?? '';
    const v = this.values.get(name);
    if (v) return v;
    if (this.graph.constantValue(name)) {
      throw this.unsupported(node, `takes constant '${name}' as input ${i}; constants are imported only as weights and shapes`);
    }
    throw this.unsupported(node, `reads '${name}', which no imported node computes`);
  }

  /** Input `i` as a float constant (initializer or Constant node), or undefined when the input is absent. */
  optionalConstant(node: onnx.NodeProto, i: number): Weight | undefined {
    const name = node.input[i];
    if (!name) return undefined;
    const c = this.graph.constantValue(name);
    if (!c)
      throw this.unsupported(
        node,
        `computes its input ${i} ('${name}') at run time; only initializers and Constant nodes are imported there`,
      );
    return { dims: c.dims, data: Float32Array.from(toFloat32(c)) };
  }

  constant(node: onnx.NodeProto, i: number, what: string): Weight {
    const w = this.optionalConstant(node, i);
    if (!w) throw this.unsupported(node, `has no ${what} (input ${i})`);
    return w;
  }

  /** Input `i` as integers (shapes, pads, axes). */
  integers(node: onnx.NodeProto, i: number): number[] | undefined {
    const name = node.input[i];
    if (!name) return undefined;
    const c: TensorValue | undefined = this.graph.constantValue(name);
    if (!c) throw this.unsupported(node, `computes its input ${i} ('${name}') at run time; it must be an initializer or a Constant node`);
    return Array.from(c.data as ArrayLike<number | bigint>, (v) => Number(v));
  }

  /** ONNX-order static shape of a value (null = unknown). */
  onnxShape(v: TfValue): (number | null)[] {
    return v.perm.map((p) => v.t.shape[p] ?? null);
  }

  /**
   * The tfjs tensor of `v` with its axes in order `want` (same meaning as TfValue.perm), adding one
   * Permute layer per value and order when they differ.
   */
  inPerm(node: onnx.INodeProto, v: TfValue, want: readonly number[]): tfjs.SymbolicTensor {
    if (v.rowPerm) throw this.unsupported(node, 'reads a flattened NCHW tensor in tfjs order; only Dense layers can absorb that order');
    if (samePerm(v.perm, want)) return v.t;
    // New tfjs axis want[i] must hold old tfjs axis perm[i].
    const dims = new Array<number>(want.length);
    want.forEach((q, i) => (dims[q] = v.perm[i]!));
    if (dims[0] !== 0) throw this.unsupported(node, 'needs the batch axis moved, which a tfjs model cannot do');
    const key = `${v.t.id}:${want.join(',')}`;
    let t = this.permuted.get(key);
    if (!t) {
      t = this.apply(this.tf.layers.permute({ dims: dims.slice(1), name: this.layerName('permute') }), v.t);
      this.permuted.set(key, t);
    }
    return t;
  }
}

/** tfjs layer names become weight paths ('name/kernel'), so keep them to word characters. */
function sanitize(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return /^[A-Za-z]/.test(clean) ? clean : `n_${clean}`;
}
