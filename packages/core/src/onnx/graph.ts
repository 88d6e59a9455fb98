import { ShrinkError } from '../errors.js';
import { constantTensor } from './constant-tensor.js';
import { isDefaultDomain, normalDomain } from './domain.js';
import { onnx, toNumber, type Long } from './proto.js';
import {
  dtypeFromOnnx,
  makeTensor,
  readTensor,
  tensorDims,
  type DType,
  type MakeTensorOptions,
  type TensorData,
  type TensorValue,
} from './tensor.js';

/** A node given by identity or by name. */
export type NodeRef = onnx.INodeProto | string;

/** A dim: number = known, string = dim_param, null = unknown. */
export type Dim = number | string | null;

// Tensor payloads are shared between a model and its clones; nothing in Shrink writes into them in place.
const SHARED_PAYLOAD = new Set<PropertyKey>(['rawData', 'floatData', 'int32Data', 'stringData', 'int64Data', 'doubleData', 'uint64Data']);

/**
 * Structural copy that keeps each object's prototype (protobufjs classes and their defaults, Long)
 * and every own property, `$unknown` included, but shares byte buffers and tensor payload arrays.
 */
function cloneDeep<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) return v.map(cloneDeep) as T;
  const out = Object.create(Object.getPrototypeOf(v) as object) as Record<PropertyKey, unknown>;
  for (const key of Reflect.ownKeys(v)) {
    const desc = Object.getOwnPropertyDescriptor(v, key)!;
    if ('value' in desc && !SHARED_PAYLOAD.has(key)) desc.value = cloneDeep(desc.value);
    Object.defineProperty(out, key, desc);
  }
  return out as T;
}

/** A structural copy of `model`: new messages and arrays everywhere, tensor bytes shared. */
export function cloneModel(model: onnx.IModelProto): onnx.ModelProto {
  const c = cloneDeep(model);
  return c instanceof onnx.ModelProto ? c : onnx.ModelProto.create(c);
}

function int64(v: number | Long | null | undefined): number {
  return toNumber(v);
}

/** The graphs a node's attributes hold (If branches, Loop/Scan bodies), one level deep. */
export function subgraphsOf(node: onnx.INodeProto): onnx.IGraphProto[] {
  const out: onnx.IGraphProto[] = [];
  for (const a of node.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

/** The nodes of `g` and of every If/Loop/Scan body in it, recursively, each graph's before its bodies'. */
export function nodesDeep(g: onnx.IGraphProto | null | undefined): onnx.INodeProto[] {
  return (g?.node ?? []).flatMap((n) => [n, ...subgraphsOf(n).flatMap(nodesDeep)]);
}

/** Names a subgraph (and its own subgraphs) reads from enclosing scopes. */
function outerRefs(g: onnx.IGraphProto, into: Set<string>): void {
  const defined = new Set<string>();
  for (const v of g.input ?? []) if (v.name) defined.add(v.name);
  for (const t of g.initializer ?? []) if (t.name) defined.add(t.name);
  for (const s of g.sparseInitializer ?? []) if (s.values?.name) defined.add(s.values.name);
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o) defined.add(o);
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) if (i && !defined.has(i)) into.add(i);
    const inner = new Set<string>();
    for (const sg of subgraphsOf(n)) outerRefs(sg, inner);
    for (const r of inner) if (!defined.has(r)) into.add(r);
  }
}

/** Every value name a node reads: its inputs plus what its subgraphs read from outside, deduplicated. */
export function nodeUses(node: onnx.INodeProto): string[] {
  const uses = new Set<string>();
  for (const i of node.input ?? []) if (i) uses.add(i);
  for (const sg of subgraphsOf(node)) outerRefs(sg, uses);
  return [...uses];
}

/** Renames reads of `from` inside a subgraph, except where the subgraph defines its own `from`. */
function renameInSubgraph(g: onnx.IGraphProto, from: string, to: string): void {
  const shadows =
    (g.input ?? []).some((v) => v.name === from) ||
    (g.initializer ?? []).some((t) => t.name === from) ||
    (g.node ?? []).some((n) => (n.output ?? []).includes(from));
  if (shadows) return;
  for (const n of g.node ?? []) {
    n.input = (n.input ?? []).map((i) => (i === from ? to : i));
    for (const sg of subgraphsOf(n)) renameInSubgraph(sg, from, to);
  }
}

