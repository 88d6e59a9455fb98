import { inferShapes, REDUCE_OPS, type Shape } from '../../onnx/shapes.js';
import type { Graph } from '../../onnx/graph.js';
import type { onnx } from '../../onnx/proto.js';

/** Inputs that ops read as shapes, axes, sizes or counts (small int tensors), never as data. */
const SHAPE_INPUTS: ReadonlyMap<string, readonly number[]> = new Map<string, readonly number[]>([
  ['Reshape', [1]],
  ['Unsqueeze', [1]],
  ['Squeeze', [1]],
  ['Expand', [1]],
  ['Tile', [1]],
  ['ConstantOfShape', [0]],
  ['Slice', [1, 2, 3, 4]],
  ['Pad', [1, 3]],
  ['Resize', [1, 2, 3]],
  ['Upsample', [1]],
  ['Split', [1]],
  ['TopK', [1]],
  ['OneHot', [1]],
  ['CumSum', [1]],
  ...REDUCE_OPS.map((op): [string, readonly number[]] => [op, [1]]),
]);

/** Ops that read their input only for its shape: what feeds them is still data. */
const SHAPE_READERS: readonly string[] = ['Shape', 'Size'];

/**
 * Nodes whose outputs only ever end up as shape-like inputs (a Reshape's target, Unsqueeze axes, ...):
 * exporters' shape arithmetic such as PyTorch's `x.view(x.size(0), -1)` (Shape -> Gather -> Unsqueeze ->
 * Concat). They become no tfjs layer; their consumers take the shapes static inference gives.
 * `graph` must be topologically sorted.
 */
export function shapeComputations(graph: Graph): Set<onnx.NodeProto> {
  const found = new Set<onnx.NodeProto>();
  const nodes = graph.nodes;
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k]!;
    const outputs = node.output.filter((o) => o !== '');
    const shapeOnly =
      outputs.length > 0 &&
      outputs.every((o) => {
        const consumers = graph.consumers(o);
        return (
          consumers.length > 0 &&
          !graph.isGraphOutput(o) &&
          consumers.every((c) =>
            c.input.every(
              (name, i) =>
                name !== o || (SHAPE_INPUTS.get(c.opType)?.includes(i) ?? false) || (found.has(c) && !SHAPE_READERS.includes(c.opType)),
            ),
          )
        );
      });
    if (shapeOnly) found.add(node);
  }
  return found;
}

/** Sizes given to free dims in the two inference runs: batch (axis 0 of an input) and any other symbolic dim. */
const RUNS = [
  { batch: 2, free: 32 },
  { batch: 3, free: 48 },
] as const;

/**
 * ONNX shapes of every value at two different batch sizes (and sizes of other symbolic dims), from
 * `inferShapes`, which also folds the small int tensors of shape subgraphs. A dim that is equal in both
 * runs does not depend on the batch; one that follows the input's batch is the batch.
 */
export type StaticShapes = (value: string) => readonly [Shape, Shape] | undefined;

export function staticShapes(graph: Graph): StaticShapes {
  const model = graph.toModel();
  const runs = RUNS.map(({ batch, free }) => {
    const given: Record<string, number[]> = {};
    for (const vi of graph.feedInputs) {
      const dims = graph.shapeOf(vi.name);
      if (dims) given[vi.name] = dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : free));
    }
    return inferShapes(model, given);
  });
  return (value) => {
    const a = runs[0]!.get(value);
    const b = runs[1]!.get(value);
    return a && b ? [a, b] : undefined;
  };
}
