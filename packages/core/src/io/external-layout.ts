import { onnx } from '../onnx/proto.js';

// Tensors of 1 MiB and more start on a page boundary, so runtimes can memory-map them (onnxruntime's
// own writer uses the same kind of threshold); smaller ones on 64 bytes, which suits SIMD loads and keeps
// padding negligible for models with many small tensors.
const PAGE_ALIGN = 4096;
const PAGE_ALIGN_FROM = 1 << 20;
const SMALL_ALIGN = 64;

export interface ExternalLayout {
  /** How many tensors go to the data file; 0: none reaches the threshold, the model stays inline. */
  readonly count: number;
  /** The data file's bytes: each moved tensor's raw_data at its aligned offset, zeros between. */
  data(): Generator<Uint8Array>;
  /**
   * A shallow copy of the model whose moved tensors reference `location` (offsets do not depend on
   * it): the same layout can be committed under a fresh data file name and then under the usual one.
   */
  model(location: string): onnx.IModelProto;
}

interface Placed {
  raw: Uint8Array;
  offset: number;
}

/**
 * Lays out the initializers with raw_data of at least `threshold` bytes (in the main graph and
 * subgraphs, as onnx's convert_model_to_external_data does by default) in one data file. The model
 * object is not changed.
 */
export function externalLayout(model: onnx.IModelProto, threshold: number): ExternalLayout {
  const placed = new Map<onnx.ITensorProto, Placed>();
  let end = 0;
  const moves = (t: onnx.ITensorProto): boolean => (t.rawData?.length ?? 0) >= threshold && (t.rawData?.length ?? 0) > 0;
  const place = (g: onnx.IGraphProto): void => {
    for (const t of g.initializer ?? []) {
      if (!moves(t) || placed.has(t)) continue;
      const raw = t.rawData!;
      const offset = externalOffset(end, raw.length);
      placed.set(t, { raw, offset });
      end = offset + raw.length;
    }
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        if (a.g) place(a.g);
        for (const sub of a.graphs ?? []) place(sub);
      }
    }
  };
  if (model.graph) place(model.graph);

  return {
    count: placed.size,
    *data() {
      const zeros = new Uint8Array(PAGE_ALIGN);
      let pos = 0;
      for (const { raw, offset } of placed.values()) {
        if (offset > pos) yield zeros.subarray(0, offset - pos);
        yield raw;
        pos = offset + raw.length;
      }
    },
    model(location) {
      const graph = (g: onnx.IGraphProto): onnx.IGraphProto => ({
        ...g,
        initializer: (g.initializer ?? []).map((t) => {
          const p = placed.get(t);
          if (!p) return t;
          return {
            ...t,
            rawData: undefined,
            dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
            externalData: [
              { key: 'location', value: location },
              { key: 'offset', value: String(p.offset) },
              { key: 'length', value: String(p.raw.length) },
            ],
          };
        }),
        node: (g.node ?? []).map((n) =>
          (n.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0)
            ? { ...n, attribute: (n.attribute ?? []).map((a) => ({ ...a, g: a.g ? graph(a.g) : a.g, graphs: a.graphs?.map(graph) })) }
            : n,
        ),
      });
      return { ...model, graph: model.graph ? graph(model.graph) : model.graph };
    },
  };
}

/** Where a tensor of `length` bytes starts in a data file whose bytes so far end at `end` (the alignment above). */
export function externalOffset(end: number, length: number): number {
  return alignUp(end, length >= PAGE_ALIGN_FROM ? PAGE_ALIGN : SMALL_ALIGN);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