function describe(node: onnx.INodeProto): string {
  return node.name
    ? `node '${node.name}' (${node.opType ?? '?'})`
    : `${node.opType ?? '?'} node producing '${(node.output ?? [])[0] ?? ''}'`;
}

/** Element type of a tensor TypeProto; undefined when unset or a type Shrink does not carry. */
export function typeDtype(t: onnx.ITypeProto | null | undefined): DType | undefined {
  const code = t?.tensorType?.elemType;
  if (!code) return undefined;
  try {
    return dtypeFromOnnx(code);
  } catch {
    return undefined;
  }
}

/** Dims of a tensor TypeProto (number, dim_param name, or null); undefined = unknown rank. */
export function typeShape(t: onnx.ITypeProto | null | undefined): Dim[] | undefined {
  const shape = t?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => {
    // protobufjs keeps a default dim_value (Long 0) on the prototype: only an own one is real.
    if (Object.prototype.hasOwnProperty.call(d, 'dimValue') && d.dimValue !== null && d.dimValue !== undefined) {
      return int64(d.dimValue);
    }
    return d.dimParam ? d.dimParam : null;
  });
}

/** Imported opset version of a domain ('' and 'ai.onnx' are the same); undefined if not imported. */
export function opsetVersionOf(model: onnx.IModelProto, domain = ''): number | undefined {
  const want = normalDomain(domain);
  const e = (model.opsetImport ?? []).find((o) => normalDomain(o.domain) === want);
  return e ? int64(e.version) : undefined;
}

// --- attribute readers (absent attribute -> the default, as ONNX specifies) ------------------------

const AT = onnx.AttributeProto.AttributeType;

export function findAttr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

function has(a: onnx.IAttributeProto, field: string, type: number): boolean {
  // Decoded messages keep unset scalars as prototype defaults; an own field or a matching type is set.
  return Object.prototype.hasOwnProperty.call(a, field) || a.type === type;
}

export function attrInt(node: onnx.INodeProto, name: string, dflt: number): number {
  const a = findAttr(node, name);
  return a && has(a, 'i', AT.INT) ? int64(a.i) : dflt;
}
export function attrFloat(node: onnx.INodeProto, name: string, dflt: number): number {
  const a = findAttr(node, name);
  return a && has(a, 'f', AT.FLOAT) ? (a.f ?? 0) : dflt;
}
export function attrString(node: onnx.INodeProto, name: string, dflt: string): string {
  const a = findAttr(node, name);
  return a && has(a, 's', AT.STRING) ? new TextDecoder().decode(a.s ?? new Uint8Array(0)) : dflt;
}
/** INTS attribute; undefined when absent (an empty list reads as absent, as protobuf cannot tell). */
export function attrInts(node: onnx.INodeProto, name: string): number[] | undefined {
  const v = findAttr(node, name)?.ints;
  return v && v.length > 0 ? v.map(int64) : undefined;
}
export function attrFloats(node: onnx.INodeProto, name: string): number[] | undefined {
  const v = findAttr(node, name)?.floats;
  return v && v.length > 0 ? [...v] : undefined;
}

/**
 * An editable view over a ModelProto. `Graph.from(model)` works on a structural copy, so the caller's
 * model is never mutated; `toModel()` returns a fresh ModelProto. Producer/consumer indexes are kept
 * up to date by the edit methods: change nodes through them (or call `reindex()` after editing node
 * fields directly). Subgraphs (If/Loop/Scan bodies) are carried untouched; a node whose subgraph reads
 * an outer value counts as a consumer of that value.
 */
