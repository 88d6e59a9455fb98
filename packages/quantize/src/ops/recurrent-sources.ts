/**
 * Recurrent weights assembled at run time. PyTorch's ONNX export of an LSTM inside an If (silero VAD v4
 * to v6: one branch per sample rate) reorders the gates of `weight_ih` / `weight_hh` with Slice, Concat
 * and Unsqueeze in the branch, so the LSTM's W and R are no constants and planRecurrentWeightOnly cannot
 * store them. Dequantizing at the source instead keeps every such op exact: the float constant the chain
 * starts from becomes int8 codes per row (axis 0: a gate unit of `weight_ih` [4H, K]) and a Cast and a
 * Mul under its old name, which onnxruntime folds at load, and then folds the chain as before.
 */
import { makeNode, makeTensor, readTensor, subgraphsOf, toFloat32, type onnx } from '@shrink/core';
import { quantizeTensor } from '../math/params.js';

/** Ops that only move or pick values: a weight read through them is still a weight. */
const MOVEMENT = new Set(['Unsqueeze', 'Squeeze', 'Reshape', 'Concat', 'Slice', 'Transpose', 'Identity', 'Split']);
const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);
/** Smaller constants are not worth a Cast and a Mul (and may be gate biases or shapes). */
const MIN_ELEMENTS = 1024;

export const RECURRENT_SOURCE_NOTE =
  'LSTM/GRU/RNN weights assembled at run time (Slice/Concat/Unsqueeze of a constant, as PyTorch exports gate reordering) are stored at their source constant as int8 codes per row with a Cast and a Mul, which onnxruntime folds at load together with the chain';

type Scope = { graph: onnx.IGraphProto; parent?: Scope };

const producerIn = (g: onnx.IGraphProto, name: string) => (g.node ?? []).find((n) => (n.output ?? []).includes(name));
const isConstantIn = (g: onnx.IGraphProto, name: string) =>
  (g.initializer ?? []).some((t) => t.name === name) || (g.node ?? []).some((n) => n.opType === 'Constant' && n.output?.[0] === name);

/** Names of float constants (at any scope) that flow into a recurrent op's W or R only through movement ops. */
function recurrentSources(model: onnx.IModelProto): Set<string> {
  const sources = new Set<string>();
  const visit = (scope: Scope): void => {
    for (const node of scope.graph.node ?? []) {
      if (RECURRENT.has(node.opType ?? '') && (node.domain ?? '') === '') {
        for (const i of [1, 2]) {
          // A constant of the op's own graph is planRecurrentWeightOnly's (codes per row of each direction).
          if (isConstantIn(scope.graph, node.input?.[i] ?? '')) continue;
          const found = new Set<string>();
          if (trace(scope, node.input?.[i] ?? '', found, 0)) for (const s of found) sources.add(s);
        }
      }
      for (const sub of subgraphsOf(node)) visit({ graph: sub, parent: scope });
    }
  };
  if (model.graph) visit({ graph: model.graph });
  return sources;
}

/** Whether `name` is a constant or movement of constants; the constants go into `found`. */
function trace(scope: Scope, name: string, found: Set<string>, depth: number): boolean {
  if (!name || depth > 16) return false;
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (isConstantIn(s.graph, name)) {
      found.add(name);
      return true;
    }
    const p = producerIn(s.graph, name);
    if (!p) continue;
    if (!MOVEMENT.has(p.opType ?? '') || (p.domain ?? '') !== '') return false;
    // Concat's inputs are all data; the others move input 0 by constant shapes/indices.
    const data = p.opType === 'Concat' ? (p.input ?? []) : (p.input ?? []).slice(0, 1);
    return data.every((d) => trace(s, d, found, depth + 1));
  }
  return false;
}

/**
 * A copy of `model` whose recurrent weight sources (recurrentSources) are int8 codes + Cast + Mul;
 * `stored` names them. Constants below MIN_ELEMENTS or not float stay as they are.
 */
export function quantizeRecurrentSources(model: onnx.IModelProto): { model: onnx.IModelProto; stored: string[] } {
  const sources = recurrentSources(model);
  if (sources.size === 0) return { model, stored: [] };
  const copy = structuredClone<onnx.IModelProto>(model);
  const stored: string[] = [];
  const rewrite = (g: onnx.IGraphProto): void => {
    const added: onnx.NodeProto[] = [];
    const keepInit: onnx.ITensorProto[] = [];
    for (const t of g.initializer ?? []) {
      const r = sources.has(t.name ?? '') ? dequantized(t, t.name!) : undefined;
      if (r) {
        keepInit.push(...r.initializers);
        added.push(...r.nodes);
        stored.push(t.name!);
      } else keepInit.push(t);
    }
    const nodes: onnx.INodeProto[] = [];
    for (const n of g.node ?? []) {
      const value = n.opType === 'Constant' ? n.attribute?.find((a) => a.name === 'value')?.t : undefined;
      const r = value && sources.has(n.output?.[0] ?? '') ? dequantized(value, n.output![0]!) : undefined;
      if (r) {
        keepInit.push(...r.initializers);
        nodes.push(...r.nodes);
        stored.push(n.output![0]!);
      } else nodes.push(n);
      for (const sub of subgraphsOf(n)) rewrite(sub);
    }
    g.initializer = keepInit;
    g.node = [...added, ...nodes];
  };
  rewrite(copy.graph!);
  return { model: copy, stored };
}

/** int8 codes per row of `t` and the nodes writing its float values under `name`, or undefined when it does not qualify. */
function dequantized(t: onnx.ITensorProto, name: string): { initializers: onnx.TensorProto[]; nodes: onnx.NodeProto[] } | undefined {
  const v = readTensor(t);
  if ((v.dtype !== 'float32' && v.dtype !== 'float16') || v.dims.length < 2 || v.data.length < MIN_ELEMENTS) return undefined;
  const r = quantizeTensor(toFloat32(v), v.dims, { type: 'int8', symmetric: true, axis: 0, name });
  const half = v.dtype === 'float16';
  const nodes = [
    makeNode('Cast', [`${name}_quantized`], [`${name}_codes_float`], { to: 1 }, { name: `${name}_weight_cast` }),
    makeNode('Mul', [`${name}_codes_float`, `${name}_scale`], [half ? `${name}_float32` : name], {}, { name: `${name}_weight_scale` }),
    ...(half ? [makeNode('Cast', [`${name}_float32`], [name], { to: 10 }, { name: `${name}_weight_to_float16` })] : []),
  ];
  return {
    initializers: [
      makeTensor(`${name}_quantized`, 'int8', v.dims, r.q),
      makeTensor(`${name}_scale`, 'float32', [v.dims[0]!, ...v.dims.slice(1).map(() => 1)], r.scale),
    ],
    nodes,
  };
}
