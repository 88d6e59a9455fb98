import type { onnx } from '../../onnx/proto.js';
import { toNumber } from '../../onnx/proto.js';

// Readers for node attributes; onnx-proto decodes INT/INTS as Long, which toNumber checks for exactness.

function find(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function intAttr(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = find(node, name);
  return a ? toNumber(a.i, `attribute '${name}' of node '${node.name ?? ''}'`) : fallback;
}

export function intsAttr(node: onnx.INodeProto, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? (a.ints ?? []).map((v) => toNumber(v, `attribute '${name}' of node '${node.name ?? ''}'`)) : undefined;
}

export function floatAttr(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = find(node, name);
  return a ? (a.f ?? 0) : fallback;
}

export function stringAttr(node: onnx.INodeProto, name: string, fallback: string): string {
  const a = find(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}
