export * from './pass.js';