export class Graph {
  private readonly model: onnx.ModelProto;
  private readonly g: onnx.GraphProto;
  private readonly producerOf = new Map<string, onnx.NodeProto>();
  private readonly consumersOf = new Map<string, onnx.NodeProto[]>();
  /** What each node was indexed under, so unindexing is exact even after direct field edits. */
  private readonly indexed = new Map<onnx.NodeProto, { uses: string[]; outputs: string[] }>();
  private readonly initByName = new Map<string, onnx.TensorProto>();
  private readonly takenValues = new Set<string>();
  private readonly takenNodes = new Set<string>();
  private typeCache: Map<string, onnx.IValueInfoProto> | undefined;
  /** Node -> index in graph order; dropped whenever the node list changes. */
  private positions: Map<onnx.NodeProto, number> | undefined;
  /** Names more than one node writes (invalid, but seen): the only ones needing a producer rescan. */
  private readonly multiProduced = new Set<string>();

  private constructor(model: onnx.ModelProto) {
    this.model = model;
    if (!model.graph) throw new ShrinkError('INVALID_MODEL', 'model has no graph; expected ModelProto.graph to be set');
    const g = model.graph instanceof onnx.GraphProto ? model.graph : onnx.GraphProto.create(model.graph);
    model.graph = g;
    // Plain-object models become message instances, so every field has its proto default.
    g.node = g.node.map((n) => (n instanceof onnx.NodeProto ? n : onnx.NodeProto.create(n)));
    g.initializer = g.initializer.map((t) => (t instanceof onnx.TensorProto ? t : onnx.TensorProto.create(t)));
    const vi = (v: onnx.IValueInfoProto): onnx.ValueInfoProto => (v instanceof onnx.ValueInfoProto ? v : onnx.ValueInfoProto.create(v));
    g.input = g.input.map(vi);
    g.output = g.output.map(vi);
    g.valueInfo = g.valueInfo.map(vi);
    this.g = g;
    this.reindex();
  }

  /** A view over a structural copy of `model` (tensor bytes are shared, never written). */
  static from(model: onnx.IModelProto): Graph {
    return new Graph(cloneModel(model));
  }

  // The constructor made every element a message instance; these accessors carry that to the types.
  private get nodeArr(): onnx.NodeProto[] {
    return this.g.node as onnx.NodeProto[];
  }
  private get initArr(): onnx.TensorProto[] {
    return this.g.initializer as onnx.TensorProto[];
  }
  private get inputArr(): onnx.ValueInfoProto[] {
    return this.g.input as onnx.ValueInfoProto[];
  }
  private get outputArr(): onnx.ValueInfoProto[] {
    return this.g.output as onnx.ValueInfoProto[];
  }
  private get viArr(): onnx.ValueInfoProto[] {
    return this.g.valueInfo as onnx.ValueInfoProto[];
  }

  /** Rebuilds every index; needed only after editing node or graph fields directly. */
  reindex(): void {
    this.producerOf.clear();
    this.consumersOf.clear();
    this.indexed.clear();
    this.initByName.clear();
    this.multiProduced.clear();
    this.typeCache = undefined;
    this.positions = undefined;
    for (const t of this.initArr) {
      this.initByName.set(t.name, t);
      this.takenValues.add(t.name);
    }
    for (const v of [...this.inputArr, ...this.outputArr, ...this.viArr]) if (v.name) this.takenValues.add(v.name);
    for (const n of this.nodeArr) this.indexNode(n);
    // Names inside subgraphs are reserved too, so a generated outer name never shadows an inner one.
    const walk = (g: onnx.IGraphProto): void => {
      for (const n of g.node ?? []) {
        if (n.name) this.takenNodes.add(n.name);
        for (const o of n.output ?? []) if (o) this.takenValues.add(o);
        for (const sg of subgraphsOf(n)) walk(sg);
      }
      for (const v of [...(g.input ?? []), ...(g.output ?? [])]) if (v.name) this.takenValues.add(v.name);
      for (const t of g.initializer ?? []) if (t.name) this.takenValues.add(t.name);
    };
    for (const n of this.nodeArr) for (const sg of subgraphsOf(n)) walk(sg);
  }

  private indexNode(n: onnx.NodeProto): void {
    const uses = nodeUses(n);
    const outputs = n.output.filter((o) => o !== '');
    this.indexed.set(n, { uses, outputs });
    for (const o of outputs) {
      if (!this.producerOf.has(o)) this.producerOf.set(o, n);
      else if (this.producerOf.get(o) !== n) this.multiProduced.add(o);
      this.takenValues.add(o);
    }
    for (const u of uses) {
      const list = this.consumersOf.get(u);
      if (list) list.push(n);
      else this.consumersOf.set(u, [n]);
      this.takenValues.add(u);
    }
    if (n.name) this.takenNodes.add(n.name);
  }

