#!/usr/bin/env node
// The release build of the server: compiles src/ into dist/ (plain ES modules, one per source file,
// at the same relative paths, so the modules that find content/, models/, web/dist and package.json
// relative to themselves find them from dist/ too), with source maps carrying the sources.
//
// - TypeScript emits the modules (no type check: `npm run check` does that), rewriting the `.ts`
//   import specifiers to `.js` (`rewriteRelativeImportExtensions`).
// - A module a source loads by URL (`new URL('./x', import.meta.url)`) is not imported, so the
//   compiler does not see it: a `.ts` one is a worker's entry and is bundled by esbuild into
//   `x.bundle.cjs` (src/workers.ts reads it); a `.mjs` one is copied (unless it only registers tsx,
//   the sources' fallback, which dist never needs).
// - The stamp of the sources (bin/sources.mjs) is written last, into dist/build-stamp.json; the
//   launcher runs dist/ only while the sources still match it.
// - dist/ is replaced whole, by renames, so a process starting meanwhile sees the old build or the
//   new one (or none, and runs the sources), never half of one.
//
// `npm run build` runs it after the console's build; `prepare` (so `npm ci`) runs it with
// --if-possible, which only notes, and succeeds, when the build tools (dev dependencies) are absent.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP_FILE, sourceFiles, sourceStamp } from '../bin/sources.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const tmp = join(root, `dist.tmp-${process.pid}`);
const optional = process.argv.includes('--if-possible');
const started = performance.now();

let ts;
let esbuild;
try {
  ts = (await import('typescript')).default;
  esbuild = await import('esbuild');
} catch {
  if (optional) {
    console.log(
      'The server was not built: typescript or esbuild is not installed (an install without dev dependencies).',
    );
    process.exit(0);
  }
  console.error('typescript or esbuild is not installed: run npm ci first.');
  process.exit(1);
}

const fail = (message) => {
  rmSync(tmp, { recursive: true, force: true });
  console.error(message);
  process.exit(1);
};

const stamp = sourceStamp(src);
const files = sourceFiles(src);
// What an interrupted build left behind (its process is gone); a build still running keeps its own.
for (const name of readdirSync(root)) {
  const pid = Number(/^dist\.(?:tmp|old)-(\d+)$/.exec(name)?.[1]);
  if (!pid) continue;
  let alive = true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    alive = err.code !== 'ESRCH';
  }
  if (!alive || pid === process.pid) rmSync(join(root, name), { recursive: true, force: true });
}

// 1. The modules.
const config = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
  },
);
const options = {
  ...config.options,
  noEmit: false,
  noCheck: true,
  rootDir: src,
  outDir: tmp,
  rewriteRelativeImportExtensions: true,
  sourceMap: true,
  inlineSources: true,
  declaration: false,
  incremental: false,
};
const program = ts.createProgram(
  files.filter((f) => f.endsWith('.ts')).map((f) => join(src, f)),
  options,
);
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getSyntacticDiagnostics(),
  ...program.emit().diagnostics,
];
if (diagnostics.length) {
  fail(
    ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    }),
  );
}
// A source outside src/ would land outside dist/ (rootDir): the compiler refuses it above.

// 2. What the sources load by URL.
const URL_REF = /new URL\(\s*'(\.{1,2}\/[^']+)'\s*,\s*import\.meta\.url\s*\)/g;
// Code lines only: comments show such calls as examples.
const code = (text) =>
  text
    .split('\n')
    .filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l))
    .join('\n');
