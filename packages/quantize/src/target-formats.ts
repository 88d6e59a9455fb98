import type { TargetContext } from '@shrink/core';
import type { QuantizePassOptions } from './pass.js';

/**
 * The formats a target runs fast, chosen per op family before the pass runs (docs/targets.md has the
 * sources). The options a user set win; every choice made here is a report note.
 */
export function formatsForTarget(
  o: QuantizePassOptions,
  target: TargetContext | undefined,
): { options: QuantizePassOptions; notes: string[] } {
  const dynamic8 = o.mode === 'dynamic' && (o.dtype === 'q8' || o.dtype === 'int8' || o.dtype === 'uint8');
  if (!target || !dynamic8) return { options: o, notes: [] };
  const notes: string[] = [];
  let options = o;
  if (target.info.runtime === 'onnxruntime-web-webgpu' && o.floatCompute === undefined) {
    // WebGPU's EP registers DequantizeLinear but no MatMulInteger/DynamicQuantizeLinear: integer nodes
    // would run on the wasm CPU EP with copies both ways.
    options = { ...options, floatCompute: ['MatMul', 'Gemm'] };
    notes.push(
      `target webgpu: MatMul/Gemm weights stored int8 and computed in float (WebGPU has no MatMulInteger or DynamicQuantizeLinear kernel; they would run on the CPU with GPU<->CPU copies)`,
    );
  }
  if (target.info.runtime !== 'onnxruntime-node' && o.convFormat === 'integer' && o.weightType === undefined && o.dtype === 'q8') {
    // onnxruntime-web before 1.24 has no ConvInteger for int8 weights (transformers.js keeps Conv weights uint8 for it).
    options = { ...options, weightType: 'uint8' };
    notes.push(
      `target ${target.name}: uint8 weights for ConvInteger (onnxruntime-web before 1.24, which transformers.js releases pin, has no int8-weight ConvInteger; Olive #686)`,
    );
  }
  return { options, notes };
}
