/**
 * Writes dynamic plans into the graph, the one place the dynamic pass edits it. Across the plans of a
 * run it stores a weight key once and quantizes each float activation once: every reader of the
 * activation shares its DynamicQuantizeLinear, as onnxruntime's quantizer does.
 */
import { makeNode, type Graph, type onnx } from '@shrink/core';
import { quantizeTensor } from './math/params.js';
import type { DynamicPlan, DynamicRef, NewValue, PlannedNode, PlannedWeight, QuantPart } from './ops/dynamic-types.js';
import type { NodeOutcome } from './types.js';

type Quantized = Readonly<Record<QuantPart, string>>;
type WeightEntry = NonNullable<NodeOutcome['weights']>[number];

/** What placing one plan did, for the report. */
export interface Placed {
  replacedBy: string[];
  /** Weight initializers written for this node (none when its weights were stored for an earlier one). */
  weights: WeightEntry[];
}

export interface DynamicPlacer {
  /** Replaces `node` by its plan. */
  place(node: onnx.NodeProto, plan: DynamicPlan): Placed;
}

export function dynamicPlacer(graph: Graph): DynamicPlacer {
  const weights = new Map<string, Quantized>();
  const activations = new Map<string, Quantized>();

  /** Codes, scale and zero point of a weight as three initializers, once per key. */
  const storeWeight = (w: PlannedWeight, written: WeightEntry[]): void => {
    if (weights.has(w.key)) return;
    const r = quantizeTensor(w.data, w.dims, {
      type: w.type,
      symmetric: w.symmetric,
      ...(w.reduceRange ? { reduceRange: true } : {}),
      ...(w.axis === undefined ? {} : { axis: w.axis }),
      name: w.source,
    });
    const perChannel = r.axis !== undefined;
    // Symmetric codes give every channel the same zero point (chooseParams' mid code), so a kernel that
    // takes only a scalar one (ConvInteger) can still have a scale per channel.
    const shared = perChannel && w.sharedZeroPoint === true;
    const names: Quantized = {
      codes: graph.uniqueName(`${w.base}_quantized`),
      scale: graph.uniqueName(`${w.base}_scale`),
      // No zero point: an empty name, which is how ONNX leaves an optional input out.
      zeroPoint: w.noZeroPoint ? '' : graph.uniqueName(`${w.base}_zero_point`),
    };
    // quantizeTensor's arrays are fresh and written once: the initializers take them over uncopied.
    const own = { copy: false };
    graph.setInitializer(names.codes, w.type, w.dims, r.q, own);
    graph.setInitializer(names.scale, 'float32', perChannel ? (w.scaleDims ?? [r.scale.length]) : [], r.scale, own);
    weights.set(w.key, names);
    written.push(
      { name: names.codes, dtype: w.type, elements: r.q.length, bytes: r.q.length },
      { name: names.scale, dtype: 'float32', elements: r.scale.length, bytes: 4 * r.scale.length },
    );
    if (w.noZeroPoint) return;
    const zeroPoint = shared ? r.zeroPoint.slice(0, 1) : r.zeroPoint;
    graph.setInitializer(names.zeroPoint, w.type, perChannel && !shared ? [zeroPoint.length] : [], zeroPoint, own);
    written.push({ name: names.zeroPoint, dtype: w.type, elements: zeroPoint.length, bytes: zeroPoint.length });
  };

  /** DynamicQuantizeLinear of `input`, added before `before` the first time and shared afterwards. */
  const quantizeActivation = (input: string, before: onnx.NodeProto): Quantized => {
    const known = activations.get(input);
    if (known) return known;
    const q: Quantized = {
      codes: graph.uniqueName(`${input}_quantized`),
      scale: graph.uniqueName(`${input}_scale`),
      zeroPoint: graph.uniqueName(`${input}_zero_point`),
    };
    graph.addNode(
      makeNode(
        'DynamicQuantizeLinear',
        [input],
        [q.codes, q.scale, q.zeroPoint],
        {},
        { name: graph.uniqueNodeName(`${input}_QuantizeLinear`) },
      ),
      { before },
    );
    activations.set(input, q);
    return q;
  };

  return {
    place(node, plan) {
      const written: WeightEntry[] = [];
      const fresh = new Map<NewValue, string>();
      const nameOf = (v: NewValue): string => {
        let name = fresh.get(v);
        if (name === undefined) {
          name = graph.uniqueName(v.base);
          fresh.set(v, name);
        }
        return name;
      };
      for (const init of plan.initializers) {
        if (init.kind === 'weight') storeWeight(init, written);
        else graph.setInitializer(nameOf(init.value), init.dtype, init.dims, init.data);
      }
      const resolve = (ref: DynamicRef): string => {
        if (typeof ref === 'string') return ref;
        if ('base' in ref) return nameOf(ref);
        if ('weight' in ref) return weights.get(ref.weight)![ref.part];
        return quantizeActivation(ref.activation, node)[ref.part];
      };
      const build = (p: PlannedNode): onnx.NodeProto => {
        const inputs = p.inputs.map(resolve);
        const outputs = p.outputs.map(resolve);
        // The replaced node leaves the graph with this plan, so its name is free for the node that keeps it.
        const name = p.keepName && node.name ? node.name : graph.uniqueNodeName(p.name);
        const n = makeNode(p.opType, inputs, outputs, { ...p.attrs }, { name });
        if (p.keepAttributes) n.attribute = [...node.attribute];
        return n;
      };
      const added = graph.replaceNode(node, plan.nodes.map(build));
      return { replacedBy: added.map((n) => n.name), weights: written };
    },
  };
}
