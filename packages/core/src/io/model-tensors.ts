import { nodeLabel } from '../onnx/node-label.js';
import { onnx } from '../onnx/proto.js';
import { ShrinkError } from '../errors.js';

/** Visits every TensorProto a model holds: initializers, sparse ones, attribute tensors, subgraphs, functions, training graphs. */
export function forEachTensor(model: onnx.IModelProto, fn: (t: onnx.ITensorProto, label: string) => void): void {
  const label = (t: onnx.ITensorProto, fallback: string): string => (t.name ? `tensor '${t.name}'` : fallback);
  const sparse = (s: onnx.ISparseTensorProto | null | undefined, fallback: string): void => {
    if (s?.values) fn(s.values, label(s.values, `values of ${fallback}`));
    if (s?.indices) fn(s.indices, label(s.indices, `indices of ${fallback}`));
  };
  const nodes = (list: onnx.INodeProto[] | null | undefined): void => {
    for (const n of list ?? []) {
      for (const a of n.attribute ?? []) {
        const where = `attribute '${a.name ?? ''}' of node '${nodeLabel(n)}'`;
        if (a.t) fn(a.t, label(a.t, where));
        for (const t of a.tensors ?? []) fn(t, label(t, where));
        sparse(a.sparseTensor, where);
        for (const s of a.sparseTensors ?? []) sparse(s, where);
        if (a.g) graph(a.g);
        for (const g of a.graphs ?? []) graph(g);
      }
    }
  };
  const graph = (g: onnx.IGraphProto | null | undefined): void => {
    if (!g) return;
    for (const t of g.initializer ?? []) fn(t, label(t, `an unnamed initializer of graph '${g.name ?? ''}'`));
    for (const s of g.sparseInitializer ?? []) sparse(s, `a sparse initializer of graph '${g.name ?? ''}'`);
    nodes(g.node);
  };
  graph(model.graph);
  for (const f of model.functions ?? []) nodes(f.node);
  for (const ti of model.trainingInfo ?? []) {
    graph(ti.initialization);
    graph(ti.algorithm);
  }
}

export function isExternal(t: onnx.ITensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

export interface ExternalRef {
  location: string;
  offset: number;
  /** Undefined: up to the end of the file. */
  length: number | undefined;
}

/** Reads a tensor's external_data entries (location, offset, length; checksum and others are ignored). */
export function externalRef(t: onnx.ITensorProto, label: string, source: string): ExternalRef {
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) {
    throw new ShrinkError('INVALID_MODEL', `${source}: ${label} has data_location EXTERNAL but no external_data 'location' entry`);
  }
  const int = (key: string): number | undefined => {
    const v = entries.get(key);
    if (v === undefined || v === '') return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) {
      throw new ShrinkError('INVALID_MODEL', `${source}: ${label} has external_data ${key} '${v}'; expected a non-negative integer`);
    }
    return n;
  };
  return { location, offset: int('offset') ?? 0, length: int('length') };
}
