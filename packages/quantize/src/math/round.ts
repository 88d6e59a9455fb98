/**
 * Round half to even, as numpy's `round` and onnxruntime's QuantizeLinear do (2.5 -> 2, 3.5 -> 4,
 * -2.5 -> -2). Plain Math.round rounds halves up, which biases quantized codes.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends every half toward +inf; step back when that landed on an odd integer.
  const v = r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return v === 0 ? 0 : v; // no -0: it would print oddly in reports
}
