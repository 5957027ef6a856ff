// Types of bin/sources.mjs (plain JavaScript, read by the launcher before any TypeScript loader exists).
/** The file in dist/ that holds the stamp of the sources it was built from. */
export const STAMP_FILE: string;
/** Whether a path under src/ (relative, with `/`) is part of the release build. */
export function isBuiltSource(rel: string): boolean;
/** The built files of a source tree, as sorted paths relative to it (with `/`). */
export function sourceFiles(srcDir: string): string[];
/** A digest of the built files' paths, sizes and modification times. */
export function sourceStamp(srcDir: string): string;
