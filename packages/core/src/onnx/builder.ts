import { ShrinkError } from '../errors.js';
import { normalDomain } from './domain.js';
import { onnx } from './proto.js';
import { dtypeToOnnx, type DType } from './tensor.js';

// Re-exported so builder code can import everything it needs from one module.
export { makeTensor } from './tensor.js';

const AT = onnx.AttributeProto.AttributeType;

/** An attribute value with its type stated, for the cases a plain value cannot say (floats, empty lists). */
export type AttrTagged =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'strings'; readonly value: readonly string[] }
  | { readonly kind: 'tensor'; readonly value: onnx.ITensorProto }
  | { readonly kind: 'graph'; readonly value: onnx.IGraphProto };

/**
 * A plain number is INT (it must be an integer: use `attr.float` otherwise), number[] is INTS,
 * string is STRING, string[] is STRINGS; TensorProto and GraphProto objects are TENSOR and GRAPH.
 */
export type AttrInput = number | string | readonly number[] | readonly string[] | onnx.ITensorProto | onnx.IGraphProto | AttrTagged;

const TAG = Symbol('shrink.attr');

function tagged<T extends AttrTagged>(v: T): T {
  // The symbol tells tagged values apart from TensorProto/GraphProto plain objects.
  return Object.defineProperty(v, TAG, { value: true, enumerable: false });
}

export const attr = {
  int: (value: number) => tagged({ kind: 'int', value } as const),
  float: (value: number) => tagged({ kind: 'float', value } as const),
  ints: (value: readonly number[]) => tagged({ kind: 'ints', value } as const),
  floats: (value: readonly number[]) => tagged({ kind: 'floats', value } as const),
  string: (value: string) => tagged({ kind: 'string', value } as const),
  strings: (value: readonly string[]) => tagged({ kind: 'strings', value } as const),
  tensor: (value: onnx.ITensorProto) => tagged({ kind: 'tensor', value } as const),
  graph: (value: onnx.IGraphProto) => tagged({ kind: 'graph', value } as const),
};

function isTagged(v: object): v is AttrTagged {
  return (v as Record<symbol, unknown>)[TAG] === true;
}

function checkInt(where: string, v: number): number {
  if (!Number.isSafeInteger(v)) {
    throw new ShrinkError('INVALID_ARGUMENT', `${where}: ${v} is not an integer; use attr.float/attr.floats for real values`);
  }
  return v;
}

/** One AttributeProto from a name and a plain or tagged value. */
export function makeAttribute(name: string, value: AttrInput, where = `attribute '${name}'`): onnx.AttributeProto {
  const enc = new TextEncoder();
  const a = onnx.AttributeProto.create({ name });
  const set = (t: AttrTagged): onnx.AttributeProto => {
    switch (t.kind) {
      case 'int':
        a.type = AT.INT;
        a.i = checkInt(where, t.value);
        break;
      case 'float':
        a.type = AT.FLOAT;
        a.f = t.value;
        break;
      case 'ints':
        a.type = AT.INTS;
        a.ints = t.value.map((v) => checkInt(where, v));
        break;
      case 'floats':
        a.type = AT.FLOATS;
        a.floats = [...t.value];
        break;
      case 'string':
        a.type = AT.STRING;
        a.s = enc.encode(t.value);
        break;
      case 'strings':
        a.type = AT.STRINGS;
        a.strings = t.value.map((s) => enc.encode(s));
        break;
      case 'tensor':
        a.type = AT.TENSOR;
        a.t = t.value;
        break;
      case 'graph':
        a.type = AT.GRAPH;
        a.g = t.value;
        break;
    }
    return a;
  };
  if (typeof value === 'number') return set({ kind: 'int', value });
  if (typeof value === 'string') return set({ kind: 'string', value });
  if (Array.isArray(value)) {
    const list = value as readonly unknown[];
    if (list.length === 0) {
      throw new ShrinkError(
        'INVALID_ARGUMENT',
        `${where}: an empty list has no type; use attr.ints([]), attr.floats([]) or attr.strings([])`,
      );
    }
    if (list.every((v) => typeof v === 'number')) return set({ kind: 'ints', value: list });
    if (list.every((v) => typeof v === 'string')) return set({ kind: 'strings', value: list });
    throw new ShrinkError('INVALID_ARGUMENT', `${where}: a list must hold only numbers or only strings`);
  }
  if (typeof value === 'object' && value !== null) {
    if (isTagged(value)) return set(value);
    if (value instanceof onnx.TensorProto) return set({ kind: 'tensor', value });
    if (value instanceof onnx.GraphProto) return set({ kind: 'graph', value });
    if ('node' in value) return set({ kind: 'graph', value: value });
    if ('dataType' in value || 'rawData' in value || 'dims' in value) {
      return set({ kind: 'tensor', value: value });
    }
  }
  throw new ShrinkError(
    'INVALID_ARGUMENT',
    `${where}: cannot tell the type of ${JSON.stringify(value)}; use attr.int/float/ints/floats/string/strings/tensor/graph`,
  );
}

