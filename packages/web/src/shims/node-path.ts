// `node:path` for the one call the passes' run path makes (resolving a calibration file), which the page never reaches.
const join = (...parts: string[]): string => parts.filter((p) => p !== '').join('/');
export default { resolve: join, join, dirname: (p: string) => p.replace(/\/[^/]*$/, ''), basename: (p: string) => p.replace(/^.*\//, '') };
