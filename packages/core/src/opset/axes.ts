import { attrInt, attrInts } from '../onnx/graph.js';
import type { onnx } from '../onnx/proto.js';
import { constNumbers, editedNode, forOps, hasAttr, int64Const, keep, refuse, rewrite } from './plan-helpers.js';
import type { AdapterScope, OpsetAdapter } from './types.js';

/** Reductions whose `axes` became an input at 18 (ReduceSum moved earlier, at 13). */
const REDUCE_AT_18 = [
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSumSquare',
];

/** `axes` attribute → second input (an absent attribute stays absent: both mean "all axes"). */
function axesToInput(name: string): OpsetAdapter['plan'] {
  return (node, scope) => {
    const axes = attrInts(node, name);
    if (!axes) return hasAttr(node, name) ? rewrite([editedNode(node, { remove: [name] })], `empty ${name} removed`) : keep;
    const t = int64Const(scope, name, axes);
    const input = [(node.input ?? [])[0] ?? '', t.name];
    return rewrite([editedNode(node, { remove: [name], input })], `${name} → input`, [t]);
  };
}

/** Second input → `axes` attribute, when it is a constant. */
function axesToAttr(name: string, extra?: (node: onnx.INodeProto) => string | undefined): OpsetAdapter['plan'] {
  return (node, scope: AdapterScope) => {
    const why = extra?.(node);
    if (why) return refuse(why);
    const second = (node.input ?? [])[1];
    if (!second) return keep;
    const v = scope.constant(second);
    if (!v) return refuse(`${name} computed at run time`);
    const axes = constNumbers(v);
    const set = axes.length > 0 ? { [name]: axes } : {};
    return rewrite([editedNode(node, { input: [(node.input ?? [])[0] ?? ''], set })], `${name} input → attribute`);
  };
}

// noop_with_empty_axes=1 (reduce nothing when axes is empty) has no attribute form.
const noopEmpty = (node: onnx.INodeProto): string | undefined =>
  attrInt(node, 'noop_with_empty_axes', 0) !== 0 ? 'noop_with_empty_axes=1 has no form with an axes attribute' : undefined;

/** Squeeze/Unsqueeze/ReduceX `axes` and Split's `split` moving between attribute and input. */
export const AXES_ADAPTERS: readonly OpsetAdapter[] = [
  ...forOps(['Squeeze', 'Unsqueeze', 'ReduceSum'], 'up', 13, axesToInput('axes')),
  ...forOps(['Squeeze', 'Unsqueeze'], 'down', 13, axesToAttr('axes')),
  { op: 'ReduceSum', direction: 'down', version: 13, plan: axesToAttr('axes', noopEmpty) },
  ...forOps(REDUCE_AT_18, 'up', 18, axesToInput('axes')),
  ...forOps(REDUCE_AT_18, 'down', 18, axesToAttr('axes', noopEmpty)),
  {
    op: 'Split',
    direction: 'up',
    version: 13,
    plan: (node, scope) => {
      const split = attrInts(node, 'split');
      if (!split) return keep;
      const t = int64Const(scope, 'split', split);
      return rewrite([editedNode(node, { remove: ['split'], input: [(node.input ?? [])[0] ?? '', t.name] })], 'split → input', [t]);
    },
  },
  { op: 'Split', direction: 'down', version: 13, plan: axesToAttr('split') },
  {
    // From 18 a Split without sizes must say how many parts it makes.
    op: 'Split',
    direction: 'up',
    version: 18,
    plan: (node) => {
      if ((node.input ?? [])[1] || hasAttr(node, 'num_outputs')) return keep;
      return rewrite([editedNode(node, { set: { num_outputs: (node.output ?? []).length } })], 'num_outputs set');
    },
  },
  {
    op: 'Split',
    direction: 'down',
    version: 18,
    plan: (node) => (hasAttr(node, 'num_outputs') ? rewrite([editedNode(node, { remove: ['num_outputs'] })], 'num_outputs removed') : keep),
  },
];
