/** Seeded data for the weight-quantizer tests: Gaussian weights and correlated activations. */

/** A seeded standard-normal generator (LCG + Box-Muller): the same numbers on every machine. */
export function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** [rows, cols] of N(0, scale^2). */
export function gaussianMatrix(rows: number, cols: number, seed: number, scale = 1): Float32Array {
  const g = gaussian(seed);
  return Float32Array.from({ length: rows * cols }, () => g() * scale);
}

/**
 * Activations X [tokens, K] with a few large-variance directions, as transformer activations have (a few
 * outlier features carry most of the energy): X = Z M + noise, Z [tokens, r] N(0, 1), M [r, K] N(0, big^2).
 * `mix` is one fixed M (pass the same one for calibration and held-out X, so they share a distribution).
 */
export function correlatedActivations(tokens: number, mix: Float32Array, r: number, K: number, seed: number, noise = 0.3): Float32Array {
  const g = gaussian(seed);
  const x = new Float32Array(tokens * K);
  const z = new Float64Array(r);
  for (let t = 0; t < tokens; t++) {
    for (let i = 0; i < r; i++) z[i] = g();
    for (let k = 0; k < K; k++) {
      let v = noise * g();
      for (let i = 0; i < r; i++) v += z[i]! * mix[i * K + k]!;
      x[t * K + k] = v;
    }
  }
  return x;
}

/** X^T X / tokens, row-major [K, K] float64. */
export function gram(x: Float32Array, K: number): Float64Array {
  const T = x.length / K;
  const h = new Float64Array(K * K);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < K; i++) {
      const xi = x[t * K + i]!;
      for (let j = 0; j < K; j++) h[i * K + j] = h[i * K + j]! + xi * x[t * K + j]!;
    }
  }
  return h.map((v) => v / T);
}

/** ||X W - X W'||^2 / ||X W||^2 for X [T, K], W and W' [K, N]. */
export function outputError(x: Float32Array, K: number, w: Float32Array, wq: Float32Array, N: number): number {
  const T = x.length / K;
  let err = 0;
  let ref = 0;
  const y = new Float64Array(N);
  const yq = new Float64Array(N);
  for (let t = 0; t < T; t++) {
    y.fill(0);
    yq.fill(0);
    for (let k = 0; k < K; k++) {
      const xv = x[t * K + k]!;
      if (xv === 0) continue;
      for (let n = 0; n < N; n++) {
        y[n] = y[n]! + xv * w[k * N + n]!;
        yq[n] = yq[n]! + xv * wq[k * N + n]!;
      }
    }
    for (let n = 0; n < N; n++) {
      err += (y[n]! - yq[n]!) ** 2;
      ref += y[n]! ** 2;
    }
  }
  return err / ref;
}

/** ||W - W'||^2 / ||W||^2. */
export function weightError(w: Float32Array, wq: Float32Array): number {
  let err = 0;
  let ref = 0;
  for (let i = 0; i < w.length; i++) {
    err += (w[i]! - wq[i]!) ** 2;
    ref += w[i]! ** 2;
  }
  return err / ref;
}
