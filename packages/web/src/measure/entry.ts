// The measurement bundle's entry (assets/measure.js): onnxruntime-web and measurePair on a global, for lazy.ts.
import * as measure from './ort-measure.js';

globalThis.shrinkMeasure = measure;
