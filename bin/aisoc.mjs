#!/usr/bin/env node
// The `aisoc` command. It runs one of two things, and says which with `AISOC_RUN`:
//
// - `dist`: the release build in dist/ (`npm run build`; `npm ci` makes it through `prepare`), plain
//   JavaScript with source maps: what an installed package runs, and what starts fast.
// - `src`: the TypeScript sources through tsx (a development dependency), compiled on load.
//
// Unset (the default), it runs dist/ when dist/ was built from the sources as they are now: the
// stamp dist/build-stamp.json records (paths, sizes and times of src/'s modules, bin/sources.mjs)
// must equal the sources' stamp now, so an edit made after the last build runs as edited, through
// tsx, never as the old compiled code. An installed package has no src/ and runs dist/.
import { existsSync, readFileSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { STAMP_FILE, sourceStamp } from './sources.mjs';

const root = new URL('../', import.meta.url);
const distMain = new URL('dist/cli/main.js', root);
// The same command bundled (scripts/build-dist.mjs): one file per lazily loaded part instead of ~500 modules.
const distBundle = new URL('dist/bundle/main.js', root);
const srcDir = new URL('src/', root);

function distIsCurrent() {
  if (!existsSync(distMain)) return false;
  // An installed package: nothing to compare with.
  if (!existsSync(srcDir)) return true;
  try {
    const built = JSON.parse(readFileSync(new URL(`dist/${STAMP_FILE}`, root), 'utf8'));
    return built.sources === sourceStamp(fileURLToPath(srcDir));
  } catch {
    return false;
  }
}

const mode = process.env.AISOC_RUN || (distIsCurrent() ? 'dist' : 'src');
if (mode === 'dist') {
  if (!existsSync(distMain)) {
    console.error('aisoc: dist/ is missing: run `npm run build` (or unset AISOC_RUN to run the sources).');
    process.exit(1);
  }
  // Stack traces name the TypeScript lines (the maps carry the sources).
  process.setSourceMapsEnabled(true);
  // Node 22.1 and later keep compiled code between starts (in the OS's temporary directory); Node 20 has no such cache.
  module.enableCompileCache?.();
  await import((existsSync(distBundle) ? distBundle : distMain).href);
} else if (mode === 'src') {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error(
      'aisoc: dist/ is missing or older than src/, and tsx (a development dependency) is not installed to run the sources: run `npm run build`.',
    );
    process.exit(1);
  }
  register();
  await import(new URL('src/cli/main.ts', root).href);
} else {
  console.error(`aisoc: AISOC_RUN is ${JSON.stringify(mode)}; it must be dist or src.`);
  process.exit(1);
}
