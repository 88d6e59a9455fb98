// Shared by the pipeline tests: a digits-mlp model trained for a few epochs and saved as ONNX.
import path from 'node:path';
import { saveModel } from '@shrink/core/io';
import { exportToOnnx, trainPreset } from '@shrink/core/tfjs';

/** Trains digits-mlp (2 epochs, ~2 s) and writes it to `<dir>/model.onnx`; returns the path. */
export async function digitsModel(dir: string, epochs = 2): Promise<string> {
  const trained = await trainPreset('digits-mlp', { epochs });
  const { model } = exportToOnnx(trained.model);
  trained.model.dispose();
  return (await saveModel(model, path.join(dir, 'model.onnx'))).path;
}
