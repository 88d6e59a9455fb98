/**
 * ONNX spells its default operator domain two ways: '' and 'ai.onnx'. Handler tables, opset lookups and
 * reports all key on the default domain, so they must agree on what it is (a MatMul in 'ai.onnx' is a
 * MatMul).
 */

/** '' for the default domain however it is spelled, else the domain as written. */
export function normalDomain(domain: string | null | undefined): string {
  return domain === 'ai.onnx' ? '' : (domain ?? '');
}

/** Whether a node (or opset import) is in the default ONNX domain. */
export function isDefaultDomain(x: { domain?: string | null }): boolean {
  return normalDomain(x.domain) === '';
}
