export const packageName = '@shrink/distill';
export * from './options.js';
export * from './student-spec.js';
