// Portable: the report model and its renderers.
export * from './report.js';
export * from './format.js';
export * from './json.js';
export * from './guard.js';
export * from './markdown.js';
export * from './html.js';
export * from './escape-html.js';
export * from './model-info.js';
export * from './model-info-rows.js';
