/**
 * A `--target wasm|webgpu` candidate checked in a real Chromium: baseline and candidate run in the same
 * page on the same samples, every output compared (float outputs by cosine, integer ones by the share of
 * equal values, the worst sample deciding), and their latencies timed interleaved in that runtime.
 * Nothing here throws for want of a browser: the notes say "not verified in Chromium" and why.
 */
import { cosine, float16ToFloat32, type TensorData } from '@shrink/core';
import { runInChromium, type BrowserBackend, type BrowserModel, type BrowserTensor } from './run-in-chromium.js';

export interface ChromiumCheck {
  /** Lines for the report: what ran where, the worst output's agreement, the latency ratio; or why not. */
  readonly notes: string[];
  readonly available: boolean;
  /** Per baseline output: the worst sample's cosine (float outputs) or share of equal values (integer outputs). */
  readonly fidelity?: Record<string, number>;
  /** Candidate p50 / baseline p50 in the same browser runtime. */
  readonly latencyRatio?: number;
  /** "Chromium 150.0.7871.100", "onnxruntime-web 1.30.0 wasm", the WebGPU adapter: for reports. */
  readonly browser?: string;
  readonly runtime?: string;
  readonly adapter?: string;
}

export interface ChromiumCheckOptions {
  readonly runs?: number;
  readonly timeoutMs?: number;
  readonly threads?: number;
}

const INTEGER = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool']);

function asFloat(t: BrowserTensor): Float64Array | Float32Array {
  if (t.type === 'float16') return float16ToFloat32(t.data as Uint16Array);
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return t.data;
  return Float64Array.from(t.data as ArrayLike<number>, Number);
}

function equalShare(a: TensorData, b: TensorData): number {
  if (a.length === 0) return 1;
  let same = 0;
  for (let j = 0; j < a.length; j++) if (a[j] === b[j]) same++;
  return same / a.length;
}

/** One output on one sample: cosine for floats, the share of equal values for integers; NaN when the sizes differ. */
function agreement(base: BrowserTensor, cand: BrowserTensor): number {
  if (base.data.length !== cand.data.length) return NaN;
  if (INTEGER.has(base.type) && INTEGER.has(cand.type)) return equalShare(base.data, cand.data);
  return cosine(asFloat(base), asFloat(cand));
}

const short = (version: string) => version.replace(/^Chromium (\d+).*/, 'chromium $1');

export async function chromiumCheck(
  baseline: BrowserModel,
  candidate: BrowserModel,
  samples: Parameters<typeof runInChromium>[1],
  backend: BrowserBackend,
  opts: ChromiumCheckOptions = {},
): Promise<ChromiumCheck> {
  const run = await runInChromium([baseline, candidate], samples, { backend, ...opts });
  if (!run.available) return { notes: [`not verified in Chromium: ${run.reason}`], available: false };
  const [b, c] = run.models as [(typeof run.models)[0], (typeof run.models)[0]];
  const fidelity: Record<string, number> = {};
  const notes: string[] = [];
  const baseNames = Object.keys(b.outputs[0] ?? {});
  const candNames = Object.keys(c.outputs[0] ?? {});
  // By name; when the two share no name (a renamed graph), by position.
  const byName = baseNames.some((n) => candNames.includes(n));
  baseNames.forEach((name, i) => {
    const other = byName ? name : candNames[i];
    if (other === undefined || !candNames.includes(other)) {
      notes.push(`the candidate has no output '${name}' to compare in Chromium`);
      return;
    }
    const perSample = b.outputs.map((o, s) => agreement(o[name]!, c.outputs[s]![other]!));
    fidelity[name] = perSample.reduce((x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)));
  });
  const entries = Object.entries(fidelity);
  const where = `${short(run.browser)} (${run.runtime}${run.adapter !== undefined ? ` on ${run.adapter}` : ''})`;
  const latencyRatio = b.latencyMs.runs > 0 && c.latencyMs.runs > 0 ? c.latencyMs.p50 / b.latencyMs.p50 : undefined;
  const n = Math.min(b.latencyMs.runs, c.latencyMs.runs);
  const rounds = b.latencyMs.repeat > 1 ? `${n} interleaved rounds of ${b.latencyMs.repeat} runs` : `${n} interleaved runs`;
  const latency =
    latencyRatio !== undefined
      ? `latency ${latencyRatio.toFixed(2)}x of the baseline in the same runtime (p50 of ${rounds})`
      : 'latency not measured (no time left in the budget)';
  if (entries.length === 0) notes.unshift(`${where}: no output to compare; ${latency}`);
  else {
    const [worstName, worst] = entries.reduce((x, y) => (Number.isNaN(y[1]) || y[1] < x[1] ? y : x));
    const integer = INTEGER.has(b.outputs[0]![worstName]!.type);
    const what = Number.isNaN(worst)
      ? `output '${worstName}' differs in size`
      : integer
        ? `${(worst * 100).toFixed(2)} % equal values`
        : `cosine ${worst.toFixed(4)}`;
    notes.unshift(`${where}: candidate vs baseline ${what} worst output '${worstName}'; ${latency}`);
  }
  if (run.adapter?.includes('fallback') || run.adapter?.includes('swiftshader'))
    notes.push(`WebGPU ran on a software adapter (${run.adapter}): its latency says nothing about a real GPU`);
  return {
    notes,
    available: true,
    fidelity,
    ...(latencyRatio !== undefined ? { latencyRatio } : {}),
    browser: run.browser,
    runtime: run.runtime,
    ...(run.adapter !== undefined ? { adapter: run.adapter } : {}),
  };
}
