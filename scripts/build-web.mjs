#!/usr/bin/env node
// Builds the analyst console into web/dist/, which `aisoc serve` serves at `/`.
// `npm ci` runs it (the `prepare` script), so a fresh clone serves the console with no further step.
// With --if-possible it only notes, and succeeds, when the build tools are absent (an install without
// dev dependencies): the server then answers `/` with a page saying how to build the console.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const optional = process.argv.includes('--if-possible');

let vite;
try {
  vite = await import('vite');
} catch {
  if (optional) {
    console.log('The console was not built: vite is not installed (npm ci without dev dependencies).');
    process.exit(0);
  }
  console.error('vite is not installed: run npm ci first.');
  process.exit(1);
}
if (!existsSync(join(root, 'web', 'index.html'))) {
  console.error('web/index.html is missing.');
  process.exit(1);
}
await vite.build({ configFile: join(root, 'web', 'vite.config.ts'), logLevel: 'warn' });
console.log('The console is built in web/dist/.');
