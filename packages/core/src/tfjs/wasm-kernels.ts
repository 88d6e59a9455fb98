import type * as tfjs from '@tensorflow/tfjs';

type Tf = typeof tfjs;
type TensorInfo = tfjs.TensorInfo;
type KernelArgs = Parameters<tfjs.KernelFunc>[0];

/**
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so training any Conv2D layer on wasm
 * fails ("Kernel 'Conv2DBackpropFilter' not registered"). This builds it from wasm kernels that exist:
 *   dW[kh, kw, ci, co] = sum over n, oh, ow of x[n, oh*s + kh - pad, ow*s + kw - pad, ci] * dy[n, oh, ow, co]
 * is a convolution of x seen as [Ci, H, W, N] (channels as batch, batch as channels) with dy seen as
 * an [Ho, Wo, N, Co] filter dilated by the forward stride, with the forward padding made explicit.
 */
export function registerWasmTrainingKernels(tf: Tf): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  const run = (name: string, backend: object, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`wasm kernel ${name} is missing`);
    return k.kernelFunc({ inputs, backend, attrs } as unknown as KernelArgs) as TensorInfo;
  };
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const a = attrs as unknown as {
        strides: [number, number] | number;
        pad: 'valid' | 'same' | number | tfjs.backend_util.ExplicitPadding;
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        filterShape: [number, number, number, number];
      };
      if (a.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        a.filterShape,
        a.strides,
        1,
        a.pad,
        a.dimRoundingMode,
      );
      const be = backend as { disposeData(id: object): void };
      const [kh, kw, ci, co] = a.filterShape;
      const { top, bottom, left, right } = info.padInfo;
      const xT = run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] });
      const dyT = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });
      const conv = run(
        'Conv2D',
        backend,
        { x: xT, filter: dyT },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          dilations: [info.strideHeight, info.strideWidth],
          dataFormat: 'NHWC',
          dimRoundingMode: undefined,
        },
      );
      be.disposeData(xT.dataId);
      be.disposeData(dyT.dataId);
      let cut = conv;
      // A stride that does not divide the padded size leaves extra rows/columns past the kernel.
      if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
        cut = run('Slice', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
        be.disposeData(conv.dataId);
      }
      const out = run('Transpose', backend, { x: cut }, { perm: [1, 2, 0, 3] });
      be.disposeData(cut.dataId);
      return out;
    },
  });
}
