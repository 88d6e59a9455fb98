import type { onnx } from '../../onnx/proto.js';
import { makeNode, makeTensor, type AttrInput } from '../../onnx/builder.js';
import { invertPerm, NCHW_TO_NHWC, NHWC_TO_NCHW } from './permute.js';

/**
 * Where a value's axes sit in the ONNX graph: 'native' = the tfjs order (NHWC for images), 'nchw' = a
 * rank-4 tensor transposed for ONNX's Conv/Pool. Layout changes only when an op needs it, so a run of
 * conv/pool/batchnorm layers shares one Transpose in and one out.
 */
export type Layout = 'native' | 'nchw';

export interface OnnxValue {
  name: string;
  layout: Layout;
  /** Rank including the batch axis. */
  rank: number;
}

/** ONNX axis holding tfjs axis `axis` of `x` (negative counts from the end). */
export function onnxAxis(x: OnnxValue, axis: number): number {
  const a = axis < 0 ? axis + x.rank : axis;
  return x.layout === 'nchw' ? invertPerm(NHWC_TO_NCHW)[a]! : a;
}

/** Collects the nodes and initializers of one export; node names are recorded per tfjs layer for the report. */
export class OnnxEmitter {
  readonly nodes: onnx.NodeProto[] = [];
  readonly initializers: onnx.TensorProto[] = [];
  private readonly names = new Set<string>();
  private readonly relaid = new Map<string, OnnxValue>();
  private scope = 'graph';
  private scopeNodes: string[] = [];

  constructor(readonly opset: number) {}

  /** A value or node name not used before, based on `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  reserve(name: string): void {
    this.names.add(name);
  }

  /** Starts the node list of one tfjs layer; names of later nodes start with `layerName/`. */
  begin(layerName: string): void {
    this.scope = layerName;
    this.scopeNodes = [];
  }

  end(): string[] {
    const done = this.scopeNodes;
    this.scopeNodes = [];
    return done;
  }

  /** Adds one single-output node and returns its output name. */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrInput>): string {
    const name = this.unique(`${this.scope}/${opType}`);
    const output = this.unique(`${name}:0`);
    this.nodes.push(makeNode(opType, inputs, [output], attrs, { name }));
    this.scopeNodes.push(name);
    return output;
  }

  /** Adds a float32 initializer named after the current layer. */
  weight(what: string, dims: readonly number[], data: Float32Array): string {
    const name = this.unique(`${this.scope}/${what}`);
    this.initializers.push(makeTensor(name, 'float32', dims, data));
    return name;
  }

  int64s(what: string, values: readonly number[]): string {
    const name = this.unique(`${this.scope}/${what}`);
    this.initializers.push(makeTensor(name, 'int64', [values.length], values));
    return name;
  }

  /**
   * The value in `layout`, adding one Transpose the first time it is asked for; later requests for the
   * same value reuse it, so branches that both need NCHW share a transpose.
   */
  toLayout(v: OnnxValue, layout: Layout): OnnxValue {
    if (v.rank !== 4 || v.layout === layout) return v;
    const key = `${v.name}->${layout}`;
    const cached = this.relaid.get(key);
    if (cached) return cached;
    const perm = layout === 'nchw' ? NHWC_TO_NCHW : NCHW_TO_NHWC;
    const out: OnnxValue = { name: this.op('Transpose', [v.name], { perm: [...perm] }), layout, rank: 4 };
    this.relaid.set(key, out);
    this.relaid.set(`${out.name}->${v.layout}`, v);
    return out;
  }

  /**
   * Gives the value produced under `from` the name `to` (a graph output named after its tfjs layer).
   * Returns false when no node produces `from` (it is a graph input), so the caller adds an Identity.
   */
  rename(from: string, to: string): boolean {
    const producer = this.nodes.find((n) => n.output?.includes(from));
    if (!producer) return false;
    for (const n of this.nodes) {
      if (n.output) n.output = n.output.map((o) => (o === from ? to : o));
      if (n.input) n.input = n.input.map((i) => (i === from ? to : i));
    }
    for (const [k, v] of this.relaid) if (v.name === from) this.relaid.set(k, { ...v, name: to });
    return true;
  }
}
