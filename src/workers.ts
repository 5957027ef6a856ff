/**
 * Worker threads that run our TypeScript. A worker starts without the
 * TypeScript loader the main thread may have (tsx, vitest), and loading that
 * loader in each thread takes over a second; so a worker's entry module is
 * bundled once per process into plain JavaScript (esbuild) and started with
 * `eval`. When esbuild cannot run, the worker starts from a `.mjs` entry
 * that registers tsx first.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

type Esbuild = typeof import('esbuild');

const bundles = new Map<string, string | null>();
const pending = new Map<string, Promise<string | null>>();

function esbuild(): Esbuild | undefined {
  try {
    return createRequire(import.meta.url)('esbuild') as Esbuild;
  } catch {
    return undefined;
  }
}

const BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  write: false,
  logLevel: 'silent',
} as const;

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
  try {
    const out = esbuild()?.buildSync({ entryPoints: [fileURLToPath(entry)], ...BUILD_OPTIONS });
    code = out?.outputFiles[0]?.text ?? null;
  } catch {
    code = null;
  }
  bundles.set(key, code);
  return code;
}

/**
 * The bundled code of a worker entry module, built in esbuild's own process
 * so the event loop stays free. Null when esbuild cannot run here.
 *
 * @example const code = await workerCode(new URL('./worker.ts', import.meta.url));
 */
export function workerCode(entry: URL): Promise<string | null> {
  const key = entry.href;
  if (bundles.has(key)) return Promise.resolve(bundles.get(key)!);
  let p = pending.get(key);
  if (!p) {
    const build = esbuild();
    p = (
      build
        ? build
            .build({ entryPoints: [fileURLToPath(entry)], ...BUILD_OPTIONS })
            .then((out) => out.outputFiles[0]?.text ?? null)
            .catch(() => null)
        : Promise.resolve(null)
    ).then((code) => {
      bundles.set(key, code);
      pending.delete(key);
      return code;
    });
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

/** A short digest of a worker's code: what a cache of its results depends on. */
export function codeDigest(code: string | null, fallback: string): string {
  return createHash('sha256')
    .update(code ?? fallback)
    .digest('hex')
    .slice(0, 16);
}
