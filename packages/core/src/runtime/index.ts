// Node-only: onnxruntime-node sessions and the measurements that need them.
export {};
