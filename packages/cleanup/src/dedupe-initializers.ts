/**
 * Initializers of equal element type, dims and bytes become one: readers of the others read the first.
 * Byte equality is exact (0 and -0 differ, so do NaN payloads). Initializers that are graph inputs
 * (fed at run time) or graph outputs keep their names and are left alone.
 */
import { isExternalTensor, readTensor, tensorDims, type Graph, type onnx } from '@shrink/core';
import { definesInside } from './defines-inside.js';

export interface DedupeResult {
  merged: number;
  /** Bytes of tensor data the merged initializers held. */
  bytes: number;
}

/** The bytes that say what a tensor holds (UTF-8 JSON of the strings of a string tensor); undefined when unreadable. */
function contentOf(t: onnx.TensorProto): Uint8Array | undefined {
  try {
    const v = readTensor(t);
    if (v.strings) return new TextEncoder().encode(JSON.stringify(v.strings));
    return new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
  } catch {
    return undefined;
  }
}

/** FNV-1a, to split candidates cheaply before comparing bytes. */
function hashOf(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function dedupeInitializers(graph: Graph): DedupeResult {
  const result: DedupeResult = { merged: 0, bytes: 0 };
  // Only tensors of the same type and dims can be equal: most groups have one member and are never hashed.
  const byShape = new Map<string, onnx.TensorProto[]>();
  for (const t of graph.initializers) {
    if (graph.isGraphInput(t.name) || graph.isGraphOutput(t.name) || isExternalTensor(t)) continue;
    const key = `${t.dataType}|${tensorDims(t).join(',')}`;
    const list = byShape.get(key);
    if (list) list.push(t);
    else byShape.set(key, [t]);
  }
  for (const group of byShape.values()) {
    if (group.length < 2) continue;
    const kept = new Map<number, Array<{ name: string; bytes: Uint8Array }>>();
    for (const t of group) {
      const bytes = contentOf(t);
      if (!bytes) continue;
      const h = hashOf(bytes);
      const same = kept.get(h)?.find((k) => sameBytes(k.bytes, bytes));
      if (!same || graph.consumers(t.name).some((c) => definesInside(c, same.name))) {
        kept.set(h, [...(kept.get(h) ?? []), { name: t.name, bytes }]);
        continue;
      }
      graph.replaceAllUses(t.name, same.name);
      graph.removeInitializer(t.name);
      result.merged++;
      result.bytes += bytes.length;
    }
  }
  return result;
}
