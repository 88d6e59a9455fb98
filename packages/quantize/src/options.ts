import { z } from 'zod';
import { WEIGHT_ALGOS } from './ops/weight-quantizers.js';

/** transformers.js dtype words; each maps to one method and one default output name. */
export const DTYPES = ['q8', 'int8', 'uint8', 'q4', 'q4f16', 'fp16'] as const;
export type QuantDtype = (typeof DTYPES)[number];

/** How dynamic 8-bit quantization stores and computes a Conv (ops/dynamic-conv.ts). */
export const CONV_FORMATS = ['auto', 'integer', 'weight-only'] as const;
export type ConvFormat = (typeof CONV_FORMATS)[number];

/** Output file names transformers.js looks for, beside the input when no -o is given. */
export const OUTPUT_NAMES: Readonly<Record<QuantDtype, string>> = {
  q8: 'model_quantized.onnx',
  int8: 'model_int8.onnx',
  uint8: 'model_uint8.onnx',
  q4: 'model_q4.onnx',
  q4f16: 'model_q4f16.onnx',
  fp16: 'model_fp16.onnx',
};

/**
 * Options of the ONNX quantization pass. The same schema validates library calls, makes the CLI's
 * flags (`shrink quantize`), and the `quantize:` step of a pipeline config.
 */
export const quantizeOptionsSchema = z.strictObject({
  dtype: z
    .enum(DTYPES)
    .default('q8')
    .describe('q8/int8/uint8: 8-bit integer; q4/q4f16: 4-bit weight-only (MatMulNBits); fp16: half precision'),
  mode: z
    .enum(['auto', 'dynamic', 'static', 'weight-only'])
    .default('auto')
    .describe(
      '8-bit only: dynamic (activations quantized at run time), static (QDQ with calibration), weight-only (MatMulNBits, 8 bits), or auto: static when calibration data is given and most MACs are in Conv, else dynamic',
    ),
  weightType: z
    .enum(['int8', 'uint8'])
    .optional()
    .describe(
      '8-bit dtypes: weight codes int8 (symmetric) or uint8 (asymmetric); default from the dtype (int8 -> int8, uint8 -> uint8, q8 -> see README)',
    ),
  reduceRange: z
    .boolean()
    .optional()
    .describe(
      '8-bit dtypes: 7-bit weight codes (int8 [-64, 64]) that x86 CPUs without VNNI cannot saturate; default off except as q8 chooses',
    ),
  convFormat: z
    .enum(CONV_FORMATS)
    .default('auto')
    .describe(
      'Dynamic 8-bit Conv: integer (ConvInteger on run-time uint8 activations), weight-only (int8 weights per output channel, computed in float) or auto (see README)',
    ),
  perChannel: z.boolean().default(false).describe('One scale per output channel of each weight instead of one per tensor'),
  calibData: z
    .string()
    .optional()
    .describe(
      "Calibration data: a dataset, a feeds file or folder (the model's inputs by name: .json/.npz/.npy), or random:N for a smoke test. Static mode calibrates on it; fp16 and q4f16 run the float32 model on it to keep float32 what would overflow float16 (default: the evaluation data or --data feeds, else synthetic samples)",
    ),
  calibMethod: z.enum(['minmax', 'percentile', 'entropy']).default('minmax').describe('Static mode: how activation ranges are chosen'),
  percentile: z.number().gt(50).lte(100).default(99.99).describe('Static mode, percentile method: the percentile of |x| kept'),
  calibSamples: z.number().int().positive().default(256).describe('Static mode: calibration samples used at most'),
  blockSize: z
    .union([z.literal(16), z.literal(32), z.literal(64), z.literal(128), z.literal(256)])
    .default(32)
    .describe('q4/q4f16 (and 8-bit weight-only): weights per quantization block'),
  bits: z
    .union([z.literal(2), z.literal(3), z.literal(4), z.literal(8)])
    .optional()
    .describe(
      'q4/q4f16: weight bits, 2, 3, 4 (default) or 8 (8-bit weight-only is 8 by definition); 3 has no onnxruntime kernel and is stored in 4-bit codes (3-bit accuracy, 4-bit size)',
    ),
  targetBits: z
    .number()
    .gt(2)
    .lte(8)
    .optional()
    .describe(
      'q4/q4f16 mixed precision: the average stored code bits per weight (scales come on top); the weights whose output error drops most per bit are raised to 8 bits (3 to 4 first) until the average is reached, weighed by the calibration activations when calibData is given',
    ),
  sizeBudget: z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*([kmgKMG]i?[bB]|[bB])?\s*$/, 'a size: bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB')
    .optional()
    .describe(
      'q4/q4f16 mixed precision: the largest the written model may be (e.g. 12MB, 1.5GiB); weights are raised above bits, most sensitive per byte first, while the file stays within it',
    ),
  sensitivity: z
    .enum(['auto', 'weights', 'outputs'])
    .default('auto')
    .describe(
      "Mixed precision: how a weight's loss at low bits is judged: outputs (each weight alone at bits, run in onnxruntime on 4 calibration samples: the model's output error), weights (its own relative error, weighed by the calibration activations when given; no runs), or auto: outputs when calibData is given, else weights",
    ),
  symmetric: z.boolean().default(true).describe('q4/q4f16: symmetric blocks (no zero points); false stores a zero point per block'),
  accuracyLevel: z
    .number()
    .int()
    .min(0)
    .max(4)
    .default(4)
    .describe('MatMulNBits accuracy_level: 4 = int8 compute (fast on CPU), 0 = unset'),
  algo: z
    .enum(WEIGHT_ALGOS)
    .default('rtn')
    .describe(
      'q4/q4f16 (and 8-bit weight-only): how weights are quantized into blocks; rtn = round to nearest, gptq = error feedback weighted by calibration activations (needs calibData), hqq = per-block float zero points fitted without data, kquant = per-block scale (and zero point) searched over 20 grids by weighted least squares, without data',
    ),
  include: z
    .array(z.string())
    .optional()
    .describe(
      'Only quantize the nodes listed: a node name (for an unnamed node, its first output), an op type, or a node in an If/Loop/Scan body by its name or its path as reports give it (If_0/then_branch/NodeName); several entries are separate values, not one comma-separated string',
    ),
  exclude: z.array(z.string()).optional().describe('Never quantize the nodes listed (the forms include takes)'),
  floatCompute: z
    .array(z.string())
    .optional()
    .describe(
      'Dynamic 8-bit: the MatMul, Gemm and Conv nodes listed (the forms include takes) store int8 weights but compute in float, as fast as float and about as small as int8; the speed guard lists here the nodes whose int8 kernels run slower than float on the target',
    ),
  requantize: z
    .boolean()
    .default(false)
    .describe(
      'An already-quantized input (QDQ, MatMulNBits): dequantize its weights to float and quantize again; without it such models are refused',
    ),
  keepFloat32: z.array(z.string()).optional().describe('fp16: op types that stay float32 (added to the built-in block list)'),
});

export type QuantizeOptions = z.input<typeof quantizeOptionsSchema>;
export type ResolvedQuantizeOptions = z.output<typeof quantizeOptionsSchema>;
