import { isDefaultDomain, type Graph } from '@shrink/core';

/**
 * Removes the constants among `names` (initializers, the Constant nodes that made them, or a Cast or
 * Transpose of one: float16 weights read as float, a tied embedding's head) that nothing reads any more: the float weights and biases
 * a pass replaced. Anything else is left alone. An initializer that is also a graph input goes too
 * (with its input entry), unless `keepInputs`: the static pass quantizes such weights (IR < 4 models list
 * every initializer as an input), the dynamic pass treats them as inputs and leaves the model's interface
 * as it was.
 */
export function dropUnread(graph: Graph, names: Iterable<string>, opts: { keepInputs?: boolean } = {}): void {
  const work = [...names];
  while (work.length > 0) {
    const name = work.pop()!;
    if (graph.consumers(name).length > 0 || graph.isGraphOutput(name)) continue;
    if (graph.isInitializer(name)) {
      if (!(opts.keepInputs && graph.isGraphInput(name))) graph.removeInitializer(name);
      continue;
    }
    const p = graph.producer(name);
    if (!p || !isDefaultDomain(p) || p.output.length !== 1) continue;
    if (p.opType === 'Constant') graph.removeNode(p);
    else if ((p.opType === 'Cast' || p.opType === 'Transpose') && p.input[0] && isConstant(graph, p.input[0])) {
      graph.removeNode(p);
      work.push(p.input[0]);
    }
  }
}

const isConstant = (graph: Graph, name: string): boolean => graph.isInitializer(name) || graph.producer(name)?.opType === 'Constant';
