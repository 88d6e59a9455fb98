// The page's entry: filled in by issue #16.
export {};
