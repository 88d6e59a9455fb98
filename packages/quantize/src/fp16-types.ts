/**
 * Element types for the float16 pass, and the check that its output is a model onnxruntime loads.
 * Core's inference reads declared types and op rules; an If/Loop/Scan whose bodies leave their outputs
 * undeclared (silero-vad's decoder If, exported by torch.onnx) gets no type, and the Unsqueeze after it
 * then took the type of its int64 axes: the float16 pass saw an int64 value, left it float32, and wrote
 * an Add of float32 and float16 that onnxruntime refuses. Here the bodies are inferred too, with the
 * outer values they read, and the converted graph is checked op by op before it is returned.
 */
import { elemTypes, findAttr, nodeLabel, normalDomain, onnx, subgraphsOf } from '@shrink/core';

const T = onnx.TensorProto.DataType;

/** Which body output a control-flow node's output i is, by op (Loop's body starts with its condition). */
const BODY_OUTPUT_SKIP: Readonly<Record<string, { attr: string; skip: number }>> = {
  If: { attr: 'then_branch', skip: 0 },
  Loop: { attr: 'body', skip: 1 },
  Scan: { attr: 'body', skip: 0 },
};

function typed(name: string, code: number): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: code } } };
}

/**
 * Element type (TensorProto.DataType) of every value of `graph` that can be told: declared types, op
 * rules, the outputs of If/Loop/Scan from what their bodies compute, and `outer` for the values of
 * enclosing graphs a body reads.
 */
export function valueTypes(graph: onnx.IGraphProto, outer: ReadonlyMap<string, number> = new Map()): Map<string, number> {
  const own = new Set([
    ...(graph.input ?? []).map((v) => v.name ?? ''),
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
    ...(graph.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  const outerInfo = [...outer].filter(([n]) => !own.has(n)).map(([n, c]) => typed(n, c));
  const found: onnx.IValueInfoProto[] = [];
  let types = new Map<string, number>();
  // Each round may type one more level of control flow whose bodies read the previous one's outputs.
  for (let round = 0; round < 4; round++) {
    types = elemTypes({ ...graph, valueInfo: [...outerInfo, ...found, ...(graph.valueInfo ?? [])] });
    let added = 0;
    for (const node of graph.node ?? []) {
      const rule = normalDomain(node.domain) === '' ? BODY_OUTPUT_SKIP[node.opType ?? ''] : undefined;
      if (!rule || (node.output ?? []).every((o) => !o || types.has(o))) continue;
      const body = findAttr(node, rule.attr)?.g;
      if (!body) continue;
      const inner = valueTypes(body, types);
      (node.output ?? []).forEach((o, i) => {
        const code = inner.get(body.output?.[i + rule.skip]?.name ?? '');
        if (o && code !== undefined && !types.has(o)) {
          found.push(typed(o, code));
          added++;
        }
      });
    }
    if (added === 0) break;
  }
  return types;
}

/**
 * Inputs that one type parameter binds together, by op: onnxruntime refuses a node whose inputs at
 * these positions have different element types ("Type parameter (T) ... bound to different types").
 * `'all'` is every input.
 */
const SAME_TYPE: ReadonlyMap<string, readonly number[] | 'all'> = new Map<string, readonly number[] | 'all'>([
  ...['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Sum', 'Mean', 'Max', 'Min', 'Concat', 'MatMul', 'PRelu'].map((op): [string, 'all'] => [
    op,
    'all',
  ]),
  ...['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Einsum'].map((op): [string, 'all'] => [op, 'all']),
  ['Gemm', [0, 1, 2]],
  ['Conv', [0, 1, 2]],
  ['ConvTranspose', [0, 1, 2]],
  ['Clip', [0, 1, 2]],
  ['Where', [1, 2]],
  ['Pad', [0, 2]],
  ['ScatterElements', [0, 2]],
  ['ScatterND', [0, 2]],
  ['InstanceNormalization', [0, 1, 2]],
  ['LayerNormalization', [0, 1, 2]],
  ['GroupNormalization', [0, 1, 2]],
  ['BatchNormalization', [0, 1, 2, 3, 4]],
  ['LSTM', [0, 1, 2, 3, 5, 6, 7]],
  ['GRU', [0, 1, 2, 3, 5]],
  ['RNN', [0, 1, 2, 3, 5]],
]);

/** A node whose inputs disagree on a type they must share, and how. */
export interface TypeClash {
  readonly node: onnx.INodeProto;
  readonly index: number;
  readonly detail: string;
}

const NAMES: Readonly<Record<number, string>> = {
  [T.FLOAT]: 'float32',
  [T.FLOAT16]: 'float16',
  [T.INT64]: 'int64',
  [T.INT32]: 'int32',
  [T.DOUBLE]: 'float64',
};
const typeName = (code: number): string => NAMES[code] ?? `type ${code}`;

/**
 * Default-domain nodes of `graph` (not its bodies: each is checked in its own pass) whose inputs bind
 * float16 and another type to one type parameter. Only clashes involving float16 are the pass's doing.
 */
export function typeClashes(graph: onnx.IGraphProto, outer: ReadonlyMap<string, number> = new Map()): TypeClash[] {
  const types = valueTypes(graph, outer);
  const clashes: TypeClash[] = [];
  (graph.node ?? []).forEach((node, index) => {
    if (normalDomain(node.domain) !== '') return;
    const same = SAME_TYPE.get(node.opType ?? '');
    if (!same) return;
    const ins = node.input ?? [];
    const at = same === 'all' ? ins.map((_, i) => i) : same.filter((i) => i < ins.length);
    const seen = at.filter((i) => ins[i]).map((i) => ({ name: ins[i]!, code: types.get(ins[i]!) }));
    const codes = new Set(seen.map((s) => s.code).filter((c): c is number => c !== undefined));
    if (codes.size < 2 || !codes.has(T.FLOAT16)) return;
    const detail = seen
      .filter((s) => s.code !== undefined)
      .map((s) => `'${s.name}' ${typeName(s.code!)}`)
      .join(', ');
    clashes.push({ node, index, detail: `${node.opType} '${nodeLabel(node)}' would read ${detail}` });
  });
  return clashes;
}

/** Whether a node holds If/Loop/Scan bodies. */
export function holdsBodies(node: onnx.INodeProto): boolean {
  return subgraphsOf(node).length > 0;
}