const workers = [];
for (const rel of files) {
  const text = code(readFileSync(join(src, rel), 'utf8'));
  for (const m of text.matchAll(URL_REF)) {
    const target = resolve(dirname(join(src, rel)), m[1]);
    const inSrc = relative(src, target);
    // A path outside src/ (../package.json) is the same path from dist/.
    if (inSrc.startsWith('..')) continue;
    const out = join(tmp, inSrc);
    if (target.endsWith('.ts')) {
      if (!workers.includes(target)) workers.push(target);
    } else if (target.endsWith('.mjs')) {
      if (/from 'tsx\//.test(readFileSync(target, 'utf8'))) continue;
      mkdirSync(dirname(out), { recursive: true });
      copyFileSync(target, out);
    } else fail(`${rel} loads ${m[1]}, which the build does not know how to ship.`);
  }
}
// Each worker as src/workers.ts bundles it (WORKER_BUILD_OPTIONS), with an inline source map.
for (const entry of workers) {
  const out = join(tmp, relative(src, entry)).replace(/\.ts$/, '.bundle.cjs');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    absWorkingDir: root,
    sourcemap: 'inline',
    sourcesContent: true,
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, result.outputFiles[0].text);
}

// 3. One bundle of the command and what it loads at start, in dist/bundle/ (split at the CLI's lazy
// imports, so `--version` loads no server): Node 20 has no compile cache, and loading the ~500 modules of
// the server and its dependencies one file at a time was half of a server's start. The compiled modules
// above stay beside it (workers, the .mjs helpers and the source maps name them). A module's
// `import.meta.url` is rewritten to its own file's URL, so paths it resolves (content/, workers, the
// console) are the same from the bundle. Dependencies that read files beside their own sources, load
// native code or resolve modules at run time stay external.
const EXTERNAL = [
  '@electric-sql/pglite',
  '@electric-sql/pglite/*',
  'pino',
  'pino-*',
  'thread-stream',
  '@aws-sdk/*',
  '@smithy/*',
  '@fastify/swagger',
  '@fastify/swagger-ui',
  '@fastify/static',
  // Loaded only by the NATS runner (lazily); bundled, its client failed to connect.
  '@nats-io/*',
  'esbuild',
  'typescript',
  'tsx',
  'tsx/*',
];
const bundleDir = join(tmp, 'bundle');
const ownUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(`${tmp}/`) || args.path.startsWith(`${bundleDir}/`)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = relative(bundleDir, args.path).split('\\').join('/');
      return {
        contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};
const bundled = await esbuild
  .build({
    entryPoints: [join(tmp, 'cli/main.js')],
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: bundleDir,
    external: EXTERNAL,
    plugins: [ownUrl],
    // CommonJS dependencies call require(): give the ESM output one.
    banner: {
      js: "import { createRequire as __aisocRequire } from 'node:module'; const require = __aisocRequire(import.meta.url);",
    },
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: root,
  })
  .catch((err) => fail(`The bundle of dist/ failed: ${err.message}`));
// A bundled dependency that finds files next to its own sources would look for them next to the bundle.
for (const [file, out] of Object.entries(bundled.metafile.outputs)) {
  if (!file.endsWith('.js')) continue;
  const text = readFileSync(join(root, file), 'utf8');
  for (const m of text.matchAll(/^\s*[^/*\s].*\b(__dirname|__filename)\b/gm)) {
    const input = Object.keys(out.inputs).find((i) => readFileSync(join(root, i), 'utf8').includes(m[1]));
    fail(
      `${file}: bundled code uses ${m[1]} (from ${input ?? 'a dependency'}): add its package to EXTERNAL.`,
    );
  }
}

// 4. The stamp, then the swap.
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
writeFileSync(
  join(tmp, STAMP_FILE),
  `${JSON.stringify({ sources: stamp, version, workers: workers.map((w) => relative(src, w)) }, null, 2)}\n`,
);
const old = join(root, `dist.old-${process.pid}`);
if (existsSync(dist)) renameSync(dist, old);
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
if (sourceStamp(src) !== stamp)
  console.warn('The sources changed during the build: dist/ will not run until `npm run build` runs again.');
console.log(
  `The server is built in dist/ (${files.length} modules, ${workers.length} worker bundles, ${((performance.now() - started) / 1000).toFixed(1)} s).`,
);
