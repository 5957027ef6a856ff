import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the product's files are: the repository, or `AISOC_HOME` when the
 * code runs bundled, away from it (the AWS Lambda functions are one file
 * each, and their `content/`, `models/` and knowledge index come in a layer
 * at `/opt/aisoc`: see docs/aws.md). Every path to shipped content derives
 * from this one.
 */
export const PRODUCT_ROOT = process.env.AISOC_HOME
  ? resolve(process.env.AISOC_HOME)
  : resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The repository's `content/` directory: rules, playbooks, runbooks and the demo, reviewed like code. */
export const CONTENT_DIR = resolve(PRODUCT_ROOT, 'content');
