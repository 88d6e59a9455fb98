// The tfjs bundle's entry (assets/tfjs.js): @tensorflow/tfjs and the folder conversion on a global, for lazy.ts.
import * as tfjsFolder from './tfjs-folder.js';

globalThis.shrinkTfjs = tfjsFolder;
