import { attrInt, isExternalTensor, tensorNumel, type Graph, type onnx } from '@shrink/core';
import { describeNode, type Found } from './structured-layers.js';
import type { UnitSlice } from './structured-tensor.js';

/** Where the pruned units sit in a value between two layers. */
export interface UnitAxisState {
  units: number;
  /** Unit axis counted from the last axis. */
  fromEnd: number;
  rank: number | undefined;
  /** Elements along the axis per unit (H*W after a Flatten of NCHW). */
  expand: number;
}

export interface ThroughStep {
  /** Per-unit constants of this node to slice along with the units. */
  slices: UnitSlice[];
  /** The unit axis in the node's output, when the node moves it. */
  next?: UnitAxisState;
}

/** A node between producer and consumer that keeps units independent (each output unit depends on that unit only). */
export type ThroughRule = (
  graph: Graph,
  node: onnx.NodeProto,
  value: string,
  state: UnitAxisState,
  shapes: ReadonlyMap<string, readonly number[]>,
) => Found<ThroughStep>;

const unary: ThroughRule = (_graph, node, value) => {
  if (node.input[0] !== value) return { skip: `${describeNode(node)} reads '${value}' as a parameter` };
  return { slices: [] };
};

/** Why a per-unit constant cannot be resized with the units, if it cannot. */
function notOwnConstant(graph: Graph, node: onnx.NodeProto, name: string): string | undefined {
  const t = graph.initializer(name);
  if (!t) return `${describeNode(node)}: '${name}' is not a constant`;
  if (isExternalTensor(t)) return `${describeNode(node)}: '${name}' is stored as external data (not loaded)`;
  if (graph.dtypeOf(name) !== 'float32') return `${describeNode(node)}: per-unit constant '${name}' is not float32`;
  if (graph.consumers(name).length !== 1) return `${describeNode(node)}: per-unit constant '${name}' is shared`;
  return undefined;
}

/** A constant operand: broadcast along the unit axis (no change) or one entry per unit (sliced). */
function unitConstant(graph: Graph, node: onnx.NodeProto, name: string, state: UnitAxisState): Found<UnitSlice[]> {
  if (!graph.isInitializer(name)) {
    return { skip: `${describeNode(node)} joins the layer output with '${name}', computed elsewhere (residual/branch)` };
  }
  const dims = (graph.shapeOf(name) ?? []) as number[];
  const axis = dims.length - 1 - state.fromEnd;
  const size = state.units * state.expand;
  if (axis < 0 || dims[axis] === 1) return [];
  if (dims[axis] !== size) return { skip: `${describeNode(node)}: constant '${name}' [${dims.join(', ')}] does not match ${size} units` };
  const bad = notOwnConstant(graph, node, name);
  if (bad) return { skip: bad };
  return [{ tensor: name, axis, expand: state.expand }];
}

const binary: ThroughRule = (graph, node, value, state) => {
  const [a, b] = node.input;
  if (a === value && b === value) return { skip: `${describeNode(node)} reads '${value}' twice` };
  const other = a === value ? b : a;
  if (!other) return { skip: `${describeNode(node)} has a missing input` };
  const s = unitConstant(graph, node, other, state);
  return 'skip' in s ? s : { slices: s };
};

const prelu: ThroughRule = (graph, node, value, state) => {
  if (node.input[0] !== value) return { skip: `${describeNode(node)} reads '${value}' as its slope` };
  const s = unitConstant(graph, node, node.input[1] ?? '', state);
  return 'skip' in s ? s : { slices: s };
};

function channelFirst(node: onnx.NodeProto, state: UnitAxisState): string | undefined {
  if (state.rank === undefined || state.fromEnd !== state.rank - 2) {
    return `${describeNode(node)} works on axis 1, which is not the unit axis here`;
  }
  return undefined;
}

const batchNorm: ThroughRule = (graph, node, value, state) => {
  if (node.input[0] !== value) return { skip: `${describeNode(node)} reads '${value}' as a parameter` };
  const bad = channelFirst(node, state);
  if (bad) return { skip: bad };
  if (state.expand !== 1) return { skip: `${describeNode(node)} follows a Flatten` };
  const slices: UnitSlice[] = [];
  for (const name of node.input.slice(1, 5)) {
    const bad = notOwnConstant(graph, node, name);
    if (bad) return { skip: bad };
    slices.push({ tensor: name, axis: 0, expand: 1 });
  }
  return { slices };
};

const pool: ThroughRule = (_graph, node, value, state) => {
  if (node.input[0] !== value) return { skip: `${describeNode(node)} reads '${value}' as a parameter` };
  const bad = channelFirst(node, state);
  return bad ? { skip: bad } : { slices: [] };
};

/** NCHW -> [N, C*H*W]: channel c becomes the block of rows c*H*W .. (c+1)*H*W-1 of the next dense weight. */
const flatten: ThroughRule = (_graph, node, value, state, shapes) => {
  const bad = channelFirst(node, state);
  if (bad) return { skip: bad };
  if (attrInt(node, 'axis', 1) !== 1)
    return { skip: `${describeNode(node)}: axis=${attrInt(node, 'axis', 1)}, only axis=1 keeps channels in blocks` };
  const shape = shapes.get(value);
  if (!shape) return { skip: `${describeNode(node)}: the shape of '${value}' is unknown` };
  const block = tensorNumel(shape.slice(2));
  return { slices: [], next: { units: state.units, fromEnd: 0, rank: 2, expand: state.expand * block } };
};

const UNARY = [
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Clip',
  'Identity',
  'Dropout',
  'Elu',
  'Selu',
  'Celu',
  'HardSigmoid',
  'HardSwish',
  'Softplus',
  'Softsign',
  'Gelu',
  'Erf',
  'Abs',
  'Neg',
  'Exp',
  'Sqrt',
  'Cast',
  'ThresholdedRelu',
  'Mish',
];

export const THROUGH: ReadonlyMap<string, ThroughRule> = new Map<string, ThroughRule>([
  ...UNARY.map((op) => [op, unary] as const),
  ...['Add', 'Sub', 'Mul', 'Div'].map((op) => [op, binary] as const),
  ['PRelu', prelu],
  ['BatchNormalization', batchNorm],
  ...['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool'].map((op) => [op, pool] as const),
  ['Flatten', flatten],
]);
