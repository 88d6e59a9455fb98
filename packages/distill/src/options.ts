import { z } from 'zod';

/**
 * Options of knowledge distillation. The same schema validates library calls, makes the CLI's flags
 * (`shrink distill`), and the `distill:` step of a pipeline config.
 */
export const distillOptionsSchema = z.strictObject({
  student: z
    .string()
    .min(1)
    .describe(
      'Student: layer sizes "784-64-10" (input-hidden...-outputs), a conv spec "c16-c32-64-10", a preset name, or a model path (.onnx or tfjs folder)',
    ),
  temperature: z.number().positive().default(4).describe('Softmax temperature T of the soft targets (> 0); the KL term is scaled by T^2'),
  alpha: z
    .number()
    .min(0)
    .max(1)
    .default(0.7)
    .describe('Weight of the soft-target term in [0, 1]; 1 - alpha weighs the hard-label cross-entropy (1 = no labels needed)'),
  epochs: z.number().int().positive().default(10).describe('Training epochs of the student'),
  batch: z.number().int().positive().default(64).describe('Samples per training step'),
  lr: z.number().positive().default(0.001).describe('Adam learning rate'),
  hiddenMatch: z
    .array(z.string())
    .optional()
    .describe('Hidden-layer matching pairs "teacherValue:studentLayer" (MSE through a learned projection)'),
  hiddenWeight: z.number().min(0).default(1).describe('Weight of each hidden-matching MSE term'),
  teacherOutput: z.enum(['auto', 'logits', 'probs']).default('auto').describe('What the teacher outputs: detected (auto), or declared'),
  initFromTeacher: z.boolean().default(false).describe("Initialise student layers from the teacher's where the weight shapes are equal"),
  seed: z.number().int().min(0).default(0).describe('Seed of the student weights and the sample order'),
});

export type DistillOptions = z.input<typeof distillOptionsSchema>;
export type ResolvedDistillOptions = z.output<typeof distillOptionsSchema>;
