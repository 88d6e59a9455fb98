/**
 * Where the two operands of the MatMul / Gemm / Conv families sit, quantized and com.microsoft
 * variants included (QLinear* and QGemm put a scale and zero point between them). Shape rules and
 * MAC rules are both built from this one table, so an op added here gets both.
 */
export type ComputeFamily = 'matmul' | 'gemm' | 'conv';

export interface ComputeOperands {
  readonly family: ComputeFamily;
  /** Input index of A (MatMul, Gemm) or X (Conv). */
  readonly a: number;
  /** Input index of B (MatMul, Gemm) or W (Conv). */
  readonly b: number;
}

export const COMPUTE_OPS: ReadonlyMap<string, ComputeOperands> = new Map<string, ComputeOperands>([
  ['MatMul', { family: 'matmul', a: 0, b: 1 }],
  ['MatMulInteger', { family: 'matmul', a: 0, b: 1 }],
  ['FusedMatMul', { family: 'matmul', a: 0, b: 1 }],
  ['DynamicQuantizeMatMul', { family: 'matmul', a: 0, b: 1 }],
  ['MatMulIntegerToFloat', { family: 'matmul', a: 0, b: 1 }],
  ['QLinearMatMul', { family: 'matmul', a: 0, b: 3 }],
  ['Gemm', { family: 'gemm', a: 0, b: 1 }],
  ['QGemm', { family: 'gemm', a: 0, b: 3 }],
  ['Conv', { family: 'conv', a: 0, b: 1 }],
  ['FusedConv', { family: 'conv', a: 0, b: 1 }],
  ['ConvInteger', { family: 'conv', a: 0, b: 1 }],
  ['QLinearConv', { family: 'conv', a: 0, b: 3 }],
]);
