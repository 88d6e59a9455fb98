// Streamed q4 for models too large to load (Node only: it reads and writes files, and uses worker threads).
export {
  quantizeStreamed,
  streamedRefusal,
  externalDataBytes,
  type StreamQuantizeOptions,
  type StreamedQuantizeResult,
} from './quantize-streamed.js';
export { planStreamed, type StreamedPlan, type StreamedWeight } from './plan-streamed.js';
export { quantizeStripe, readStripe, type StripeJob, type StripeResult, type StripeSource } from './stripe-job.js';
