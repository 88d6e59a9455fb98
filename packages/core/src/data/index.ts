// Node-only: dataset loaders (digits, IDX, CSV, JSON, synthetic) and the --data resolver.
export * from "./dataset.js";
