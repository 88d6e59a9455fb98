export { runFuzz, type FuzzOptions, type FuzzSummary, type FuzzFailure } from './run-fuzz.js';
export { makeCase, type FuzzCase } from './cases.js';
export { buildCorpus, loadCorpus, tinyMlp, tinyConv, dataFiles, type Corpus } from './corpus.js';
export { formatSummary } from './format-summary.js';
