// Sweeps Debian's libonnx-testdata models with a default-domain opset below 11 through convertOpset to
// opset 13 and 17 and runs them in onnxruntime-node against the original (or, when onnxruntime cannot
// load the original, against the test data's expected outputs).
//   npx tsx --conditions=@shrink/source packages/core/src/opset/sweep-testdata.ts [--verbose] [filter]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeModel, encodeModel, onnx, opsetVersionOf, readTensor, type TensorValue } from '../index.js';
import { convertOpset } from './convert-opset.js';
import { compareOutputs, runOnce, type Output } from './ort-compare.js';

export const TESTDATA = '/usr/share/libonnx-testdata/data';

export interface SweepCase {
  readonly dir: string;
  readonly model: onnx.ModelProto;
  readonly opset: number;
  readonly feeds: Record<string, TensorValue>;
  readonly expected: Record<string, Output>;
}

/** Every model folder under the test data whose default opset is below `below`, with its first data set. */
export function testdataCases(below: number, filter = ''): SweepCase[] {
  const out: SweepCase[] = [];
  if (!existsSync(TESTDATA)) return out;
  for (const group of readdirSync(TESTDATA).sort()) {
    for (const name of readdirSync(path.join(TESTDATA, group)).sort()) {
      const dir = path.join(TESTDATA, group, name);
      if (!dir.includes(filter) || !existsSync(path.join(dir, 'model.onnx'))) continue;
      let model: onnx.ModelProto;
      try {
        model = decodeModel(readFileSync(path.join(dir, 'model.onnx')), dir);
      } catch {
        continue;
      }
      const opset = opsetVersionOf(model, '') ?? 0;
      if (opset === 0 || opset >= below) continue;
      const set = path.join(dir, 'test_data_set_0');
      if (!existsSync(set)) continue;
      const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
      const inputs = (model.graph?.input ?? []).filter((v) => !inits.has(v.name));
      const feeds: Record<string, TensorValue> = {};
      const expected: Record<string, Output> = {};
      try {
        inputs.forEach((v, i) => {
          feeds[v.name ?? ''] = readTensor(onnx.TensorProto.decode(readFileSync(path.join(set, `input_${i}.pb`))));
        });
        (model.graph?.output ?? []).forEach((v, i) => {
          const t = readTensor(onnx.TensorProto.decode(readFileSync(path.join(set, `output_${i}.pb`))));
          const values = t.dtype === 'string' ? (t.strings ?? []) : Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
          expected[v.name ?? ''] = { dims: t.dims, values };
        });
      } catch {
        continue; // sequence/optional data or missing files: not tensors this sweep can feed
      }
      out.push({ dir: path.relative(TESTDATA, dir), model, opset, feeds, expected });
    }
  }
  return out;
}

export type SweepOutcome =
  | { kind: 'pass'; against: 'original' | 'expected' }
  | { kind: 'refused'; why: string }
  | { kind: 'failed'; why: string }
  /** onnxruntime cannot run the original nor the converted model here, for the same reason. */
  | { kind: 'unrunnable'; why: string };

export async function sweepOne(c: SweepCase, target: number): Promise<SweepOutcome> {
  let converted: Uint8Array;
  try {
    converted = encodeModel(convertOpset(c.model, target).model);
  } catch (e) {
    return { kind: 'refused', why: (e as Error).message };
  }
  let reference: Record<string, Output> = c.expected;
  let against: 'original' | 'expected' = 'expected';
  let originalError = '';
  try {
    reference = await runOnce(encodeModel(c.model), c.feeds);
    against = 'original';
  } catch (e) {
    // onnxruntime refuses the original (opset-6 Gemm, IR 3 quirks): the test data says what it computes.
    originalError = firstLine(e);
  }
  let actual: Record<string, Output>;
  try {
    actual = await runOnce(converted, c.feeds);
  } catch (e) {
    const why = firstLine(e);
    if (why === originalError) return { kind: 'unrunnable', why };
    return { kind: 'failed', why: `converted model does not run: ${why}` };
  }
  const cmp = compareOutputs(actual, reference);
  if (!cmp.ok && against === 'original') {
    // The reference run may itself be off where onnxruntime's old kernel differs from the spec; the test data decides.
    const vsExpected = compareOutputs(actual, c.expected);
    if (vsExpected.ok) return { kind: 'pass', against: 'expected' };
  }
  return cmp.ok ? { kind: 'pass', against } : { kind: 'failed', why: cmp.detail };
}

function firstLine(e: unknown): string {
  return ((e as Error).message ?? String(e)).split('\n')[0]!.slice(0, 300);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose');
  const filter = args.find((a) => !a.startsWith('--')) ?? '';
  if (!existsSync(TESTDATA)) {
    console.log(`${TESTDATA} is missing: apt-get install libonnx-testdata`);
    return;
  }
  const cases = testdataCases(11, filter);
  console.log(`${cases.length} test-data models with default opset < 11`);
  for (const target of [13, 17]) {
    const tally = { pass: 0, passExpected: 0, refused: 0, failed: 0, unrunnable: 0 };
    const reasons = new Map<string, number>();
    for (const c of cases) {
      const r = await sweepOne(c, target);
      if (r.kind === 'pass') {
        tally.pass++;
        if (r.against === 'expected') tally.passExpected++;
      } else {
        tally[r.kind]++;
        const short = r.why.replace(/^.*?: node '[^']*' /, '');
        reasons.set(`${r.kind}: ${short}`, (reasons.get(`${r.kind}: ${short}`) ?? 0) + 1);
        if (verbose) console.log(`  ${c.dir} (opset ${c.opset}) → ${target}: ${r.kind}: ${r.why}`);
      }
    }
    console.log(
      `to opset ${target}: ${tally.pass} pass (${tally.passExpected} of them against the test data's outputs), ${tally.refused} refused, ${tally.failed} failed, ${tally.unrunnable} that onnxruntime cannot run here either way`,
    );
    for (const [k, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${n} × ${k}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
