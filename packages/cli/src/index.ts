// @shrink/cli as a library: run the `shrink` command in-process (exit code returned, nothing thrown).
export { main } from './main.js';
export { commands } from './commands/index.js';
