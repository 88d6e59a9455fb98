// NumPy .npz files as numpy.savez writes them (a zip of `<name>.npy` entries, stored, not deflated),
// written and read without dependencies. Arrays are { dtype, dims, data } with ONNX dtype words and
// little-endian typed arrays, the shape onnxruntime-node's Tensor takes.
import { readFileSync, writeFileSync } from 'node:fs';

const DESCR = { float32: '<f4', float16: '<f2', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', bool: '|b1' };
const CTOR = {
  '<f4': ['float32', Float32Array],
  '<f2': ['float16', Uint16Array],
  '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array],
  '|b1': ['bool', Uint8Array],
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One array as a version-1.0 .npy file. */
export function npyBytes({ dtype, dims, data }) {
  const descr = DESCR[dtype];
  if (!descr) throw new Error(`npy: dtype ${dtype} is not written here`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`npy: ${data.length} values for shape (${dims.join(', ')})`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // The magic, version and length (10 bytes) plus the header end on a multiple of 64, newline last.
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** A stored (uncompressed) zip of `<name>.npy` entries, in the order given. */
export function npzBytes(arrays) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, arr] of Object.entries(arrays)) {
    const body = npyBytes(arr);
    const fname = Buffer.from(`${name}.npy`, 'utf8');
    const crc = crc32(body);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(body.length, 22);
    local.writeUInt16LE(fname.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(body.length, 24);
    central.writeUInt16LE(fname.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fname, body);
    centrals.push(central, fname);
    offset += local.length + fname.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export function writeNpz(file, arrays) {
  writeFileSync(file, npzBytes(arrays));
}

/** The arrays of an .npz this module wrote (stored entries), by name, in file order. */
export function readNpz(file) {
  const buf = readFileSync(file);
  const out = new Map();
  for (let off = 0; buf.readUInt32LE(off) === 0x04034b50;) {
    if (buf.readUInt16LE(off + 8) !== 0) throw new Error(`${file}: compressed entries are not read here`);
    const size = buf.readUInt32LE(off + 18);
    const nameLen = buf.readUInt16LE(off + 26);
    const extra = buf.readUInt16LE(off + 28);
    const name = buf.toString('utf8', off + 30, off + 30 + nameLen).replace(/\.npy$/, '');
    const body = buf.subarray(off + 30 + nameLen + extra, off + 30 + nameLen + extra + size);
    const hlen = body.readUInt16LE(8);
    const header = body.toString('latin1', 10, 10 + hlen);
    const descr = /'descr': '([^']+)'/.exec(header)[1];
    const dims = /'shape': \(([^)]*)\)/
      .exec(header)[1]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(Number);
    const [dtype, Ctor] = CTOR[descr];
    const bytes = body.subarray(10 + hlen);
    const copy = new Uint8Array(bytes); // aligned
    out.set(name, { dtype, dims, data: new Ctor(copy.buffer, 0, bytes.length / Ctor.BYTES_PER_ELEMENT) });
    off += 30 + nameLen + extra + size;
  }
  return out;
}
