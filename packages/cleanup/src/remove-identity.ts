/**
 * Identity nodes, and Dropout nodes that pass their input through at inference, leave the main graph:
 * their readers read the input instead. Where the node writes a graph output, the output's name is
 * kept: the producer of the input writes it directly. Subgraph bodies are not cleaned, but their reads
 * of main-graph values follow the rename.
 */
import { attrInt, isDefaultDomain, nodeLabel, type Graph, type onnx } from '@shrink/core';
import { constantOf } from './constant-of.js';
import { definesInside } from './defines-inside.js';
import type { NodeOutcome } from './types.js';

/** Why this Dropout is not a no-op at inference, or undefined when it is one. */
function dropoutActive(graph: Graph, node: onnx.NodeProto, opset: number): string | undefined {
  const mask = node.output[1];
  if (mask && (graph.consumers(mask).length > 0 || graph.isGraphOutput(mask))) return `its mask '${mask}' is read`;
  if (opset < 7 && attrInt(node, 'is_test', 0) !== 1) return 'is_test is 0 (training mode)';
  if (opset >= 12 && node.input[2]) {
    const mode = constantOf(graph, node.input[2]);
    if (!mode) return `training_mode '${node.input[2]}' is computed at run time`;
    if (mode.data.length !== 1 || mode.data[0]) return 'training_mode is true: it drops at run time';
  }
  return undefined;
}

type Bypass = { removed: string } | { kept: string };

/** Removes the node, its readers reading its input instead; or why it stays. */
function bypass(graph: Graph, node: onnx.NodeProto): Bypass {
  const x = node.input[0];
  const y = node.output[0];
  if (!x || !y) return { kept: 'it has no input or no output' };
  if (!graph.isGraphOutput(y)) {
    if (graph.consumers(y).some((c) => definesInside(c, x))) return { kept: `a subgraph reading '${y}' defines its own '${x}'` };
    graph.replaceAllUses(y, x);
    graph.removeNode(node);
    return { removed: `readers of '${y}' read '${x}'` };
  }
  // y names a graph output: the producer of x must write y instead, so x must be a plain intermediate.
  const producer = graph.producer(x);
  if (graph.isGraphOutput(x)) return { kept: `it copies graph output '${x}' into graph output '${y}'` };
  if (!producer) return { kept: `it writes graph output '${y}' from ${graph.isGraphInput(x) ? 'graph input' : 'initializer'} '${x}'` };
  const readers = graph.consumers(x).filter((c) => c !== node);
  if (readers.some((c) => definesInside(c, y))) return { kept: `a subgraph reading '${x}' defines its own '${y}'` };
  const writer = `${nodeLabel(producer)} (${producer.opType})`;
  graph.removeNode(node);
  graph.editNode(producer, (p) => {
    p.output = p.output.map((o) => (o === x ? y : o));
  });
  graph.replaceAllUses(x, y);
  return { removed: `graph output '${y}' is written by ${writer}, which wrote '${x}'` };
}

/** Removes what it can; returns how many went and the Identity/Dropout nodes that stay (their outcomes are recorded). */
export function removeIdentities(graph: Graph, outcomes: NodeOutcome[]): { removed: number; kept: onnx.NodeProto[] } {
  const opset = graph.opsetVersion('') ?? 1;
  let removed = 0;
  const stays: onnx.NodeProto[] = [];
  for (const node of [...graph.nodes]) {
    if (!isDefaultDomain(node) || (node.opType !== 'Identity' && node.opType !== 'Dropout')) continue;
    const label = nodeLabel(node);
    const active = node.opType === 'Dropout' ? dropoutActive(graph, node, opset) : undefined;
    const r: Bypass = active ? { kept: active } : bypass(graph, node);
    if ('kept' in r) {
      outcomes.push({ name: label, opType: node.opType, action: 'kept', reason: r.kept });
      stays.push(node);
      continue;
    }
    removed++;
    outcomes.push({ name: label, opType: node.opType, action: 'removed-identity', reason: r.removed });
  }
  return { removed, kept: stays };
}
