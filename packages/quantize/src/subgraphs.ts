/**
 * Quantization inside If/Loop/Scan bodies: core's withSubgraphs runs the graph pass on every body, and
 * this merges the bodies' node rows (named by body path), unhandled ops and notes into one report.
 */
import { withSubgraphs as eachBody, type onnx } from '@shrink/core';
import type { PassResult } from './types.js';

export { hasSubgraphs } from '@shrink/core';

/** A graph pass: one graph's nodes, subgraphs carried untouched. */
export type GraphPass = (model: onnx.IModelProto) => PassResult;

/** A body's pass says an outer weight is "computed at run time": it is an outer graph's weight, which its own nodes read too. */
const AT_RUN_TIME = /'([^']+)' is computed at run time(, not a constant weight)?/;

/** `pass` on the main graph and on every If/Loop/Scan body in it (nested ones too); one merged report. */
export function withSubgraphs(model: onnx.IModelProto, pass: GraphPass): PassResult {
  const bodies: PassResult['report']['nodes'] = [];
  const unhandled: Record<string, number> = {};
  const notes: string[] = [];
  const r = eachBody(model, pass, (body, { where, outerWeights }) => {
    for (const n of body.report.nodes) {
      const m = n.reason !== undefined ? AT_RUN_TIME.exec(n.reason) : null;
      const reason =
        m && outerWeights.has(m[1]!)
          ? n.reason!.replace(AT_RUN_TIME, `'${m[1]}' is a weight of an enclosing graph whose own nodes read it too (one copy, kept float)`)
          : n.reason;
      bodies.push({ ...n, name: `${where}${n.name}`, ...(reason !== undefined ? { reason } : {}) });
    }
    for (const [k, v] of Object.entries(body.report.unhandled)) unhandled[k] = (unhandled[k] ?? 0) + v;
    notes.push(...body.report.notes);
  });
  const merged = { ...r.report.unhandled };
  for (const [k, v] of Object.entries(unhandled)) merged[k] = (merged[k] ?? 0) + v;
  return {
    model: r.model,
    report: {
      ...r.report,
      nodes: [...r.report.nodes, ...bodies],
      unhandled: merged,
      notes: [...new Set([...r.report.notes, ...notes])],
    },
  };
}
