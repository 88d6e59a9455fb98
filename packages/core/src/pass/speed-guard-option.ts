import { z } from 'zod';

/**
 * The option of the speed guard, for the schema of any pass that can leave named nodes alone (an `exclude`
 * option) and says which nodes it changed: with a target in the context, the runner (runPass) profiles
 * the output there and leaves float the regions that run slower than their float version.
 */
export const speedGuardShape = {
  allowSlower: z
    .boolean()
    .optional()
    .describe(
      'Keep every changed node even where it runs slower than the float model on the target; default: regions that are slower there are left float (profiled per node with onnxruntime)',
    ),
};
