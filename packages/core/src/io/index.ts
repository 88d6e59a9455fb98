// Node-only: files, external data, atomic writes.
export {};
