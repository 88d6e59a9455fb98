// The corpus models the test suite uses: small models of every graph kind the corpus has, a few seconds each
// on 2 cores. run-tests.mjs fetches them and writes their feeds before any test starts (node:test runs files
// in parallel, so a test cannot count on another having fetched them), and real-corpus.test.ts runs q8/fp16
// on each.
export const TEST_CORPUS = [
  'oww-hey-jarvis',
  'owwjs-hello-deepa',
  'oww-embedding',
  'silero-vad-legacy',
  'silero-vad-v5',
  'silero-vad-half',
  'silero-vad-16k-op15',
  'silero-vad-op18-ifless',
  'oww-melspectrogram',
  'ppocr-mobile-v2-cls',
  'ppocr-v4-rec',
];
