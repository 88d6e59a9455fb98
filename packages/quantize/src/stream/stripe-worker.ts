/** Worker-thread entry of the stripe pool: quantizes the stripes it is sent and posts the results back (transferred, not copied). */
import { parentPort } from 'node:worker_threads';
import { quantizeStripe, type StripeJob } from './stripe-job.js';

const port = parentPort!;
port.on('message', (m: { id: number; job: StripeJob }) => {
  try {
    const r = quantizeStripe(m.job);
    const transfer = [r.packed.buffer, r.scales.buffer, ...(r.zeroPoints ? [r.zeroPoints.buffer] : [])] as ArrayBuffer[];
    port.postMessage({ id: m.id, result: r }, transfer);
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown; stack?: unknown };
    port.postMessage({ id: m.id, error: { code: err.code, message: String(err.message ?? e), stack: err.stack } });
  }
});
port.postMessage({ ready: true });
