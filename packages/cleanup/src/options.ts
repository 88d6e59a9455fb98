import { z } from 'zod';

/**
 * Options of the graph cleanup pass. The same schema validates library calls, makes the CLI's flags
 * (`shrink cleanup`), the `cleanup:` step of a pipeline config and its search variants.
 */
export const cleanupOptionsSchema = z.strictObject({
  removeIdentity: z
    .boolean()
    .default(true)
    .describe(
      'Remove Identity nodes and Dropout nodes that are no-ops at inference; their readers read the input instead, graph output names are kept',
    ),
  foldConstants: z
    .boolean()
    .default(true)
    .describe(
      'Compute nodes whose inputs are all constants (ops of the fold table: shape ops, Cast, Add/Sub/Mul/Div/Neg/Sqrt) and store the result as an initializer',
    ),
  foldBatchNorm: z
    .boolean()
    .default(true)
    .describe(
      'Fold each inference-mode BatchNormalization into the Conv or ConvTranspose that writes its input (a new weight and bias; outputs equal up to float rounding), where the BN alone reads that output and the Conv alone reads its weight',
    ),
  removeDeadNodes: z.boolean().default(true).describe('Remove nodes whose outputs reach no graph output, then initializers nothing reads'),
  constantsToInitializers: z
    .boolean()
    .default(true)
    .describe(
      'Store the values of Constant nodes as initializers (as onnxruntime does on load), so weights an exporter kept in Constant nodes can be pruned',
    ),
  dedupeInitializers: z
    .boolean()
    .default(false)
    .describe(
      'Merge initializers with equal type, shape and bytes into one (off by default: a merged weight is shared, and structured pruning leaves shared weights alone)',
    ),
});

export type CleanupOptions = z.input<typeof cleanupOptionsSchema>;
export type ResolvedCleanupOptions = z.output<typeof cleanupOptionsSchema>;