  private unindexNode(n: onnx.NodeProto): void {
    const rec = this.indexed.get(n);
    if (!rec) return;
    this.indexed.delete(n);
    for (const o of rec.outputs) {
      if (this.producerOf.get(o) === n) {
        this.producerOf.delete(o);
        // Another node may also write this name (an invalid model); keep it findable.
        const other = this.multiProduced.has(o) ? this.nodeArr.find((m) => m !== n && this.indexed.get(m)?.outputs.includes(o)) : undefined;
        if (other) this.producerOf.set(o, other);
      }
    }
    for (const u of rec.uses) {
      const list = this.consumersOf.get(u);
      if (!list) continue;
      const i = list.indexOf(n);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.consumersOf.delete(u);
    }
  }

  // --- reading ----------------------------------------------------------------------------------

  /** Nodes in graph order (the live array: copy it before editing while iterating). */
  get nodes(): readonly onnx.NodeProto[] {
    return this.nodeArr;
  }
  get inputs(): readonly onnx.ValueInfoProto[] {
    return this.inputArr;
  }
  get outputs(): readonly onnx.ValueInfoProto[] {
    return this.outputArr;
  }
  get initializers(): readonly onnx.TensorProto[] {
    return this.initArr;
  }
  get valueInfo(): readonly onnx.ValueInfoProto[] {
    return this.viArr;
  }
  get name(): string {
    return this.g.name;
  }
  /** Graph inputs the caller feeds (IR < 4 models also list initializers as inputs). */
  get feedInputs(): onnx.ValueInfoProto[] {
    return this.inputArr.filter((v) => !this.initByName.has(v.name));
  }

  producer(value: string): onnx.NodeProto | undefined {
    return this.producerOf.get(value);
  }
  /** Nodes reading `value`, in graph order, each once (subgraph reads included). */
  consumers(value: string): onnx.NodeProto[] {
    const list = this.consumersOf.get(value);
    if (!list) return [];
    const order = (this.positions ??= new Map(this.nodeArr.map((n, i) => [n, i])));
    return [...list].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  }
  node(name: string): onnx.NodeProto | undefined {
    return this.nodeArr.find((n) => n.name === name);
  }
  nodeIndex(ref: NodeRef): number {
    return typeof ref === 'string' ? this.nodeArr.findIndex((n) => n.name === ref) : this.nodeArr.indexOf(ref as onnx.NodeProto);
  }
  isGraphInput(name: string): boolean {
    return this.inputArr.some((v) => v.name === name);
  }
  isGraphOutput(name: string): boolean {
    return this.outputArr.some((v) => v.name === name);
  }
  /** Whether any node, input, output, initializer or value_info (here or in a subgraph) uses `name`. */
  hasValue(name: string): boolean {
    return this.takenValues.has(name);
  }

  // --- initializers -----------------------------------------------------------------------------

  initializer(name: string): onnx.TensorProto | undefined {
    return this.initByName.get(name);
  }
  isInitializer(name: string): boolean {
    return this.initByName.has(name);
  }
  /** The initializer decoded into a typed array the caller owns. */
  readInitializer(name: string): TensorValue {
    const t = this.initByName.get(name);
    if (!t) throw new ShrinkError('NOT_FOUND', `graph '${this.g.name}' has no initializer '${name}'`);
    return readTensor(t);
  }
  /**
   * Initializer or Constant-node value of `name`, decoded; undefined when it is computed at run time.
   * An Identity of a constant is that constant: PyTorch's exporter deduplicates equal initializers (the
   * zero biases of a freshly initialised ResNet) into one tensor read through Identity nodes.
   */
  constantValue(name: string): TensorValue | undefined {
    const t = this.initByName.get(name);
    if (t) return readTensor(t);
    const p = this.producerOf.get(name);
    if (p && p.opType === 'Identity' && isDefaultDomain(p) && p.input[0] && p.input[0] !== name) {
      const v = this.constantValue(p.input[0]);
      return v ? { ...v, name } : undefined;
    }
    const c = p ? constantTensor(p) : undefined;
    return c ? { ...readTensor(c), name } : undefined;
  }

