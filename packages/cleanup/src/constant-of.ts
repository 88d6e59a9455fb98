import { constantTensor, type Graph, type TensorValue } from '@shrink/core';

/**
 * The value of `name` when it is a constant: an initializer or a Constant node's output. An
 * initializer that is also a graph input can be fed at run time, so it is not constant; a tensor of a
 * type Shrink does not carry reads as not constant.
 */
export function constantOf(graph: Graph, name: string | undefined): TensorValue | undefined {
  if (!name || graph.isGraphInput(name)) return undefined;
  try {
    return graph.constantValue(name);
  } catch {
    return undefined;
  }
}

/** Whether `name` is a constant (as constantOf says), without decoding it. */
export function isConstant(graph: Graph, name: string | undefined): boolean {
  if (!name || graph.isGraphInput(name)) return false;
  if (graph.isInitializer(name)) return true;
  const p = graph.producer(name);
  return p !== undefined && constantTensor(p) !== undefined;
}

/** Dims of `name` when fixed: a constant's, or a fed graph input's declared shape when every dim is a number. */
export function staticShapeOf(graph: Graph, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const c = constantOf(graph, name);
  if (c) return c.dims;
  if (!graph.isGraphInput(name) || graph.isInitializer(name)) return undefined;
  const dims = graph.shapeOf(name);
  return dims && dims.every((d): d is number => typeof d === 'number') ? dims : undefined;
}
