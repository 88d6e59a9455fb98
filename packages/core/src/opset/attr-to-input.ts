import { attrFloat, attrInt, attrInts, attrString } from '../onnx/graph.js';
import { constNumbers, editedNode, floatConst, hasAttr, int64Const, keep, refuse, rewrite, scalarLike } from './plan-helpers.js';
import type { AdapterPlan, AdapterScope, OpsetAdapter } from './types.js';
import type { onnx } from '../onnx/proto.js';
import { attr, type AttrInput } from '../onnx/builder.js';

const FLOAT_LOWEST = -3.4028234663852886e38;
const FLOAT_MAX = 3.4028234663852886e38;

/** Constant numbers of optional input `i`; null when absent, undefined when computed at run time. */
function constInput(node: onnx.INodeProto, i: number, scope: AdapterScope): number[] | null | undefined {
  const name = (node.input ?? [])[i];
  if (!name) return null;
  const v = scope.constant(name);
  return v ? constNumbers(v) : undefined;
}

/** Inputs from `i` on become attributes; the caller says which and how. */
function firstInputs(node: onnx.INodeProto, n: number): string[] {
  return (node.input ?? []).slice(0, n);
}

/** The newer form: attributes `names` removed, `inits` read as the inputs after `first` (the data input). */
function attrsToInputs(
  node: onnx.INodeProto,
  names: readonly string[],
  inits: readonly onnx.TensorProto[],
  what: string,
  first: readonly string[] = firstInputs(node, 1),
): AdapterPlan {
  return rewrite([editedNode(node, { remove: names, input: [...first, ...inits.map((t) => t.name)] })], what, inits);
}

/** The older form: the data input only, what the other inputs held set as attributes. */
function inputsToAttrs(node: onnx.INodeProto, set: Record<string, AttrInput>, what: string): AdapterPlan {
  return rewrite([editedNode(node, { input: firstInputs(node, 1), set })], what);
}

/** Attributes that became inputs: Slice (10), TopK (10), Clip (11), Pad (11), Dropout (12) — and back where constant. */
export const ATTR_TO_INPUT_ADAPTERS: readonly OpsetAdapter[] = [
  {
    op: 'Slice',
    direction: 'up',
    version: 10,
    plan: (node, scope) => {
      const starts = attrInts(node, 'starts') ?? [];
      const ends = attrInts(node, 'ends') ?? [];
      const axes = attrInts(node, 'axes');
      const inits = [int64Const(scope, 'starts', starts), int64Const(scope, 'ends', ends)];
      if (axes) inits.push(int64Const(scope, 'axes', axes));
      return attrsToInputs(node, ['starts', 'ends', 'axes'], inits, 'starts/ends/axes → inputs');
    },
  },
  {
    op: 'Slice',
    direction: 'down',
    version: 10,
    plan: (node, scope) => {
      const starts = constInput(node, 1, scope);
      const ends = constInput(node, 2, scope);
      const axes = constInput(node, 3, scope);
      const steps = constInput(node, 4, scope);
      if (!starts || !ends || axes === undefined || steps === undefined) return refuse('starts/ends/axes/steps computed at run time');
      if (steps && steps.some((s) => s !== 1)) return refuse('steps other than 1 have no form before opset 10');
      const set = { starts, ends, ...(axes ? { axes } : {}) };
      return inputsToAttrs(node, set, 'inputs → starts/ends/axes');
    },
  },
  {
    op: 'TopK',
    direction: 'up',
    version: 10,
    plan: (node, scope) => {
      const k = int64Const(scope, 'k', [attrInt(node, 'k', 1)]);
      return attrsToInputs(node, ['k'], [k], 'k → input');
    },
  },
  {
    op: 'TopK',
    direction: 'down',
    version: 10,
    plan: (node, scope) => {
      const k = constInput(node, 1, scope);
      if (!k || k.length !== 1) return refuse('k computed at run time');
      return inputsToAttrs(node, { k: k[0]! }, 'k input → attribute');
    },
  },
  {
    op: 'Clip',
    direction: 'up',
    version: 11,
    plan: (node, scope) => {
      const x = (node.input ?? [])[0] ?? '';
      const hasMin = hasAttr(node, 'min');
      const hasMax = hasAttr(node, 'max');
      if (!hasMin && !hasMax) return keep;
      // The bounds are inputs of the data's own type from 11; min is positional, so max alone needs the lowest min.
      const inits = [scalarLike(scope, 'clip_min', x, attrFloat(node, 'min', FLOAT_LOWEST))];
      if (hasMax) inits.push(scalarLike(scope, 'clip_max', x, attrFloat(node, 'max', FLOAT_MAX)));
      return attrsToInputs(node, ['min', 'max'], inits, 'min/max → inputs', [x]);
    },
  },
  {
    op: 'Clip',
    direction: 'down',
    version: 11,
    plan: (node, scope) => {
      const min = constInput(node, 1, scope);
      const max = constInput(node, 2, scope);
      if (min === undefined || max === undefined) return refuse('min/max computed at run time');
      const set = {
        ...(min ? { min: attr.float(min[0]!) } : {}),
        ...(max ? { max: attr.float(max[0]!) } : {}),
      };
      return inputsToAttrs(node, set, 'min/max inputs → attributes');
    },
  },
  {
    op: 'Pad',
    direction: 'up',
    version: 11,
    plan: (node, scope) => {
      const x = (node.input ?? [])[0] ?? '';
      const pads = int64Const(scope, 'pads', attrInts(node, 'pads') ?? []);
      const inits = [pads];
      if (attrString(node, 'mode', 'constant') === 'constant') inits.push(scalarLike(scope, 'pad_value', x, attrFloat(node, 'value', 0)));
      return attrsToInputs(node, ['pads', 'value'], inits, 'pads/value → inputs', [x]);
    },
  },
  {
    op: 'Pad',
    direction: 'down',
    version: 11,
    plan: (node, scope) => {
      const pads = constInput(node, 1, scope);
      const value = constInput(node, 2, scope);
      if (!pads || value === undefined) return refuse('pads/constant_value computed at run time');
      const set = { pads, ...(value ? { value: attr.float(value[0]!) } : {}) };
      return inputsToAttrs(node, set, 'pads/constant_value inputs → attributes');
    },
  },
  {
    op: 'Dropout',
    direction: 'up',
    version: 12,
    plan: (node, scope) => {
      if (!hasAttr(node, 'ratio')) return keep;
      const ratio = floatConst(scope, 'dropout_ratio', 'float32', [attrFloat(node, 'ratio', 0.5)], []);
      return attrsToInputs(node, ['ratio'], [ratio], 'ratio → input');
    },
  },
  {
    op: 'Dropout',
    direction: 'down',
    version: 12,
    plan: (node, scope) => {
      if ((node.input ?? []).length < 2) return keep;
      const ratio = constInput(node, 1, scope);
      const training = constInput(node, 2, scope);
      if (ratio === undefined || training === undefined) return refuse('ratio/training_mode computed at run time');
      if (training && training[0] !== 0) return refuse('training_mode=true has no form before opset 12');
      const set: Record<string, AttrInput> = ratio ? { ratio: attr.float(ratio[0]!) } : {};
      return inputsToAttrs(node, set, 'ratio input → attribute');
    },
  },
];