  /**
   * Adds or replaces an initializer (a replacement keeps its position). A graph input of the same name
   * (IR < 4 style) gets the new type; a stale value_info entry for it is dropped. With
   * `{ copy: false }` the initializer takes ownership of a typed-array `data` (see makeTensor).
   */
  setInitializer(tensor: onnx.ITensorProto): onnx.TensorProto;
  setInitializer(
    name: string,
    dtype: DType,
    dims: readonly number[],
    data: TensorData | readonly number[],
    opts?: MakeTensorOptions,
  ): onnx.TensorProto;
  setInitializer(
    a: onnx.ITensorProto | string,
    dtype?: DType,
    dims?: readonly number[],
    data?: TensorData | readonly number[],
    opts?: MakeTensorOptions,
  ): onnx.TensorProto {
    let t: onnx.TensorProto;
    if (typeof a === 'string') t = makeTensor(a, dtype!, dims!, data!, opts);
    else t = a instanceof onnx.TensorProto ? a : onnx.TensorProto.create(a);
    if (!t.name) throw new ShrinkError('INVALID_ARGUMENT', `setInitializer: the tensor needs a name`);
    const old = this.initByName.get(t.name);
    if (old) this.initArr[this.initArr.indexOf(old)] = t;
    else this.initArr.push(t);
    this.initByName.set(t.name, t);
    this.takenValues.add(t.name);
    const input = this.inputArr.find((v) => v.name === t.name);
    if (input) input.type = { tensorType: { elemType: t.dataType, shape: { dim: tensorDims(t).map((d) => ({ dimValue: d })) } } };
    this.g.valueInfo = this.viArr.filter((v) => v.name !== t.name);
    this.typeCache = undefined;
    return t;
  }

  /** Removes an initializer (and its IR < 4 graph-input entry). */
  removeInitializer(name: string): void {
    const t = this.initByName.get(name);
    if (!t) return;
    this.initArr.splice(this.initArr.indexOf(t), 1);
    this.initByName.delete(name);
    this.g.input = this.inputArr.filter((v) => v.name !== name);
    this.typeCache = undefined;
  }

  // --- types and shapes -------------------------------------------------------------------------

  private typeInfo(name: string): onnx.IValueInfoProto | undefined {
    if (!this.typeCache) {
      const m = new Map<string, onnx.IValueInfoProto>();
      // Later entries win: graph inputs and outputs are the declared interface.
      for (const v of [...this.viArr, ...this.outputArr, ...this.inputArr]) if (v.name) m.set(v.name, v);
      this.typeCache = m;
    }
    return this.typeCache.get(name);
  }

  dtypeOf(name: string): DType | undefined {
    const t = this.initByName.get(name) ?? this.constantProto(name);
    if (t) return dtypeFromOnnx(t.dataType ?? 0);
    return typeDtype(this.typeInfo(name)?.type);
  }

  /** Declared shape (initializer dims, Constant value, inputs/outputs/value_info); undefined = unknown rank. */
  shapeOf(name: string): Dim[] | undefined {
    const t = this.initByName.get(name) ?? this.constantProto(name);
    if (t) return tensorDims(t);
    return typeShape(this.typeInfo(name)?.type);
  }

  private constantProto(name: string): onnx.ITensorProto | undefined {
    const p = this.producerOf.get(name);
    return p ? constantTensor(p) : undefined;
  }

  /** Sets the type of a value: updates a graph input/output entry of that name, else value_info. */
  setValueInfo(vi: onnx.IValueInfoProto): void {
    const v = vi instanceof onnx.ValueInfoProto ? vi : onnx.ValueInfoProto.create(vi);
    if (!v.name) throw new ShrinkError('INVALID_ARGUMENT', 'setValueInfo: the value info needs a name');
    let placed = false;
    for (const list of [this.inputArr, this.outputArr]) {
      const i = list.findIndex((e) => e.name === v.name);
      if (i >= 0) {
        list[i] = v;
        placed = true;
      }
    }
    if (!placed) {
      const i = this.viArr.findIndex((e) => e.name === v.name);
      if (i >= 0) this.viArr[i] = v;
      else this.viArr.push(v);
    }
    this.takenValues.add(v.name);
    this.typeCache = undefined;
  }

