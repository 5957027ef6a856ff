import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's `content/` directory: rules, playbooks, runbooks and the demo, reviewed like code. */
export const CONTENT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../content');
