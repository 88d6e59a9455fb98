// Shared by every pass (quantize, prune, ...): which nodes the user let it touch, and what it passed over.
import { ShrinkError } from '../errors.js';
import { normalDomain } from './domain.js';
import type { Graph } from './graph.js';
import { nodeLabel } from './node-label.js';
import type { onnx } from './proto.js';
import { bodyWhere, currentBody } from './select-scope.js';

/** The --include / --exclude options every pass takes. */
export interface NodeFilter {
  include?: readonly string[] | undefined;
  exclude?: readonly string[] | undefined;
}

export type Selection = { ok: true } | { ok: false; reason: string };

export interface NodeSelector {
  /** Whether --include / --exclude let a pass rewrite this node, and why not. */
  isSelected(node: onnx.INodeProto): Selection;
}

/** What an entry can name in a model: node labels, body nodes' paths, op types. */
interface Names {
  nodes: string[];
  paths: string[];
  ops: string[];
}

/** Every node of the graph and of its If/Loop/Scan bodies, nested ones too; body nodes also by path. */
function namesIn(nodes: readonly onnx.INodeProto[]): Names {
  const out: Names = { nodes: [], paths: [], ops: [] };
  const walk = (list: readonly onnx.INodeProto[], path: string): void => {
    for (const n of list) {
      const label = nodeLabel(n);
      if (label !== '') {
        out.nodes.push(label);
        if (path !== '') out.paths.push(`${path}${label}`);
      }
      if (n.opType) out.ops.push(n.opType);
      for (const a of n.attribute ?? []) {
        if (a.g) walk(a.g.node ?? [], bodyWhere(path, n, a));
        (a.graphs ?? []).forEach((g, i) => walk(g.node ?? [], bodyWhere(path, n, a, i)));
      }
    }
  };
  walk(nodes, '');
  return out;
}

function quoted(list: readonly string[]): string {
  return list.map((s) => `'${s}'`).join(', ');
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Up to three names close to `entry`: the same but for case, containing it, or a few edits away. */
function closeTo(entry: string, names: Names): string[] {
  const e = entry.toLowerCase();
  const scored: [string, number][] = [];
  for (const name of new Set([...names.ops, ...names.nodes, ...names.paths])) {
    const n = name.toLowerCase();
    const edits = distance(e, n);
    // The same but for case, then names containing the entry (a node's tail), then a few edits away, then names the entry contains.
    const score =
      n === e
        ? 0
        : n.includes(e)
          ? 1 + (n.length - e.length) / 1e4
          : edits <= Math.max(1, Math.floor(e.length / 4))
            ? 2 + edits / 100
            : e.includes(n)
              ? 3
              : -1;
    if (score >= 0) scored.push([name, score]);
  }
  return scored
    .sort((a, b) => a[1] - b[1] || a[0].length - b[0].length)
    .slice(0, 3)
    .map(([name]) => name);
}

function unknownEntry(entry: string, names: Names): string {
  const ops = [...new Set(names.ops)].sort();
  const few = (list: readonly string[]): string => quoted(list.slice(0, 5)) + (list.length > 5 ? ', ...' : '');
  const close = closeTo(entry, names);
  const parts = entry.split(',').map((s) => s.trim());
  const known = new Set([...names.ops, ...names.nodes, ...names.paths]);
  const several =
    parts.length > 1 && parts.every((p) => known.has(p))
      ? '; several entries are separate values (repeat the option), not one comma-separated string'
      : '';
  const hint = close.length > 0 ? `; nearest names: ${quoted(close)}` : names.nodes.length > 0 ? `; node names: ${few(names.nodes)}` : '';
  return `no node or op type named '${entry}' in the model or its If/Loop/Scan bodies${several}; op types in the model: ${few(ops) || 'none'}${hint}`;
}

/**
 * The --include / --exclude filter: each entry is a node's label (its name, or for an unnamed node its
 * first output, as reports name it), an op type, or a body node's path as reports give it
 * (`If_0/then_branch/NodeName`). Nodes inside If/Loop/Scan bodies match by label or path too. An entry
 * matching nothing anywhere in the model is refused up front (a typo would otherwise silently rewrite
 * everything or nothing). Exclude wins over include.
 *
 * On a body (withSubgraphs' pass over it) the entries are not checked again: they may name nodes of the
 * enclosing graphs, which the main graph's pass found.
 */
export function selectNodes(graph: Graph, options: NodeFilter): NodeSelector {
  const where = currentBody() ?? '';
  if (where === '') {
    const names = namesIn(graph.nodes);
    const known = new Set([...names.nodes, ...names.paths, ...names.ops]);
    for (const [option, list] of [
      ['include', options.include],
      ['exclude', options.exclude],
    ] as const) {
      for (const entry of list ?? []) {
        if (!known.has(entry)) throw new ShrinkError('INVALID_ARGUMENT', unknownEntry(entry, names), { option });
      }
    }
  }
  const include = options.include && options.include.length > 0 ? new Set(options.include) : undefined;
  const exclude = new Set(options.exclude ?? []);
  // The entry that names this node, if any: its label, its path in a body, or its op type.
  const named = (list: ReadonlySet<string>, node: onnx.INodeProto): string | undefined => {
    const label = nodeLabel(node);
    if (label !== '' && list.has(label)) return label;
    if (label !== '' && where !== '' && list.has(`${where}${label}`)) return `${where}${label}`;
    const op = node.opType ?? '';
    return list.has(op) ? op : undefined;
  };
  return {
    isSelected(node) {
      const ex = named(exclude, node);
      if (ex !== undefined) return { ok: false, reason: `excluded ('${ex}' is in exclude)` };
      if (include && named(include, node) === undefined) return { ok: false, reason: 'not listed in include' };
      return { ok: true };
    },
  };
}

/**
 * Op types with no handler in a pass, with their node counts, for report.unhandled. Ops of other
 * domains are keyed `domain:opType`, since a handler table only knows the default domain.
 */
export function countUnhandled(graph: Graph, handled: ReadonlySet<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of graph.nodes) {
    const domain = normalDomain(n.domain);
    if (domain === '' && handled.has(n.opType)) continue;
    const key = domain === '' ? n.opType : `${domain}:${n.opType}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
