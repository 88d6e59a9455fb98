/**
 * The cleanup pass over one model: Identity/Dropout removal, constant folding, BatchNormalization
 * folded into the Conv before it, dead-node removal, Constant nodes into initializers and (when asked)
 * merging equal initializers, in that order, on the main graph. Subgraph bodies (If, Loop, Scan) are
 * carried as they are; main-graph edits keep their reads of outer values working. The input model is
 * never mutated, and every graph output keeps its name and its value (a BN fold computes it with a
 * rewritten weight, so up to float rounding).
 */
import { Graph, subgraphsOf, type onnx } from '@shrink/core';
import { constantsToInitializers } from './constants-to-initializers.js';
import { dedupeInitializers } from './dedupe-initializers.js';
import { foldBatchNorms } from './fold-batch-norm.js';
import { foldConstants } from './fold-constants.js';
import { cleanupOptionsSchema, type CleanupOptions } from './options.js';
import { removeDead } from './remove-dead.js';
import { removeIdentities } from './remove-identity.js';
import type { CleanupReport, NodeOutcome } from './types.js';

/** Nodes inside the subgraphs of `nodes`, at any depth. */
function subgraphNodeCount(nodes: readonly onnx.INodeProto[]): number {
  let n = 0;
  for (const node of nodes) {
    for (const g of subgraphsOf(node)) n += (g.node ?? []).length + subgraphNodeCount(g.node ?? []);
  }
  return n;
}

export function cleanupModel(model: onnx.IModelProto, options: CleanupOptions = {}): { model: onnx.ModelProto; report: CleanupReport } {
  const o = cleanupOptionsSchema.parse(options);
  const graph = Graph.from(model);
  const nodes: NodeOutcome[] = [];
  const nodesBefore = graph.nodes.length;
  const identity = o.removeIdentity ? removeIdentities(graph, nodes) : { removed: 0, kept: [] };
  const fold = o.foldConstants ? foldConstants(graph, nodes, new Set(identity.kept)) : { folded: 0, byOp: {}, notFolded: {} };
  // After constant folding, so BN vectors an exporter computes from constants are constants by now.
  const bn = o.foldBatchNorm ? foldBatchNorms(graph, nodes) : { folded: 0, kept: 0 };
  const dead = o.removeDeadNodes ? removeDead(graph, nodes) : { nodes: 0, initializers: 0 };
  const moved = o.constantsToInitializers ? constantsToInitializers(graph, nodes) : 0;
  const dedupe = o.dedupeInitializers ? dedupeInitializers(graph) : { merged: 0, bytes: 0 };
  const report: CleanupReport = {
    nodesBefore,
    nodesAfter: graph.nodes.length,
    identityRemoved: identity.removed,
    folded: fold.folded,
    foldedByOp: fold.byOp,
    notFolded: fold.notFolded,
    batchNormsFolded: bn.folded,
    batchNormsKept: bn.kept,
    deadNodesRemoved: dead.nodes,
    constantsToInitializers: moved,
    unusedInitializersRemoved: dead.initializers,
    initializersMerged: dedupe.merged,
    bytesMerged: dedupe.bytes,
    subgraphNodes: subgraphNodeCount(graph.nodes),
    nodes,
  };
  return { model: graph.toModel(), report };
}
