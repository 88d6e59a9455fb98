/** Messages between the page and the pass worker (structured-cloned; Files and Blobs go by handle, not bytes). */
import type { LayerDetail } from '@shrink/core';
import type { ModelInfo } from './model-info.js';

/** One step as a pipeline config holds it: the pass's kind and its options (the schema's input). */
export interface StepChoice {
  readonly kind: string;
  readonly options: Record<string, unknown>;
}

export type BrowserTarget = 'wasm' | 'webgpu';

export type ToWorker = { type: 'open'; model: File; data?: File | undefined } | { type: 'run'; steps: StepChoice[]; target: BrowserTarget };

export interface StepDone {
  readonly kind: string;
  readonly options: Record<string, unknown>;
  readonly seconds: number;
  readonly notes: string[];
}

export type FromWorker =
  | { type: 'opened'; info: ModelInfo }
  | { type: 'progress'; label: string; done: number; total: number | undefined }
  | {
      type: 'done';
      /** The compressed model, encoded as `shrink` saves it (inline). */
      model: Blob;
      /** The input as one inline model for onnxruntime-web, when it came with external data (else the .onnx is). */
      baseline?: Blob;
      info: ModelInfo;
      steps: StepDone[];
      layers: LayerDetail[];
      notes: string[];
      /** The steps alone, and everything (steps and encoding). */
      passSeconds: number;
      seconds: number;
    }
  | { type: 'error'; message: string };
