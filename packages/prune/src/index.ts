// @shrink/prune: passes arrive with their own issue; this package builds and is wired into the workspace.
export const packageName = '@shrink/prune';
