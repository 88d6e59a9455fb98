import { nodeLabel } from '@shrink/core';
import { floatWeight } from '../float-weight.js';
import {
  newValue,
  plannedWeight,
  skip,
  weightPart,
  type DynamicOp,
  type PlannedConstant,
  type PlannedNode,
  type PlannedWeight,
} from './dynamic-types.js';

/** Said once per run when any LSTM, GRU or RNN is stored this way. */
export const RECURRENT_WEIGHT_ONLY_NOTE =
  "LSTM, GRU and RNN weights (W, R) are int8 codes with a scale per gate row, turned back to float by a Cast and a Mul that onnxruntime folds into float32 weights when it loads the model: the file is about 4x smaller, the run is the float op (no default-domain integer LSTM exists; com.microsoft's DynamicQuantizeLSTM also quantizes the activations at every step). Bias and initial states stay float";

/** W and R: the inputs of LSTM, GRU and RNN that are [num_directions, gates x hidden, K] weights. */
const WEIGHT_INPUTS = [1, 2] as const;

/**
 * LSTM / GRU / RNN with constant W and R -> Cast(int8 codes) -> Mul(scale per row) -> Reshape -> the same op.
 * Each row of W and R (one gate unit of one direction, dims [D, G*H, K]) gets its own symmetric int8
 * scale with no zero point, as a weight-only Conv's output channel does (dynamic-conv-weight-only.ts):
 * gates differ in range (silero VAD's input and cell gates), so one scale per tensor would waste codes.
 * onnxruntime constant-folds the Cast and Mul of initializers at session load, so the recurrent kernel
 * gets the float weights it prepacks, at the float op's speed. A float16 weight is cast back to float16
 * after the Mul, keeping the op's type.
 */
export const planRecurrentWeightOnly: DynamicOp = (node, view) => {
  const base = nodeLabel(node);
  const weights: PlannedWeight[] = [];
  const constants: PlannedConstant[] = [];
  const nodes: PlannedNode[] = [];
  const inputs: (string | ReturnType<typeof newValue>)[] = [...node.input];
  for (const i of WEIGHT_INPUTS) {
    const name = node.input[i];
    const w = floatWeight(view.graph, name, i === 1 ? 'W' : 'R');
    if (typeof w === 'string') return skip(`${w}; only constant W and R are quantized`);
    if (w.dims.length !== 3)
      return skip(`'${name}' has rank ${w.dims.length}; ${node.opType} weights are [num_directions, gates x hidden, K]`);
    const key = `${name}|recurrent-weight-only`;
    // Stored as [D x G*H, K] rows, a scale each (per axis 1 of [D, G*H, K] would share a scale across
    // directions), and reshaped back after the Mul; onnxruntime folds the Reshape with the Cast and Mul.
    const rows = [w.dims[0]! * w.dims[1]!, w.dims[2]!];
    const shape = newValue(`${name}_shape`);
    constants.push({ kind: 'constant', value: shape, dtype: 'int64', dims: [3], data: [...w.dims] });
    weights.push(
      plannedWeight(
        key,
        name!,
        { data: w.data, dims: rows },
        { type: 'int8', symmetric: true, axis: 0, scaleDims: [rows[0]!, 1], noZeroPoint: true },
      ),
    );
    const codes = newValue(`${name}_codes_float`);
    const flat = newValue(`${name}_dequantized_rows`);
    const half = w.readAs === 'float16';
    const weight = newValue(`${name}_dequantized`);
    const scaled = half ? newValue(`${name}_dequantized_float32`) : weight;
    const part = i === 1 ? 'W' : 'R';
    nodes.push(
      { opType: 'Cast', name: `${base}_${part}_cast`, inputs: [weightPart(key, 'codes')], outputs: [codes], attrs: { to: 1 } },
      { opType: 'Mul', name: `${base}_${part}_scale`, inputs: [codes, weightPart(key, 'scale')], outputs: [flat] },
      { opType: 'Reshape', name: `${base}_${part}_reshape`, inputs: [flat, shape], outputs: [scaled] },
      ...(half ? [{ opType: 'Cast', name: `${base}_${part}_to_float16`, inputs: [scaled], outputs: [weight], attrs: { to: 10 } }] : []),
    );
    inputs[i] = weight;
  }
  nodes.push({ opType: node.opType, name: base, inputs, outputs: [...node.output], keepAttributes: true, keepName: true });
  return {
    kind: 'plan',
    plan: {
      initializers: [...weights, ...constants],
      nodes,
      reason: `int8 symmetric W and R per gate row, computed in float (weight-only ${node.opType})`,
      notes: [RECURRENT_WEIGHT_ONLY_NOTE],
      ownPrecision: true,
    },
  };
};
