import { resolve } from 'node:path';
import { CONTENT_DIR } from '../../content.ts';

/** The built-in rule pack. */
export const BUILTIN_RULES_DIR = resolve(CONTENT_DIR, 'rules');

/** The built-in processing pipelines (Sigma log sources and fields onto our events). */
export const BUILTIN_PIPELINES_DIR = resolve(CONTENT_DIR, 'sigma/pipelines');
