// Child process for the kill-mid-write test: saves a model with one large weight over `target`
// (with --force semantics), so the parent can SIGKILL it while the bytes are going to disk.
// Usage: tsx big-writer.fixture.ts <target> <megabytes> <seed> [external]
import { saveModel } from '@shrink/core/io';
import { bigModel } from './big-model.fixture.js';

const [target, mb, seed, external] = process.argv.slice(2);
const model = bigModel(Number(mb), Number(seed));
process.stdout.write('built\n');
await saveModel(model, target!, { force: true, externalData: external === 'external' });
process.stdout.write('saved\n');
