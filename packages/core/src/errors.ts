/**
 * One error type for everything Shrink refuses. The `code` decides the CLI's exit status;
 * the message must name the file, key, node or tensor at fault and say what would be valid.
 */
export type ShrinkErrorCode =
  | 'INVALID_MODEL'
  | 'UNSUPPORTED_OP'
  | 'UNSUPPORTED_MODEL'
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'INVALID_DATA'
  | 'IO'
  | 'NOT_FOUND'
  | 'UNSAFE_PATH'
  | 'CALIBRATION_EMPTY'
  | 'RUNTIME'
  | 'GATE_FAILED'
  /** A candidate fails the fidelity guard (report/guard.ts): exit 2, nothing written unless allowed. */
  | 'DEGRADED';

export class ShrinkError extends Error {
  override readonly name = 'ShrinkError';
  readonly code: ShrinkErrorCode;

  constructor(code: ShrinkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isShrinkError(e: unknown): e is ShrinkError {
  return e instanceof ShrinkError;
}

/** Exit status the CLI uses for an error: 1 for a failed gate, 2 for bad input or usage. */
export function exitCodeFor(e: unknown): 1 | 2 {
  return isShrinkError(e) && e.code === 'GATE_FAILED' ? 1 : 2;
}

/** Throws INVALID_ARGUMENT unless `cond` holds; keeps argument checks to one line each. */
export function check(cond: unknown, code: ShrinkErrorCode, message: string): asserts cond {
  if (!cond) throw new ShrinkError(code, message);
}
