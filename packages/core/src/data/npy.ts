/**
 * NumPy's .npy and .npz formats, read from bytes: what people have from Python (`np.save`, `np.savez`)
 * when they want to give a model its real inputs. Portable (no Node APIs), so the browser reads them too.
 */
import { unzipSync } from 'fflate';
import { ShrinkError } from '../errors.js';
import type { DType, TensorData } from '../onnx/tensor.js';

export interface NpyArray {
  readonly dtype: DType;
  readonly dims: number[];
  readonly data: TensorData;
}

type Ctor = new (buf: ArrayBuffer, offset: number, length: number) => TensorData;

// descr (without byte order) -> dtype, bytes per element, array type. bool is stored as uint8, as ort takes it.
const DESCR: Readonly<Record<string, readonly [DType, number, Ctor]>> = {
  f4: ['float32', 4, Float32Array],
  f8: ['float64', 8, Float64Array],
  f2: ['float16', 2, Uint16Array],
  i1: ['int8', 1, Int8Array],
  u1: ['uint8', 1, Uint8Array],
  b1: ['bool', 1, Uint8Array],
  i2: ['int16', 2, Int16Array],
  u2: ['uint16', 2, Uint16Array],
  i4: ['int32', 4, Int32Array],
  u4: ['uint32', 4, Uint32Array],
  i8: ['int64', 8, BigInt64Array],
  u8: ['uint64', 8, BigUint64Array],
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function bad(source: string, why: string): ShrinkError {
  return new ShrinkError('INVALID_DATA', `${source}: ${why}; expected a NumPy .npy array (np.save) of numbers, little-endian, C order`);
}

/** One .npy array; `source` names it in errors ("feeds.npz:input_ids.npy"). */
export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(source, 'not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [headerLen, start] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  if (start + headerLen > bytes.length) throw bad(source, 'header runs past the end of the file');
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw bad(source, `unreadable header ${JSON.stringify(header.trim())}`);
  const kind = DESCR[descr[2]!];
  if (!kind) throw bad(source, `dtype '${descr[1]}${descr[2]}' is not supported`);
  const [dtype, size, ctor] = kind;
  if (descr[1] === '>' && size > 1) throw bad(source, 'big-endian data');
  if (fortran[1] === 'True' && shape[1]!.split(',').filter((s) => s.trim() !== '').length > 1) throw bad(source, 'Fortran order');
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw bad(source, `shape (${shape[1]}) is not a list of sizes`);
  const n = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (bytes.length - offset < n * size)
    throw bad(source, `holds ${bytes.length - offset} data bytes, shape (${dims.join(', ')}) needs ${n * size}`);
  // A copy: typed arrays need aligned offsets, and the zip's buffer may be shared.
  const copy = bytes.slice(offset, offset + n * size);
  return { dtype, dims, data: new ctor(copy.buffer, 0, n) };
}

/** Every array of an .npz (np.savez / np.savez_compressed), by name without the ".npy". */
export function parseNpz(bytes: Uint8Array, source: string): Map<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new ShrinkError(
      'INVALID_DATA',
      `${source}: not a readable .npz (zip) file: ${(e as Error).message}; expected what numpy.savez writes`,
    );
  }
  const out = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(files)) {
    if (!name.endsWith('.npy')) continue;
    out.set(name.slice(0, -4), parseNpy(data, `${source}:${name}`));
  }
  if (out.size === 0) throw new ShrinkError('INVALID_DATA', `${source}: the .npz holds no .npy arrays; expected what numpy.savez writes`);
  return out;
}
