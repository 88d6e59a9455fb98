import type * as tfjs from '@tensorflow/tfjs';
import { isShrinkError, type onnx } from '@shrink/core';
import { importFromOnnx } from '@shrink/core/tfjs';

type Tf = typeof tfjs;

const weighted = (m: tfjs.LayersModel) => m.layers.filter((l) => l.getWeights().length > 0);
const sameShapes = (a: tfjs.Tensor[], b: tfjs.Tensor[]) =>
  a.length === b.length && a.every((t, i) => t.shape.length === b[i]!.shape.length && t.shape.every((d, j) => d === b[i]!.shape[j]));

/**
 * Copies the teacher's weights into student layers at the same position among weighted layers when
 * every weight shape is equal (e.g. a student that keeps the teacher's first layer). Returns what was
 * copied and, when nothing could be, why.
 */
export function initFromTeacher(tf: Tf, student: tfjs.LayersModel, teacher: onnx.IModelProto): { layers: string[]; note: string } {
  let imported: tfjs.LayersModel;
  try {
    imported = importFromOnnx(teacher, tf).model;
  } catch (e) {
    if (!isShrinkError(e)) throw e;
    return { layers: [], note: `init from teacher skipped: the teacher could not be brought into tfjs (${e.message})` };
  }
  try {
    const t = weighted(imported);
    const copied: string[] = [];
    weighted(student).forEach((layer, i) => {
      const src = t[i];
      if (!src) return;
      const w = src.getWeights();
      if (sameShapes(layer.getWeights(), w)) {
        layer.setWeights(w);
        copied.push(`${layer.name} <- ${src.name}`);
      }
    });
    return {
      layers: copied,
      note:
        copied.length > 0
          ? `initialised from the teacher: ${copied.join(', ')}`
          : 'init from teacher: no student layer has the shapes of the teacher layer at its position; all start from random weights',
    };
  } finally {
    imported.dispose();
  }
}
