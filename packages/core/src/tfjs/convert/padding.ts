/**
 * Padding that tfjs/TensorFlow 'same' applies along one spatial axis: output size ceil(in / stride),
 * the odd pixel going to the end (ONNX SAME_UPPER). Used both to emit explicit ONNX pads and to recognise them.
 */
export function samePads(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(inSize / stride);
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}
