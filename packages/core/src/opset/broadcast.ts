import { attrInt } from '../onnx/graph.js';
import { makeNode } from '../onnx/builder.js';
import { makeTensor } from '../onnx/tensor.js';
import { editedNode, forOps, hasAttr, keep, refuse, rewrite } from './plan-helpers.js';
import type { OpsetAdapter } from './types.js';

/** Binary ops that had `broadcast`/`axis` attributes before opset 7 (numpy broadcasting from 7). */
const BROADCAST_OPS = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less'];

/**
 * Before 7, `broadcast=1` with `axis` aligned B's first dim with A's dim `axis`; numpy broadcasting
 * aligns trailing dims, so B gets as many trailing 1-dims as A has dims after B's last one.
 */
export const BROADCAST_ADAPTERS: readonly OpsetAdapter[] = forOps(BROADCAST_OPS, 'up', 7, (node, scope) => {
  if (!hasAttr(node, 'broadcast') && !hasAttr(node, 'axis')) return keep;
  const plain = editedNode(node, { remove: ['broadcast', 'axis'] });
  if (attrInt(node, 'broadcast', 0) !== 1 || !hasAttr(node, 'axis')) return rewrite([plain], 'broadcast/axis removed');
  const [a = '', b = ''] = node.input ?? [];
  const ra = scope.rank(a);
  const rb = scope.rank(b);
  if (ra === undefined || rb === undefined)
    return refuse('broadcast with axis needs the ranks of both inputs, and the graph does not give them');
  let axis = attrInt(node, 'axis', 0);
  if (axis < 0) axis += ra;
  const ones = ra - axis - rb;
  if (ones < 0) return refuse(`axis ${axis} with ranks ${ra} and ${rb} does not broadcast`);
  if (ones === 0) return rewrite([plain], 'broadcast/axis removed');
  const c = scope.constant(b);
  if (c) {
    const t = makeTensor(scope.fresh(`${b}_bcast`), c.dtype, [...c.dims, ...Array<number>(ones).fill(1)], c.data);
    return rewrite([editedNode(plain, { input: [a, t.name] })], `axis ${axis} broadcast: constant B reshaped`, [t]);
  }
  // An opset-1 Unsqueeze (axes attribute); the step to 13 moves the axes to an input when the target needs it.
  const out = scope.fresh(`${b}_bcast`);
  const axes = Array.from({ length: ones }, (_, i) => rb + i);
  return rewrite(
    [makeNode('Unsqueeze', [b], [out], { axes }), editedNode(plain, { input: [a, out] })],
    `axis ${axis} broadcast: B unsqueezed`,
  );
});

/**
 * PRelu before 7 applied a 1-D slope along the channel axis (1); from 7 the slope broadcasts
 * numpy-style from the right. onnx registers this step as compatible, which breaks every
 * per-channel PRelu of an image: the slope gets trailing 1-dims so its channels stay on axis 1.
 */
export const PRELU_ADAPTER: OpsetAdapter = {
  op: 'PRelu',
  direction: 'up',
  version: 7,
  plan: (node, scope) => {
    const [x = '', slope = ''] = node.input ?? [];
    const rx = scope.rank(x);
    const rs = scope.rank(slope);
    const c = scope.constant(slope);
    if (c && c.data.length === 1) return keep;
    if (rs !== undefined && rs !== 1) return keep; // already written as a broadcastable shape
    if (rx === undefined) return refuse('a per-channel slope needs the rank of the input, and the graph does not give it');
    const ones = rx - 2;
    if (ones <= 0) return keep;
    if (c) {
      const t = makeTensor(scope.fresh(`${slope}_bcast`), c.dtype, [...c.dims, ...Array<number>(ones).fill(1)], c.data);
      return rewrite([editedNode(node, { input: [x, t.name] })], 'per-channel slope reshaped to broadcast from axis 1', [t]);
    }
    const out = scope.fresh(`${slope}_bcast`);
    const axes = Array.from({ length: ones }, (_, i) => 1 + i);
    return rewrite(
      [makeNode('Unsqueeze', [slope], [out], { axes }), editedNode(node, { input: [x, out] })],
      'per-channel slope unsqueezed to broadcast from axis 1',
    );
  },
};
