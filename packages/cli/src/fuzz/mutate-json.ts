/**
 * Mutations of the text files Shrink reads: a tfjs model.json (wrong types, missing keys, weight paths
 * out of the folder, byte counts that do not match the weights file) and --data files (CSV, JSON).
 */
import type { Rng } from '@shrink/core/data';
import { pick } from './pick.js';

export interface TextMutation {
  name: string;
  text: string;
}

const WRONG_VALUES: readonly unknown[] = [null, 0, -1, 1.5, 2 ** 40, 'x', '', true, [], {}, [[]], { a: 1 }, 'NaN', -1e308];
const HOSTILE_PATHS = ['../group1-shard1of1.bin', '/etc/passwd', 'a/../../x.bin', './group1-shard1of1.bin', 'nope.bin', '', '.'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every [container, key] pair in a JSON value, depth first. */
function slots(v: Json, out: Array<[Json[] | { [k: string]: Json }, string | number]> = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) (out.push([v, k]), slots(v[k]!, out));
  return out;
}

function setSlot(c: Json[] | { [k: string]: Json }, k: string | number, v: Json | undefined): void {
  if (Array.isArray(c)) {
    if (v === undefined) c.splice(k as number, 1);
    else c[k as number] = v;
  } else if (v === undefined) delete c[k as string];
  else c[k as string] = v;
}

/** A value somewhere in the document replaced by one of the wrong type, or removed. */
function anySlot(rng: Rng, doc: Json): string {
  const all = slots(doc);
  if (all.length === 0) return 'nothing to change';
  const [c, k] = pick(rng, all);
  if (rng.next() < 0.3) {
    setSlot(c, k, undefined);
    return `removed ${String(k)}`;
  }
  const v = pick(rng, WRONG_VALUES) as Json;
  setSlot(c, k, structuredClone(v));
  return `${String(k)} -> ${JSON.stringify(v)}`;
}

type ModelJson = { modelTopology?: Json; weightsManifest?: Array<{ paths?: Json; weights?: Array<Record<string, Json>> }> } & Record<
  string,
  Json
>;

/** One mutation of a tfjs model.json, aimed at the keys the loader trusts. */
export function mutateModelJson(rng: Rng, text: string): TextMutation {
  const doc = JSON.parse(text) as ModelJson;
  const group = doc.weightsManifest?.[0];
  const weight = group?.weights ? pick(rng, group.weights) : undefined;
  let name: string;
  switch (rng.int(8)) {
    case 0:
      delete doc[pick(rng, ['modelTopology', 'weightsManifest', 'format'])];
      name = 'top-level key removed';
      break;
    case 1:
      if (group) group.paths = [pick(rng, HOSTILE_PATHS)];
      name = `weight path -> ${JSON.stringify(group?.paths)}`;
      break;
    case 2:
      if (weight) weight['shape'] = [pick(rng, [0, -1, 2 ** 40, 65, 3, 2 ** 31]), ...(rng.next() < 0.5 ? [8] : [])];
      name = `weight shape -> ${JSON.stringify(weight?.['shape'])} (byte count no longer matches)`;
      break;
    case 3:
      if (weight) weight['dtype'] = pick(rng, ['float64', 'string', 'int8', 'complex64', 'bool', 7]);
      name = `weight dtype -> ${JSON.stringify(weight?.['dtype'])}`;
      break;
    case 4:
      if (weight)
        weight['quantization'] = {
          dtype: pick(rng, ['uint8', 'uint16', 'float16', 'int4']),
          scale: pick(rng, [0, NaN, 1, -1]) as Json,
          min: 0,
        };
      name = 'weight quantization block added';
      break;
    case 5:
      if (group?.weights) group.weights = rng.next() < 0.5 ? [] : [...group.weights, ...group.weights];
      name = `weights list -> ${group?.weights?.length ?? 0} entries`;
      break;
    case 6:
      return { name: 'model.json truncated', text: text.slice(0, rng.int(text.length)) };
    default:
      name = anySlot(rng, doc);
  }
  return { name, text: JSON.stringify(doc) };
}

/** One mutation of a {"x": [[...]], "y": [...]} data file. */
export function mutateDataJson(rng: Rng, text: string): TextMutation {
  const doc = JSON.parse(text) as { x: Json[]; y: Json[] } & Record<string, Json>;
  switch (rng.int(6)) {
    case 0:
      return { name: 'truncated', text: text.slice(0, rng.int(text.length)) };
    case 1:
      doc.x = [];
      doc.y = [];
      return { name: 'no samples', text: JSON.stringify(doc) };
    case 2:
      doc.x = doc.x.slice(0, 1);
      doc.y = doc.y.slice(0, 1);
      return { name: 'one sample', text: JSON.stringify(doc) };
    case 3:
      (doc.x[0] as Json[]).pop();
      return { name: 'ragged row', text: JSON.stringify(doc) };
    case 4:
      doc.y[rng.int(doc.y.length)] = pick(rng, [-1, 1e9, 0.5, 'a', null]);
      return { name: 'bad label', text: JSON.stringify(doc) };
    default:
      return { name: anySlot(rng, doc), text: JSON.stringify(doc) };
  }
}

/** One mutation of a CSV data file (header + numeric rows, label last). */
export function mutateCsv(rng: Rng, text: string): TextMutation {
  const lines = text.trimEnd().split('\n');
  const row = 1 + rng.int(Math.max(1, lines.length - 1));
  const cells = (lines[row] ?? '').split(',');
  switch (rng.int(7)) {
    case 0:
      return { name: 'truncated', text: text.slice(0, rng.int(text.length)) };
    case 1:
      return { name: 'header only', text: `${lines[0]}\n` };
    case 2:
      cells.pop();
      break;
    case 3:
      cells[rng.int(cells.length)] = pick(rng, ['NaN', 'Infinity', '-inf', 'abc', '', '1e999', '"1"']);
      break;
    case 4:
      cells.push('1');
      break;
    case 5:
      return { name: 'empty file', text: '' };
    default:
      cells[cells.length - 1] = pick(rng, ['-1', '1000000', '0.5', '2']);
  }
  lines[row] = cells.join(',');
  return { name: `row ${row} changed`, text: lines.join('\n') + '\n' };
}
