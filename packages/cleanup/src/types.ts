/** What cleanup did to one node of the main graph (nodes it left alone without a reason are not listed). */
export interface NodeOutcome {
  /** The node's label (its name, else its first output). */
  name: string;
  opType: string;
  action: 'removed-identity' | 'folded' | 'folded-batch-norm' | 'removed-dead' | 'to-initializer' | 'kept';
  /** How it was removed or folded, or why it was kept. */
  reason: string;
}

export interface CleanupReport {
  /** Nodes of the main graph before and after (subgraph nodes are not counted: they are left alone). */
  nodesBefore: number;
  nodesAfter: number;
  /** Identity and no-op Dropout nodes removed. */
  identityRemoved: number;
  /** Nodes computed from constants and replaced by their values. */
  folded: number;
  /** Folded nodes by op type. */
  foldedByOp: Record<string, number>;
  /**
   * Nodes whose inputs were all constants but that were not folded, by op type (`domain:op` outside
   * the default domain): not in the fold table, or refused by it (the reasons are in `nodes`).
   */
  notFolded: Record<string, number>;
  /** BatchNormalization nodes folded into the Conv before them, and those kept (the reasons are in `nodes`). */
  batchNormsFolded: number;
  batchNormsKept: number;
  /** Nodes removed because nothing they write reaches a graph output. */
  deadNodesRemoved: number;
  /** Constant nodes now stored as initializers. */
  constantsToInitializers: number;
  /** Initializers removed because nothing reads them (after the dead nodes went). */
  unusedInitializersRemoved: number;
  /** Initializers merged into an equal one, and the bytes that saves. */
  initializersMerged: number;
  bytesMerged: number;
  /** Nodes inside subgraphs (If/Loop/Scan bodies), which cleanup leaves as they are. */
  subgraphNodes: number;
  nodes: NodeOutcome[];
}
