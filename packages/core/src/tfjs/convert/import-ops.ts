import type { onnx } from '../../onnx/proto.js';
import { ACTIVATION_OPS, importActivation } from './import-activations.js';
import type { ImportBuilder } from './import-builder.js';
import { importBatchNorm, importGemm, importMatMul } from './import-linear.js';
import { importConcat, importConstant, importIdentity, importMerge, importReshape, RESHAPE_OPS, importTranspose } from './import-shape.js';
import { importConv, importGlobalPool, importPad, importPool } from './import-spatial.js';

/** Converts one node: sets the tfjs values of its outputs through the builder. */
export type OpImporter = (b: ImportBuilder, node: onnx.NodeProto) => void;

/** ONNX op type (default domain) -> tfjs import. Ops absent here are refused with the list of these keys. */
export const OP_IMPORTERS: ReadonlyMap<string, OpImporter> = new Map<string, OpImporter>([
  ['Gemm', importGemm],
  ['MatMul', importMatMul],
  ['Conv', importConv],
  ['BatchNormalization', importBatchNorm],
  ['MaxPool', importPool],
  ['AveragePool', importPool],
  ['GlobalAveragePool', importGlobalPool],
  ['GlobalMaxPool', importGlobalPool],
  ['Pad', importPad],
  ...RESHAPE_OPS.map((op): [string, OpImporter] => [op, importReshape]),
  ['Transpose', importTranspose],
  ['Identity', importIdentity],
  ['Dropout', importIdentity],
  ['Constant', importConstant],
  ['Add', importMerge],
  ['Mul', importMerge],
  ['Concat', importConcat],
  ...ACTIVATION_OPS.map((op): [string, OpImporter] => [op, importActivation]),
]);
