// Running candidates in a real Chromium (onnxruntime-web wasm / webgpu) for `--target wasm|webgpu`.
export { runInChromium, chromiumPath, WEBGPU_FLAGS } from './run-in-chromium.js';
export type {
  BrowserBackend,
  BrowserModel,
  BrowserTensor,
  ChromiumModelRun,
  ChromiumRun,
  RunInChromiumOptions,
} from './run-in-chromium.js';
export { chromiumCheck } from './chromium-check.js';
export type { ChromiumCheck } from './chromium-check.js';
