export const packageName = '@shrink/distill';
export * from './options.js';
