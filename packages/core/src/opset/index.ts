export * from './types.js';
export { convertOpset, irVersionForOpset, MAX_CONVERTIBLE_OPSET } from './convert-opset.js';
export { OPSET_ADAPTERS } from './adapters.js';
export { SCHEMA_VERSIONS } from './schema-versions.js';
