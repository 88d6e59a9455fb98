// Node-only: files, external data, atomic writes.
export { writeFileAtomic, writeChunksAtomic, MAX_IO_CHUNK } from './atomic-write.js';
export { resolveInside } from './safe-path.js';
export { loadModel, readModelFile, resolveExternalData, type LoadOptions } from './load-model.js';
export {
  saveModel,
  saveModelChecked,
  defaultExternalDataName,
  type SaveOptions,
  type SaveResult,
  type ExternalDataOptions,
} from './save-model.js';
export { fileSizes, type ModelFileSizes } from './file-sizes.js';
export { fsError } from './fs-error.js';
export { forEachTensor } from './model-tensors.js';
export { saveModelStreamed, type StreamedTensor, type StreamedSaveOptions } from './save-model-streamed.js';
export { locateExternalData, externalDataFiles, readFully, withFileSync, type ExternalBytes } from './external-reader.js';
