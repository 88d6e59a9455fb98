// The committed PyTorch exports in fixtures/transformers (made by make-transformers.py) and a measure of
// a shrunk copy computed here, not by the product: the CLI tests check what the report says against it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSession, readFeedSet, tensorToFloat32 } from '@shrink/core/runtime';
import { loadModel } from '@shrink/core/io';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/transformers');

/** The fixture model `name` (bert-tiny, gpt-tiny, ...). */
export const transformersModel = (name: string): string => path.join(fixtures, `${name}.onnx`);

/** The fixture's feeds file: its real tokens. */
export const transformersFeeds = (name: string): string => path.join(fixtures, `${name}.feeds.json`);

/** The worst cosine over every output of `candidate` against fixture `name`, on the fixture's real feeds, in onnxruntime. */
export async function worstCosine(name: string, candidate: string): Promise<number> {
  const base = await createSession(transformersModel(name), { threads: 1 });
  const cand = await createSession(candidate, { threads: 1 });
  try {
    const set = await readFeedSet(transformersFeeds(name), base, await loadModel(transformersModel(name)));
    let worst = 1;
    for (const f of set.samples) {
      const [a, b] = [await base.run(f), await cand.run(f)];
      for (const o of base.outputNames) {
        const [x, y] = [tensorToFloat32(a[o]!, o), tensorToFloat32(b[o]!, o)];
        let [dot, na, nb] = [0, 0, 0];
        for (let i = 0; i < x.length; i++) [dot, na, nb] = [dot + x[i]! * y[i]!, na + x[i]! ** 2, nb + y[i]! ** 2];
        worst = Math.min(worst, dot / Math.sqrt(na * nb));
      }
    }
    return worst;
  } finally {
    await base.release();
    await cand.release();
  }
}
