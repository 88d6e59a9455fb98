import { attrInt, attrInts, attrString, findAttr } from '../onnx/graph.js';
import { dtypeToOnnx, type DType } from '../onnx/tensor.js';
import { editedNode, forOps, hasAttr, int64Const, keep, refuse, rewrite } from './plan-helpers.js';
import type { OpsetAdapter } from './types.js';

/** Ops whose opset-1 schema had `consumed_inputs` (a Caffe2 in-place hint, never semantic), dropped at 6. */
const CONSUMED_INPUTS_OPS = [
  'Abs',
  'Add',
  'BatchNormalization',
  'Ceil',
  'Clip',
  'Div',
  'Dropout',
  'Elu',
  'Exp',
  'Floor',
  'HardSigmoid',
  'InstanceNormalization',
  'LeakyRelu',
  'Log',
  'Max',
  'Mean',
  'Min',
  'Mul',
  'Neg',
  'PRelu',
  'Reciprocal',
  'Relu',
  'Selu',
  'Sigmoid',
  'Sqrt',
  'Sub',
  'Sum',
  'Tanh',
];

/** Cast-1 named its target type as a string. */
const CAST_NAMES: Record<string, DType> = {
  FLOAT: 'float32',
  FLOAT16: 'float16',
  DOUBLE: 'float64',
  INT8: 'int8',
  UINT8: 'uint8',
  INT16: 'int16',
  UINT16: 'uint16',
  INT32: 'int32',
  UINT32: 'uint32',
  INT64: 'int64',
  UINT64: 'uint64',
  BOOL: 'bool',
  STRING: 'string',
  BFLOAT16: 'bfloat16',
};

/** Removes an attribute when present; the op is unchanged otherwise. */
function dropAttr(name: string, what: string): OpsetAdapter['plan'] {
  return (node) => (hasAttr(node, name) ? rewrite([editedNode(node, { remove: [name] })], what) : keep);
}

/**
 * Schema changes that only remove, rename or default an attribute (and the one that moves Reshape's
 * shape to an input, opset 5, which every later exporter already writes as an input).
 */
export const LEGACY_ATTR_ADAPTERS: readonly OpsetAdapter[] = [
  ...forOps(CONSUMED_INPUTS_OPS, 'up', 6, dropAttr('consumed_inputs', 'consumed_inputs removed')),
  // is_test=0 asked for training behaviour, which an inference graph never gets from onnxruntime anyway.
  ...forOps(['BatchNormalization', 'Dropout'], 'up', 7, dropAttr('is_test', 'is_test removed')),
  {
    op: 'BatchNormalization',
    direction: 'up',
    version: 9,
    plan: (node) => {
      if (!hasAttr(node, 'spatial')) return keep;
      if (attrInt(node, 'spatial', 1) !== 1) return refuse('spatial=0 (per-element statistics) has no form from opset 9');
      return rewrite([editedNode(node, { remove: ['spatial'] })], 'spatial=1 removed');
    },
  },
  {
    // From 14 BatchNormalization has 1 output in inference and 3 in training; the old running-statistics
    // outputs 2..4 (mean, var, saved mean, saved var) only make sense when training.
    op: 'BatchNormalization',
    direction: 'up',
    version: 14,
    plan: (node, scope) => {
      const extra = (node.output ?? []).slice(1);
      if (extra.every((o) => o === '')) return keep;
      if (extra.some((o) => o !== '' && scope.used(o))) return refuse('training outputs (running mean/var) are read by other nodes');
      return rewrite([editedNode(node, { output: [(node.output ?? [])[0] ?? ''] })], 'unused training outputs dropped');
    },
  },
  { op: 'Gemm', direction: 'up', version: 7, plan: dropAttr('broadcast', 'broadcast removed (C broadcasts unidirectionally)') },
  {
    op: 'Concat',
    direction: 'up',
    version: 4,
    plan: (node) => (hasAttr(node, 'axis') ? keep : rewrite([editedNode(node, { set: { axis: 1 } })], 'axis=1 made explicit')),
  },
  {
    op: 'Cast',
    direction: 'up',
    version: 6,
    plan: (node) => {
      const a = findAttr(node, 'to');
      if (!a || a.s === undefined || a.s === null || a.s.length === 0) return keep;
      const name = attrString(node, 'to', '').toUpperCase();
      const d = CAST_NAMES[name];
      if (!d) return refuse(`Cast to '${name}' has no type code`);
      return rewrite([editedNode(node, { set: { to: dtypeToOnnx(d) } })], `to '${name}' became a type code`);
    },
  },
  {
    op: 'Pad',
    direction: 'up',
    version: 2,
    plan: (node) => {
      const paddings = attrInts(node, 'paddings');
      if (!paddings) return keep;
      return rewrite([editedNode(node, { remove: ['paddings'], set: { pads: paddings } })], 'paddings renamed pads');
    },
  },
  {
    op: 'Reshape',
    direction: 'up',
    version: 5,
    plan: (node, scope) => {
      const shape = attrInts(node, 'shape');
      if (!shape) return refuse('opset-1 Reshape without a shape attribute');
      const t = int64Const(scope, `${node.name || 'reshape'}_shape`, shape);
      return rewrite(
        [editedNode(node, { remove: ['shape', 'consumed_inputs'], input: [(node.input ?? [])[0] ?? '', t.name] })],
        'shape attribute → input',
        [t],
      );
    },
  },
  {
    op: 'Split',
    direction: 'up',
    version: 2,
    plan: (node, scope) => {
      const second = (node.input ?? [])[1];
      if (!second) return keep;
      const v = scope.constant(second);
      if (!v) return refuse('opset-1 Split with its sizes computed at run time');
      const split = Array.from(v.data as ArrayLike<number | bigint>, Number);
      return rewrite([editedNode(node, { input: [(node.input ?? [])[0] ?? ''], set: { split } })], 'split input → attribute');
    },
  },
  // Recurrent layers gained `layout` at 14; absent means the old batch-second layout.
  ...forOps(['GRU', 'LSTM', 'RNN'], 'up', 14, () => keep),
  ...forOps(['GRU', 'LSTM', 'RNN'], 'down', 14, (node) =>
    attrInt(node, 'layout', 0) === 0
      ? hasAttr(node, 'layout')
        ? rewrite([editedNode(node, { remove: ['layout'] })], 'layout=0 removed')
        : keep
      : refuse('layout=1 (batch first) has no form before opset 14'),
  ),
  { op: 'LpPool', direction: 'up', version: 18, plan: () => keep },
  {
    op: 'RoiAlign',
    direction: 'up',
    version: 16,
    // Opset 10 RoiAlign shifted by half a pixel nowhere; 16 defaults to half_pixel, so the old behaviour is named.
    plan: (node) =>
      hasAttr(node, 'coordinate_transformation_mode')
        ? keep
        : rewrite(
            [editedNode(node, { set: { coordinate_transformation_mode: 'output_half_pixel' } })],
            'coordinate_transformation_mode=output_half_pixel',
          ),
  },
  {
    op: 'GridSample',
    direction: 'up',
    version: 20,
    plan: (node) => {
      const mode = attrString(node, 'mode', 'bilinear');
      const renamed = mode === 'bilinear' ? 'linear' : mode === 'bicubic' ? 'cubic' : mode;
      return rewrite([editedNode(node, { set: { mode: renamed } })], `mode ${mode} → ${renamed}`);
    },
  },
];
