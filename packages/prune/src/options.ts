import { z } from 'zod';

export const PRUNE_METHODS = ['magnitude', 'nm', 'structured'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];

/**
 * Options of the ONNX pruning pass. The same schema validates library calls, makes the CLI's flags
 * (`shrink prune`), and the `prune:` step of a pipeline config.
 */
export const pruneOptionsSchema = z.strictObject({
  method: z
    .enum(PRUNE_METHODS)
    .default('magnitude')
    .describe('magnitude (unstructured), nm (N:M along the reduction axis) or structured (remove units/channels)'),
  sparsity: z
    .number()
    .min(0)
    .lt(1)
    .default(0.5)
    .describe('Fraction of weights (magnitude) or of hidden units/channels (structured) to remove, in [0, 1)'),
  scope: z
    .enum(['layer', 'global'])
    .default('layer')
    .describe('magnitude: the sparsity per layer, or one threshold over all selected layers'),
  norm: z
    .enum(['l1', 'l2'])
    .default('l1')
    .describe('Score of a weight group (structured) or of single weights (|w| either way for magnitude)'),
  n: z.number().int().positive().default(2).describe('nm: keep N weights in every group of M'),
  m: z.number().int().positive().default(4).describe('nm: group size along the reduction axis'),
  pruneBias: z.boolean().default(false).describe('magnitude: prune biases too (left untouched by default)'),
  include: z
    .array(z.string())
    .optional()
    .describe(
      'Only prune the nodes listed: a node name (for an unnamed node, its first output), an op type, or a node in an If/Loop/Scan body by its name or its path as reports give it (If_0/then_branch/NodeName); several entries are separate values, not one comma-separated string',
    ),
  exclude: z.array(z.string()).optional().describe('Never prune the nodes listed (the forms include takes)'),
});

export type PruneOptions = z.input<typeof pruneOptionsSchema>;
export type ResolvedPruneOptions = z.output<typeof pruneOptionsSchema>;
