/**
 * Which quantized codes stand for zero. A pruned weight is zero whatever its dtype: stored as 8-bit codes
 * it is the zero point, packed into MatMulNBits it is the block's zero point. Counting codes against
 * their zero points keeps "non-zero parameters" true after quantization.
 */
import type { onnx } from '../onnx/proto.js';
import { constantTensor } from '../onnx/constant-tensor.js';
import { attrInt } from '../onnx/graph.js';
import { isExternalTensor, readTensor, tensorDims } from '../onnx/tensor.js';

/** How the codes of one tensor are read: their zero point input and the axis it runs along (per channel). */
interface CodeUse {
  /** Zero point tensor name; undefined means the op's default (0 for 8-bit ops). */
  zeroPoint: string | undefined;
  /** Axis of a per-channel zero point, normalized later against the code tensor's rank. */
  axis: number;
}

/** MatMulNBits' packed codes: K x N logical codes in blocks, zero points packed too (or the mid code). */
interface NBitsUse {
  bits: number;
  k: number;
  n: number;
  block: number;
  zeroPoint: string | undefined;
}

/** Op -> [code input, zero point input, axis of a per-channel zero point]. Zero points are optional inputs. */
const CODE_INPUTS: ReadonlyMap<string, ReadonlyArray<readonly [number, number, number]>> = new Map([
  ['MatMulInteger', [[1, 3, -1]]],
  ['ConvInteger', [[1, 3, 0]]],
  ['DynamicQuantizeMatMul', [[1, 3, -1]]],
  ['MatMulIntegerToFloat', [[1, 5, -1]]],
  ['QLinearMatMul', [[3, 5, -1]]],
  ['QLinearConv', [[3, 5, 0]]],
  ['QGemm', [[3, 5, -1]]],
]);

function usesOf(g: onnx.IGraphProto, codes: Map<string, CodeUse | null>, nbits: Map<string, NBitsUse | null>): void {
  // A tensor read two different ways has no single zero point: null marks it as unknown (counted dense).
  const put = <T>(m: Map<string, T | null>, name: string | undefined, use: T) => {
    if (!name) return;
    const prev = m.get(name);
    m.set(name, prev === undefined || JSON.stringify(prev) === JSON.stringify(use) ? use : null);
  };
  for (const n of g.node ?? []) {
    const ins = n.input ?? [];
    const op = n.opType ?? '';
    if (op === 'DequantizeLinear') put(codes, ins[0], { zeroPoint: ins[2] || undefined, axis: attrInt(n, 'axis', 1) });
    // Codes a Cast turns to float as they are (q8's weight-only Conv and recurrent weights, scaled by a Mul after): 0 is zero.
    else if (op === 'Cast') put(codes, ins[0], { zeroPoint: undefined, axis: 0 });
    else if (op === 'MatMulNBits') {
      put(nbits, ins[1], {
        bits: attrInt(n, 'bits', 4),
        k: attrInt(n, 'K', 0),
        n: attrInt(n, 'N', 0),
        block: attrInt(n, 'block_size', 0),
        zeroPoint: ins[3] || undefined,
      });
    } else {
      for (const [c, z, axis] of CODE_INPUTS.get(op) ?? []) put(codes, ins[c], { zeroPoint: ins[z] || undefined, axis });
    }
    for (const a of n.attribute ?? []) {
      if (a.g) usesOf(a.g, codes, nbits);
      for (const sg of a.graphs ?? []) usesOf(sg, codes, nbits);
    }
  }
}

function constants(g: onnx.IGraphProto, into: Map<string, onnx.ITensorProto>): void {
  for (const t of g.initializer ?? []) if (t.name) into.set(t.name, t);
  for (const n of g.node ?? []) {
    const v = constantTensor(n);
    if (v && n.output?.[0]) into.set(n.output[0], v);
    for (const a of n.attribute ?? []) {
      if (a.g) constants(a.g, into);
      for (const sg of a.graphs ?? []) constants(sg, into);
    }
  }
}

