// @shrink/cli as a library: run the `shrink` command in-process (exit code returned, nothing thrown).
export { main } from './main.js';
export { allCommands, commandsFor } from './commands/index.js';
