export * from './options.js';
export * from './student-spec.js';
