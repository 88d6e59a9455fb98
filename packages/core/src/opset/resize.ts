import { attr } from '../onnx/builder.js';
import { attrFloat, attrFloats, attrString } from '../onnx/graph.js';
import { makeTensor } from '../onnx/tensor.js';
import { constNumbers, editedNode, floatConst, hasAttr, keep, refuse, rewrite } from './plan-helpers.js';
import type { OpsetAdapter } from './types.js';

/**
 * Upsample's three schemas and its replacement by Resize. Upsample and Resize-10 compute input
 * coordinates as out / scale ("asymmetric") and, for nearest, take the floor when enlarging; Resize-11
 * defaults to half_pixel and round_prefer_floor, so the old behaviour is written out. (onnx's own
 * converter leaves the defaults, which moves every nearest pixel by half a step.)
 */
export const RESIZE_ADAPTERS: readonly OpsetAdapter[] = [
  {
    op: 'Upsample',
    direction: 'up',
    version: 7,
    plan: (node) => {
      if (!hasAttr(node, 'height_scale') && !hasAttr(node, 'width_scale')) return keep;
      const scales = attr.floats([1, 1, attrFloat(node, 'height_scale', 1), attrFloat(node, 'width_scale', 1)]);
      const mode = attrString(node, 'mode', 'nearest') === 'bilinear' ? 'linear' : attrString(node, 'mode', 'nearest');
      return rewrite([editedNode(node, { remove: ['height_scale', 'width_scale'], set: { scales, mode } })], 'height/width_scale → scales');
    },
  },
  {
    op: 'Upsample',
    direction: 'up',
    version: 9,
    plan: (node, scope) => {
      const scales = attrFloats(node, 'scales');
      if (!scales) return refuse('opset-7 Upsample without scales');
      const t = floatConst(scope, 'scales', 'float32', scales);
      return rewrite([editedNode(node, { remove: ['scales'], input: [(node.input ?? [])[0] ?? '', t.name] })], 'scales → input', [t]);
    },
  },
  {
    op: 'Upsample',
    direction: 'up',
    version: 10,
    plan: (node) =>
      rewrite([editedNode(node, { opType: 'Resize', set: { mode: attrString(node, 'mode', 'nearest') } })], 'Upsample → Resize'),
  },
  {
    op: 'Resize',
    direction: 'up',
    version: 11,
    plan: (node, scope) => {
      const [x = '', scales = ''] = node.input ?? [];
      const mode = attrString(node, 'mode', 'nearest');
      const set: Record<string, string> = { coordinate_transformation_mode: 'asymmetric', mode };
      if (mode === 'nearest') {
        // onnxruntime rounds Resize-10's nearest source index down when enlarging and up when shrinking.
        const s = scope.constant(scales);
        const values = s ? constNumbers(s) : undefined;
        if (values && values.some((v) => v < 1) && values.some((v) => v > 1))
          return refuse('nearest with scales both above and below 1 has no single nearest_mode');
        set['nearest_mode'] = values && values.some((v) => v < 1) ? 'ceil' : 'floor';
      }
      // roi is a required input at 11 and 12 (unused by asymmetric): an empty tensor; optional from 13.
      const roi = makeTensor(scope.fresh('roi'), 'float32', [0], []);
      return rewrite([editedNode(node, { input: [x, roi.name, scales], set })], 'roi input added, asymmetric coordinates made explicit', [
        roi,
      ]);
    },
  },
  {
    op: 'Resize',
    direction: 'down',
    version: 11,
    plan: (node) => {
      const [x = '', , scales = '', sizes] = node.input ?? [];
      if (sizes) return refuse('Resize by sizes has no form before opset 11');
      if (attrString(node, 'coordinate_transformation_mode', 'half_pixel') !== 'asymmetric')
        return refuse('only asymmetric coordinates exist before opset 11');
      const mode = attrString(node, 'mode', 'nearest');
      if (mode === 'cubic') return refuse('cubic mode arrived at opset 11');
      if (mode === 'nearest' && attrString(node, 'nearest_mode', 'round_prefer_floor') !== 'floor')
        return refuse('only floor rounding for nearest exists before opset 11');
      return rewrite(
        [
          editedNode(node, {
            input: [x, scales],
            remove: ['coordinate_transformation_mode', 'nearest_mode', 'cubic_coeff_a', 'exclude_outside', 'extrapolation_value'],
          }),
        ],
        'roi dropped, opset-10 Resize',
      );
    },
  },
  {
    // Scatter was renamed ScatterElements (same inputs and axis) and deprecated at 11.
    op: 'Scatter',
    direction: 'up',
    version: 11,
    plan: (node) => rewrite([editedNode(node, { opType: 'ScatterElements' })], 'Scatter → ScatterElements'),
  },
];
