/**
 * Dynamic 8-bit quantization of nodes that compute in float16. DynamicQuantizeLinear takes float32 only
 * and the integer ops' results are scaled back in float32, so such a node's plan runs between Casts: its
 * float16 inputs are cast to float32 (one Cast per value, shared by every reader), float16 constants the
 * plan adds become float32, and the result is cast back to float16 under the node's output name. The
 * rest of the graph keeps its float16 activations.
 */
import { float16ToFloat32, makeNode, type Graph, type onnx } from '@shrink/core';
import { floatWeight } from './float-weight.js';
import { newValue, type DynamicPlan, type DynamicRef, type PlannedConstant, type PlannedNode } from './ops/dynamic-types.js';

/** Which input of a handled op is its weight (MatMul, Gemm and Conv: B/W; Gather: the table). */
export const WEIGHT_INPUT: Readonly<Record<string, number>> = { MatMul: 1, Gemm: 1, Conv: 1, Gather: 0 };

/** Whether `node` computes in float16: its weight is a float16 constant as the node reads it (ONNX gives these ops one T). */
export function computesInFloat16(graph: Graph, node: onnx.NodeProto): boolean {
  const i = WEIGHT_INPUT[node.opType];
  if (i === undefined) return false;
  const w = floatWeight(graph, node.input[i], 'weight');
  return typeof w !== 'string' && w.readAs === 'float16';
}

export interface Float32Casts {
  /** The float32 Cast of float16 value `name`, added before `before` the first time. */
  of(name: string, before: onnx.NodeProto): string;
}

export function float32Casts(graph: Graph): Float32Casts {
  const made = new Map<string, string>();
  return {
    of(name, before) {
      let cast = made.get(name);
      if (cast === undefined) {
        cast = graph.uniqueName(`${name}_float32`);
        graph.addNode(makeNode('Cast', [name], [cast], { to: 1 }, { name: graph.uniqueNodeName(`${name}_to_float32`) }), { before });
        made.set(name, cast);
      }
      return cast;
    },
  };
}

function toFloat32Constant(c: PlannedConstant): PlannedConstant {
  if (c.dtype !== 'float16') return c;
  const data = c.data instanceof Uint16Array ? float16ToFloat32(c.data) : Float32Array.from(c.data as readonly number[]);
  return { ...c, dtype: 'float32', data };
}

/** `plan` (made for float16 `node`) rewritten to compute in float32 between Casts; see the file comment. */
export function planInFloat32(node: onnx.NodeProto, plan: DynamicPlan, casts: Float32Casts): DynamicPlan {
  const output = node.output[0]!;
  const out32 = newValue(`${output}_float32`);
  // Gather's only float input is its table, which the plan reads as codes; the others take float inputs only.
  const floatInputs = new Set(node.opType === 'Gather' ? [] : node.input.filter((i) => i !== ''));
  const ref = (r: DynamicRef): DynamicRef => {
    if (typeof r === 'string') {
      if (r === output) return out32;
      return floatInputs.has(r) ? casts.of(r, node) : r;
    }
    if ('activation' in r) return { activation: casts.of(r.activation, node), part: r.part };
    return r;
  };
  const nodes: PlannedNode[] = plan.nodes.map((n) => ({ ...n, inputs: n.inputs.map(ref), outputs: n.outputs.map(ref) }));
  nodes.push({ opType: 'Cast', name: `${output}_to_float16`, inputs: [out32], outputs: [output], attrs: { to: 10 } });
  return {
    ...plan,
    initializers: plan.initializers.map((i) => (i.kind === 'constant' ? toFloat32Constant(i) : i)),
    nodes,
    reason: `${plan.reason}; computed in float32 between Casts (the graph computes in float16 here)`,
  };
}