/** Like onnx.helper.make_node: attributes sorted by name, `undefined` values skipped. */
export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs?: Record<string, AttrInput | undefined>,
  opts?: { name?: string; domain?: string },
): onnx.NodeProto {
  const node = onnx.NodeProto.create({ opType, input: [...inputs], output: [...outputs] });
  if (opts?.name !== undefined) node.name = opts.name;
  if (opts?.domain !== undefined && opts.domain !== '') node.domain = opts.domain;
  const label = opts?.name ? `node '${opts.name}' (${opType})` : `${opType} node`;
  for (const key of Object.keys(attrs ?? {}).sort()) {
    const v = attrs![key];
    if (v !== undefined) node.attribute.push(makeAttribute(key, v, `${label} attribute '${key}'`));
  }
  return node;
}

/** Tensor ValueInfo; in `shape` a string is a dim_param, null an unknown dim; no shape = unknown rank. */
export function makeValueInfo(name: string, dtype: DType, shape?: readonly (number | string | null)[]): onnx.ValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: dtypeToOnnx(dtype) };
  if (shape !== undefined) {
    tensorType.shape = {
      dim: shape.map((d) => {
        if (d === null) return {};
        if (typeof d === 'string') return { dimParam: d };
        if (!Number.isInteger(d) || d < 0) {
          throw new ShrinkError('INVALID_ARGUMENT', `makeValueInfo '${name}': dim ${d} must be a non-negative integer, a name or null`);
        }
        return { dimValue: d };
      }),
    };
  }
  return onnx.ValueInfoProto.create({ name, type: { tensorType } });
}

export function makeGraph(g: {
  name?: string;
  nodes: onnx.INodeProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  initializers?: onnx.ITensorProto[];
  valueInfo?: onnx.IValueInfoProto[];
  docString?: string;
}): onnx.GraphProto {
  const graph = onnx.GraphProto.create({
    name: g.name ?? 'graph',
    node: [...g.nodes],
    input: [...g.inputs],
    output: [...g.outputs],
    initializer: [...(g.initializers ?? [])],
    valueInfo: [...(g.valueInfo ?? [])],
  });
  if (g.docString !== undefined) graph.docString = g.docString;
  return graph;
}

export const DEFAULT_OPSET = 17;
export const DEFAULT_IR_VERSION = onnx.Version.IR_VERSION; // 8 in onnx-proto 8.0.1

function nodeDomains(g: onnx.IGraphProto, out: Set<string>): void {
  for (const n of g.node ?? []) {
    out.add(normalDomain(n.domain));
    for (const a of n.attribute ?? []) {
      if (a.g) nodeDomains(a.g, out);
      for (const sub of a.graphs ?? []) nodeDomains(sub, out);
    }
  }
}

/**
 * Like onnx.helper.make_model. `opset` as a number sets the default domain; as a record it sets
 * domains explicitly. The default domain falls back to opset 17, and any other domain the nodes use
 * without an import gets version 1 (what onnxruntime's com.microsoft ops expect), so the model loads.
 */
export function makeModel(
  graph: onnx.IGraphProto,
  opts?: {
    opset?: number | Record<string, number>;
    irVersion?: number;
    producerName?: string;
    producerVersion?: string;
    metadata?: Record<string, string>;
    docString?: string;
  },
): onnx.ModelProto {
  const opsets = new Map<string, number>();
  const o = opts?.opset;
  if (typeof o === 'number') opsets.set('', o);
  else if (o) for (const [d, v] of Object.entries(o)) opsets.set(normalDomain(d), v);
  if (!opsets.has('')) opsets.set('', DEFAULT_OPSET);
  const used = new Set<string>();
  nodeDomains(graph, used);
  for (const d of used) if (d !== '' && !opsets.has(d)) opsets.set(d, 1);
  const model = onnx.ModelProto.create({
    irVersion: opts?.irVersion ?? DEFAULT_IR_VERSION,
    producerName: opts?.producerName ?? 'shrink',
    graph,
    opsetImport: [...opsets].map(([domain, version]) => onnx.OperatorSetIdProto.create({ domain, version })),
  });
  if (opts?.producerVersion !== undefined) model.producerVersion = opts.producerVersion;
  if (opts?.docString !== undefined) model.docString = opts.docString;
  if (opts?.metadata) {
    model.metadataProps = Object.entries(opts.metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  }
  return model;
}
