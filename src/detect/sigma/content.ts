import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The built-in rule pack. */
export const BUILTIN_RULES_DIR = resolve(ROOT, 'content/rules');

/** The built-in processing pipelines (Sigma log sources and fields onto our events). */
export const BUILTIN_PIPELINES_DIR = resolve(ROOT, 'content/sigma/pipelines');
