// Child process for the kill-mid-write test: saves a model with one large weight over `target`
// (with --force semantics), so the parent can SIGKILL it while the bytes are going to disk.
// Usage: tsx big-writer.fixture.ts <target> <megabytes> <seed> [inline|external] [<pause after this many fs changes>]
// With the last argument it reports every file-system change and stops after that one (pause-fs.fixture.ts);
// 0 reports them all and does not stop.
import { saveModel } from '@shrink/core/io';
import { bigModel } from './big-model.fixture.js';
import { reportFsOps } from './pause-fs.fixture.js';

const [target, mb, seed, mode, pauseAfter] = process.argv.slice(2);
const model = bigModel(Number(mb), Number(seed));
if (pauseAfter !== undefined) reportFsOps(Number(pauseAfter) || undefined);
process.stdout.write('built\n');
await saveModel(model, target!, { force: true, externalData: mode === 'external' });
process.stdout.write('saved\n');