  // --- opsets and metadata ----------------------------------------------------------------------

  /** Imported opset version of a domain ('' and 'ai.onnx' are the same); undefined if not imported. */
  opsetVersion(domain = ''): number | undefined {
    return opsetVersionOf(this.model, domain);
  }
  setOpset(domain: string, version: number): void {
    const want = normalDomain(domain);
    const e = this.model.opsetImport.find((o) => normalDomain(o.domain) === want);
    if (e) e.version = version;
    else this.model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: want, version }));
  }
  get metadata(): Record<string, string> {
    return Object.fromEntries(this.model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  }
  setMetadata(key: string, value: string): void {
    const e = this.model.metadataProps.find((p) => p.key === key);
    if (e) e.value = value;
    else this.model.metadataProps.push(onnx.StringStringEntryProto.create({ key, value }));
  }

  // --- names ------------------------------------------------------------------------------------

  /** A value name not used anywhere in the model (nor returned before); `base` itself if free. */
  uniqueName(base: string): string {
    return this.reserve(this.takenValues, base);
  }
  uniqueNodeName(base: string): string {
    return this.reserve(this.takenNodes, base);
  }
  private reserve(taken: Set<string>, base: string): string {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  }

  // --- node edits -------------------------------------------------------------------------------

  private resolve(ref: NodeRef, what: string): { node: onnx.NodeProto; index: number } {
    const index = this.nodeIndex(ref);
    if (index < 0) {
      const label = typeof ref === 'string' ? `'${ref}'` : describe(ref);
      throw new ShrinkError('NOT_FOUND', `${what}: node ${label} is not in graph '${this.g.name}'`);
    }
    return { node: this.nodeArr[index]!, index };
  }

  /** Inserts nodes (at the end, or right before/after a given node); returns them as NodeProtos. */
  addNodes(nodes: readonly onnx.INodeProto[], at?: { before?: NodeRef; after?: NodeRef }): onnx.NodeProto[] {
    const protos = nodes.map((n) => (n instanceof onnx.NodeProto ? n : onnx.NodeProto.create(n)));
    for (const n of protos) {
      if (this.indexed.has(n)) throw new ShrinkError('INVALID_ARGUMENT', `addNodes: ${describe(n)} is already in the graph`);
    }
    let index = this.nodeArr.length;
    if (at?.before !== undefined) index = this.resolve(at.before, 'addNodes').index;
    else if (at?.after !== undefined) index = this.resolve(at.after, 'addNodes').index + 1;
    this.nodeArr.splice(index, 0, ...protos);
    this.positions = undefined;
    for (const n of protos) this.indexNode(n);
    return protos;
  }
  addNode(node: onnx.INodeProto, at?: { before?: NodeRef; after?: NodeRef }): onnx.NodeProto {
    return this.addNodes([node], at)[0]!;
  }

  removeNode(ref: NodeRef): void {
    const { node, index } = this.resolve(ref, 'removeNode');
    this.nodeArr.splice(index, 1);
    this.positions = undefined;
    this.unindexNode(node);
  }

  /** Puts `replacement` where `ref` was. */
  replaceNode(ref: NodeRef, replacement: onnx.INodeProto | readonly onnx.INodeProto[]): onnx.NodeProto[] {
    const { node, index } = this.resolve(ref, 'replaceNode');
    const list = Array.isArray(replacement) ? (replacement as readonly onnx.INodeProto[]) : [replacement as onnx.INodeProto];
    this.nodeArr.splice(index, 1);
    this.positions = undefined;
    this.unindexNode(node);
    const at = this.nodeArr[index];
    return this.addNodes(list, at ? { before: at } : undefined);
  }

  /** Edits a node's fields in `fn` and reindexes it. */
  editNode(ref: NodeRef, fn: (node: onnx.NodeProto) => void): onnx.NodeProto {
    const { node } = this.resolve(ref, 'editNode');
    this.unindexNode(node);
    try {
      fn(node);
    } finally {
      this.indexNode(node);
    }
    return node;
  }

  /**
   * Makes every consumer of `from` read `to` instead (subgraph reads included), except the nodes in
   * `except`. Graph outputs keep their names unless `graphOutputs` is set.
   */
  replaceAllUses(from: string, to: string, opts?: { except?: readonly onnx.INodeProto[]; graphOutputs?: boolean }): void {
    const except = new Set(opts?.except ?? []);
    for (const n of this.consumers(from)) {
      if (except.has(n)) continue;
      this.editNode(n, (m) => {
        m.input = m.input.map((i) => (i === from ? to : i));
        for (const sg of subgraphsOf(m)) renameInSubgraph(sg, from, to);
      });
    }
    if (opts?.graphOutputs) {
      for (const o of this.outputArr) if (o.name === from) o.name = to;
      this.typeCache = undefined;
    }
    this.takenValues.add(to);
  }

  // --- whole-graph passes -----------------------------------------------------------------------

  /**
   * Reorders nodes so every node comes after the producers of what it reads. Stable: a graph already
   * in order keeps its order. Throws INVALID_MODEL naming a node on a cycle.
   */
  topoSort(): void {
    const nodes = this.nodeArr;
    const producerIdx = new Map<string, number>();
    nodes.forEach((n, i) => {
      for (const o of n.output) if (o && !producerIdx.has(o)) producerIdx.set(o, i);
    });
    const deps = nodes.map((n) => {
      const uses = this.indexed.get(n)?.uses ?? nodeUses(n);
      const out: number[] = [];
      for (const u of uses) {
        const p = producerIdx.get(u);
        if (p !== undefined) out.push(p);
      }
      return out;
    });
    const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 placed
    const order: onnx.NodeProto[] = [];
    for (let root = 0; root < nodes.length; root++) {
      if (state[root] !== 0) continue;
      // Iterative DFS: deep chains (large models) would overflow a recursive walk.
      const stack: { i: number; next: number }[] = [{ i: root, next: 0 }];
      state[root] = 1;
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const d = deps[top.i]!;
        if (top.next < d.length) {
          const j = d[top.next++]!;
          if (state[j] === 1) {
            throw new ShrinkError(
              'INVALID_MODEL',
              `graph '${this.g.name}' has a cycle through ${describe(nodes[j]!)}; ONNX graphs must be acyclic`,
            );
          }
          if (state[j] === 0) {
            state[j] = 1;
            stack.push({ i: j, next: 0 });
          }
        } else {
          state[top.i] = 2;
          order.push(nodes[top.i]!);
          stack.pop();
        }
      }
    }
    this.g.node = order;
    this.positions = undefined;
  }

  /**
   * Removes nodes none of whose outputs reach a graph output, then initializers nothing reads
   * (with their IR < 4 input entries) and value_info of values that no longer exist.
   */
  removeDeadNodes(): { nodes: number; initializers: number } {
    const live = new Set<onnx.NodeProto>();
    const work = this.outputArr.map((o) => o.name);
    const seen = new Set<string>(work);
    while (work.length > 0) {
      const p = this.producerOf.get(work.pop()!);
      if (!p || live.has(p)) continue;
      live.add(p);
      for (const u of this.indexed.get(p)?.uses ?? []) {
        if (!seen.has(u)) {
          seen.add(u);
          work.push(u);
        }
      }
    }
    const dead = this.nodeArr.filter((n) => !live.has(n));
    for (const n of dead) this.unindexNode(n);
    this.g.node = this.nodeArr.filter((n) => live.has(n));
    this.positions = undefined;
    let inits = 0;
    for (const t of [...this.initArr]) {
      if (!this.consumersOf.has(t.name) && !this.isGraphOutput(t.name)) {
        this.removeInitializer(t.name);
        inits++;
      }
    }
    const exists = (name: string): boolean => this.producerOf.has(name) || this.initByName.has(name) || this.isGraphInput(name);
    this.g.valueInfo = this.viArr.filter((v) => exists(v.name));
    this.typeCache = undefined;
    return { nodes: dead.length, initializers: inits };
  }

  /** A new ModelProto of the current state (later edits to this view do not reach it). */
  toModel(): onnx.ModelProto {
    return cloneModel(this.model);
  }
}