export interface CodeZeroCounter {
  /**
   * Non-zero codes of a stored 8-bit or packed tensor (by name), or undefined when its zero point is not
   * known (an unknown reader, a computed zero point, external data): the caller counts it as dense.
   */
  nonZero(tensor: onnx.ITensorProto, name?: string): number | undefined;
}

/** A counter for the code tensors of `g`, which knows how each one is read. */
export function codeZeroCounter(g: onnx.IGraphProto): CodeZeroCounter {
  const codes = new Map<string, CodeUse | null>();
  const nbits = new Map<string, NBitsUse | null>();
  usesOf(g, codes, nbits);
  const consts = new Map<string, onnx.ITensorProto>();
  constants(g, consts);
  const values = (name: string | undefined): ArrayLike<number> | undefined | null => {
    if (name === undefined) return undefined;
    const t = consts.get(name);
    if (!t || isExternalTensor(t)) return null;
    const d = readTensor(t).data;
    return typeof (d as ArrayLike<unknown>)[0] === 'bigint' ? null : (d as ArrayLike<number>);
  };
  return {
    // `name`: the value name nodes read it by, when it differs from the tensor's own (a Constant's output).
    nonZero(t, name = t.name ?? '') {
      if (isExternalTensor(t)) return undefined;
      const use = codes.get(name);
      if (use) return eightBitNonZero(t, use, values(use.zeroPoint));
      const nb = nbits.get(name);
      if (nb) return nbitsNonZero(t, nb, values(nb.zeroPoint));
      return undefined;
    },
  };
}

function eightBitNonZero(t: onnx.ITensorProto, use: CodeUse, zp: ArrayLike<number> | undefined | null): number | undefined {
  if (zp === null) return undefined;
  const data = readTensor(t).data as ArrayLike<number>;
  const dims = tensorDims(t);
  const channels = zp?.length ?? 1;
  if (channels <= 1) {
    const z = zp?.[0] ?? 0;
    let nz = 0;
    for (let i = 0; i < data.length; i++) if (data[i] !== z) nz++;
    return nz;
  }
  const axis = use.axis < 0 ? use.axis + dims.length : use.axis;
  if (axis < 0 || axis >= dims.length || dims[axis] !== channels) return undefined;
  let inner = 1;
  for (let d = axis + 1; d < dims.length; d++) inner *= dims[d]!;
  let nz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== zp![Math.floor(i / inner) % channels]) nz++;
  return nz;
}

/**
 * MatMulNBits packs B as [N, blocks, block*bits/8] bytes, low bits first; zero points (when given) as
 * [N, ceil(blocks*bits/8)] bytes. Without zero points a code's zero is the mid code 2^(bits-1).
 */
function nbitsNonZero(t: onnx.ITensorProto, u: NBitsUse, zp: ArrayLike<number> | undefined | null): number | undefined {
  if (zp === null || (u.bits !== 4 && u.bits !== 8) || u.k <= 0 || u.n <= 0 || u.block <= 0) return undefined;
  const data = readTensor(t).data as ArrayLike<number>;
  const blocks = Math.ceil(u.k / u.block);
  const blockBytes = (u.block * u.bits) / 8;
  if (data.length !== u.n * blocks * blockBytes) return undefined;
  const perByte = 8 / u.bits;
  const mask = (1 << u.bits) - 1;
  const zpRowBytes = Math.ceil((blocks * u.bits) / 8);
  if (zp && zp.length !== u.n * zpRowBytes) return undefined;
  const mid = 1 << (u.bits - 1);
  let nz = 0;
  for (let col = 0; col < u.n; col++) {
    for (let b = 0; b < blocks; b++) {
      const z = zp ? (zp[col * zpRowBytes + Math.floor(b / perByte)]! >> ((b % perByte) * u.bits)) & mask : mid;
      // The last block may run past K: its padding codes are not parameters.
      const valid = Math.min(u.block, u.k - b * u.block);
      const base = (col * blocks + b) * blockBytes;
      for (let i = 0; i < valid; i++) {
        const code = (data[base + Math.floor(i / perByte)]! >> ((i % perByte) * u.bits)) & mask;
        if (code !== z) nz++;
      }
    }
  }
  return nz;
}
