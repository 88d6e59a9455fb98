// Shared by every pass (quantize, prune, ...): which nodes the user let it touch, and what it passed over.
import { ShrinkError } from '../errors.js';
import { normalDomain } from './domain.js';
import type { Graph } from './graph.js';
import type { onnx } from './proto.js';

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

function suggest(graph: Graph): string {
  const ops = [...new Set(graph.nodes.map((n) => n.opType))].sort();
  const names = graph.nodes.map((n) => n.name).filter((n) => n !== '');
  const few = (list: string[]): string =>
    list
      .slice(0, 5)
      .map((s) => `'${s}'`)
      .join(', ') + (list.length > 5 ? ', ...' : '');
  return `op types in the model: ${few(ops) || 'none'}${names.length > 0 ? `; node names: ${few(names)}` : ''}`;
}

/**
 * The --include / --exclude filter: each entry is a node name or an op type. An entry matching
 * neither is refused up front (a typo would otherwise silently rewrite everything or nothing).
 * Exclude wins over include.
 */
export function selectNodes(graph: Graph, options: NodeFilter): NodeSelector {
  const names = new Set(graph.nodes.map((n) => n.name).filter((n) => n !== ''));
  const ops = new Set(graph.nodes.map((n) => n.opType));
  for (const [option, list] of [
    ['include', options.include],
    ['exclude', options.exclude],
  ] as const) {
    for (const entry of list ?? []) {
      if (!names.has(entry) && !ops.has(entry)) {
        throw new ShrinkError('INVALID_ARGUMENT', `no node or op type named '${entry}'; ${suggest(graph)}`, { option });
      }
    }
  }
  const include = options.include && options.include.length > 0 ? new Set(options.include) : undefined;
  const exclude = new Set(options.exclude ?? []);
  return {
    isSelected(node) {
      const name = node.name ?? '';
      const op = node.opType ?? '';
      if (name !== '' && exclude.has(name)) return { ok: false, reason: `excluded ('${name}' is in exclude)` };
      if (exclude.has(op)) return { ok: false, reason: `excluded ('${op}' is in exclude)` };
      if (include && !(name !== '' && include.has(name)) && !include.has(op)) {
        return { ok: false, reason: 'not listed in include' };
      }
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
