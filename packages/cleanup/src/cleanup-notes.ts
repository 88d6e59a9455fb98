import { formatValue } from '@shrink/core';
import type { ResolvedCleanupOptions } from './options.js';
import type { CleanupReport } from './types.js';

const counts = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} x${v}`)
    .join(', ');

/** The lines every front end shows for a cleanup, the first saying what it did ("removed 2 Identity/Dropout, folded 11 constant nodes, ..."). */
export function cleanupNotes(r: CleanupReport, o: ResolvedCleanupOptions): string[] {
  const did = [
    ...(o.removeIdentity ? [`removed ${r.identityRemoved} Identity/Dropout`] : []),
    ...(o.foldConstants ? [`folded ${r.folded} constant node${r.folded === 1 ? '' : 's'}`] : []),
    // Only where the model has BatchNormalization: a count of 0 would be noise on every other model.
    ...(o.foldBatchNorm && r.batchNormsFolded + r.batchNormsKept > 0
      ? [`folded ${r.batchNormsFolded} BatchNormalization into the Conv before it`]
      : []),
    ...(o.removeDeadNodes ? [`removed ${r.deadNodesRemoved} dead node${r.deadNodesRemoved === 1 ? '' : 's'}`] : []),
    ...(o.constantsToInitializers
      ? [`stored ${r.constantsToInitializers} Constant node${r.constantsToInitializers === 1 ? '' : 's'} as initializers`]
      : []),
    ...(o.dedupeInitializers
      ? [
          `merged ${r.initializersMerged} duplicate initializer${r.initializersMerged === 1 ? '' : 's'} (${formatValue(r.bytesMerged, 'bytes')})`,
        ]
      : []),
  ];
  // No `cleanup:` in front: pipelines put the step's kind before its notes themselves.
  const notes = [
    did.length > 0 ? did.join(', ') : 'every step is off; the model is unchanged',
    `main graph: ${r.nodesBefore} -> ${r.nodesAfter} nodes`,
  ];
  if (r.folded > 0) notes.push(`folded: ${counts(r.foldedByOp)}`);
  if (Object.keys(r.notFolded).length > 0)
    notes.push(`not folded (every input constant, or a Shape): ${counts(r.notFolded)}; the reasons are in the per-node detail`);
  const keptIdentity = r.nodes.filter((n) => n.action === 'kept' && (n.opType === 'Identity' || n.opType === 'Dropout'));
  if (keptIdentity.length > 0) {
    const shown = keptIdentity.slice(0, 3).map((n) => `${n.opType} '${n.name}' (${n.reason})`);
    notes.push(`kept ${keptIdentity.length} Identity/Dropout: ${shown.join('; ')}${keptIdentity.length > 3 ? '; ...' : ''}`);
  }
  const keptBn = r.nodes.filter((n) => n.action === 'kept' && n.opType === 'BatchNormalization');
  if (keptBn.length > 0) {
    const shown = keptBn.slice(0, 3).map((n) => `'${n.name}' (${n.reason})`);
    notes.push(`kept ${keptBn.length} BatchNormalization: ${shown.join('; ')}${keptBn.length > 3 ? '; ...' : ''}`);
  }
  if (r.unusedInitializersRemoved > 0)
    notes.push(`removed ${r.unusedInitializersRemoved} initializer${r.unusedInitializersRemoved === 1 ? '' : 's'} nothing reads`);
  if (r.subgraphNodes > 0)
    notes.push(
      `subgraphs (If/Loop/Scan bodies) left as they are: ${r.subgraphNodes} nodes inside them; their reads of main-graph values follow the renames`,
    );
  return notes;
}
