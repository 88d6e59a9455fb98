import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OP_RULES } from './op-table.js';
import { resolveTarget, TARGET_NAMES, TARGETS, targetSchema } from './targets.js';

test('every target name parses and resolves to a description of itself', () => {
  for (const name of TARGET_NAMES) {
    assert.equal(targetSchema.parse(name), name);
    assert.equal(TARGETS[name].name, name);
    assert.equal(resolveTarget(name).name, name);
    assert.ok(TARGETS[name].source.length > 0, name);
  }
  assert.equal(targetSchema.safeParse('gpu').success, false);
  assert.equal(resolveTarget('cpu', 'cpu-x86-avx2').name, 'cpu-x86-avx2');
  // Before detection `cpu` must be right on any CPU: saturation 'depends', like cpu-portable.
  assert.equal(resolveTarget('cpu').int8Saturates, 'depends');
});

test('every op-table row cites a source, says something, and has a unique id', () => {
  const ids = new Set<string>();
  for (const r of OP_RULES) {
    assert.ok(r.source.trim().length > 10, `${r.id}: source`);
    assert.ok(r.note.trim().length > 10, `${r.id}: note`);
    assert.ok(r.ops.length > 0 && r.runtimes.length > 0, r.id);
    assert.ok(!ids.has(r.id), `duplicate id ${r.id}`);
    ids.add(r.id);
    if (r.supported === 'cpu-fallback') assert.deepEqual(r.runtimes, ['onnxruntime-web-webgpu'], `${r.id}: only webgpu falls back`);
  }
});

test('the table covers the op forms Shrink emits', () => {
  const ops = new Set(OP_RULES.flatMap((r) => r.ops));
  for (const op of [
    'ConvInteger',
    'MatMulInteger',
    'DynamicQuantizeLinear',
    'QuantizeLinear',
    'DequantizeLinear',
    'QLinearConv',
    'QLinearMatMul',
    'MatMulNBits',
    'GatherBlockQuantized',
    'MatMul',
  ])
    assert.ok(ops.has(op), op);
});
