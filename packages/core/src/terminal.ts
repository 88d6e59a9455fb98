// Node-only: terminal rendering of reports (cli-table3 reaches for Node's util/os, so it stays out of
// the portable entry that passes import).
export * from './report/table.js';
