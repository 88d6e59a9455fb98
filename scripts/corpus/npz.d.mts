// Types of npz.mjs for the TypeScript bench and tests.
export interface NpzArray {
  dtype: 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';
  dims: number[];
  data: Float32Array | Uint16Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
}
export function npyBytes(array: NpzArray): Buffer;
export function npzBytes(arrays: Record<string, NpzArray>): Buffer;
export function writeNpz(file: string, arrays: Record<string, NpzArray>): void;
export function readNpz(file: string): Map<string, NpzArray>;
