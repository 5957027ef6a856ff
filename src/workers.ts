/**
 * Worker threads that run our TypeScript. A worker starts without the
 * TypeScript loader the main thread may have (tsx, vitest), and loading that
 * loader in each thread takes over a second; so a worker's entry module runs
 * as one bundle of plain JavaScript, started with `eval`:
 *
 * - in the release build (`dist/`), the bundle `scripts/build-dist.mjs` made
 *   beside the compiled module (`worker.ts` → `worker.bundle.cjs`); esbuild
 *   is a development dependency and is never loaded;
 * - when running the sources, a bundle esbuild builds once per process;
 * - when esbuild cannot run there, the worker starts from a `.mjs` entry
 *   that registers tsx first.
 *
 * Both bundles are built with {@link WORKER_BUILD_OPTIONS} from the same
 * working directory, so their code, and so {@link codeDigest} (which keys the
 * knowledge-index cache), is the same whichever way the process runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { AisocError } from './errors.ts';

type Esbuild = typeof import('esbuild');

const bundles = new Map<string, string | null>();
const pending = new Map<string, Promise<string | null>>();

/** Whether this module is the compiled one in `dist/` (the sources end in `.ts`). */
const COMPILED = import.meta.url.endsWith('.js');

function esbuild(): Esbuild | undefined {
  if (COMPILED) return undefined;
  try {
    return createRequire(import.meta.url)('esbuild') as Esbuild;
  } catch {
    return undefined;
  }
}

/**
 * How a worker is bundled. `scripts/build-dist.mjs` uses the same options
 * (adding an inline source map, which {@link codeDigest} leaves out);
 * `test/release.test.ts` checks that both give the same digest.
 */
export const WORKER_BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  write: false,
  logLevel: 'silent',
  // The repository root: the bundle's path comments are relative to it.
  absWorkingDir: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
} as const;

/** Where the release build puts the bundle of a worker entry module. */
export function prebuiltBundle(entry: URL): URL {
  return new URL(entry.href.replace(/\.ts$/, '.bundle.cjs'));
}

/** In `dist/`, the prebuilt bundle's file; a clear error when the build left it out. */
function prebuilt(entry: URL): URL {
  const file = prebuiltBundle(entry);
  if (!existsSync(file))
    throw new AisocError(
      'AISOC_ERR_INTERNAL',
      `The release build has no worker bundle ${fileURLToPath(file)}: run \`npm run build\` again.`,
      { file: fileURLToPath(file) },
    );
  return file;
}

/**
 * The bundled code of a worker entry module, built synchronously (a one-off
 * ~0.1 s per process; callers that may run while a server answers requests
 * use {@link workerCode}). Null when esbuild cannot run here.
 *
 * @example const code = workerCodeSync(new URL('./worker.ts', import.meta.url));
 */
export function workerCodeSync(entry: URL): string | null {
  const key = entry.href;
  if (bundles.has(key)) return bundles.get(key)!;
  let code: string | null = null;
  if (COMPILED) code = readFileSync(prebuilt(entry), 'utf8');
  else
    try {
      const out = esbuild()?.buildSync({ entryPoints: [fileURLToPath(entry)], ...WORKER_BUILD_OPTIONS });
      code = out?.outputFiles[0]?.text ?? null;
    } catch {
      code = null;
    }
  bundles.set(key, code);
  return code;
}

/**
 * The bundled code of a worker entry module: read from the release build,
 * or built in esbuild's own process so the event loop stays free. Null when
 * esbuild cannot run here.
 *
 * @example const code = await workerCode(new URL('./worker.ts', import.meta.url));
 */
export function workerCode(entry: URL): Promise<string | null> {
  const key = entry.href;
  if (bundles.has(key)) return Promise.resolve(bundles.get(key)!);
  let p = pending.get(key);
  if (!p) {
    let code: Promise<string | null>;
    if (COMPILED) code = Promise.resolve(entry).then((e) => readFile(prebuilt(e), 'utf8'));
    else {
      const build = esbuild();
      code = build
        ? build
            .build({ entryPoints: [fileURLToPath(entry)], ...WORKER_BUILD_OPTIONS })
            .then((out) => out.outputFiles[0]?.text ?? null)
            .catch(() => null)
        : Promise.resolve(null);
    }
    p = code.then(
      (c) => {
        bundles.set(key, c);
        pending.delete(key);
        return c;
      },
      (err: unknown) => {
        pending.delete(key);
        throw err;
      },
    );
    pending.set(key, p);
  }
  return p;
}

/**
 * Start a worker from bundled code, or from `fallback` (a `.mjs` entry that
 * registers tsx and imports the TypeScript) when there is none.
 */
export function startWorker(code: string | null, fallback: URL, options: WorkerOptions = {}): Worker {
  return code === null
    ? new Worker(fallback, { execArgv: [], ...options })
    : new Worker(code, { eval: true, execArgv: [], ...options });
}

/** An inline source map at the end of a bundle (the release build's); not part of what the code does. */
const INLINE_MAP = /\n\/\/# sourceMappingURL=data:[^\n]*\n?$/;

/** A short digest of a worker's code: what a cache of its results depends on. */
export function codeDigest(code: string | null, fallback: string): string {
  return createHash('sha256')
    .update(code === null ? fallback : code.replace(INLINE_MAP, '\n'))
    .digest('hex')
    .slice(0, 16);
}
