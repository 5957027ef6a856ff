import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';

/** Where `npm run build:web` writes the console (web/dist beside src/). */
export const DEFAULT_CONSOLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

/**
 * The console page's policy: its own scripts and styles only (inline styles for the charts), images from itself
 * or data: URLs, API calls to its own origin, never framed, no <base>, forms post only to itself.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Largest asset kept (a built console is well under a megabyte; anything far larger is not ours to serve). */
const MAX_ASSET_BYTES = 16 * 1024 * 1024;
/** Largest total of assets kept in memory. */
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;
/** Names Vite gives assets (`index-3f9a1c.js`): anything else in the directory is not served. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The built console as read at start-up: the page and its assets by exact name. */
export interface ConsoleFiles {
  dir: string;
  index?: Buffer;
  indexEtag?: string;
  assets: Map<string, Asset>;
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/**
 * Read the built console once: `index.html` and the regular files directly in
 * `assets/` whose names look like Vite's. A request names an asset and gets
 * the bytes read here or a 404: no request path is ever joined to a directory,
 * so `..`, encoded slashes and NUL cannot reach the file system.
 */
export function loadConsole(dir: string, logger?: Logger): ConsoleFiles {
  const files: ConsoleFiles = { dir, assets: new Map() };
  try {
    files.index = readFileSync(join(dir, 'index.html'));
    files.indexEtag = etagOf(files.index);
  } catch {
    return files;
  }
  let names: string[] = [];
  try {
    names = readdirSync(join(dir, 'assets'));
  } catch {
    // A console without assets is odd but its page is still served.
  }
  let total = 0;
  for (const name of names.sort()) {
    if (!ASSET_NAME.test(name)) continue;
    const path = join(dir, 'assets', name);
    let size: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      size = st.size;
    } catch {
      continue;
    }
    if (size > MAX_ASSET_BYTES || total + size > MAX_TOTAL_BYTES) {
      logger?.warn({ file: path, bytes: size }, 'A console asset is too large to serve; it is skipped.');
      continue;
    }
    const body = readFileSync(path);
    total += body.length;
    files.assets.set(name, {
      body,
      type: TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream',
      etag: etagOf(body),
    });
  }
  return files;
}

/** The page `/` answers when the console was not built: what to run, as text a browser shows. */
export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AI-SOC console not built</title></head>
<body><h1>The analyst console is not built</h1>
<p>Run <code>npm run build:web</code> in the AI-SOC directory, then restart <code>aisoc serve</code>.</p>
<p>The API is unaffected: see <a href="/docs">/docs</a>.</p></body></html>
`;

const PAGE_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

/**
 * The console, public: `GET /` is its page and `GET /assets/<name>` its
 * hashed files (immutable). Every API call the page makes still carries a key.
 */
export function consoleRoutes(files: ConsoleFiles): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/',
      {
        config: { scope: 'public' },
        schema: { hide: true },
      },
      async (req, reply) => {
        reply.headers(PAGE_HEADERS);
        if (!files.index) {
          return reply
            .code(503)
            .header('content-type', 'text/html; charset=utf-8')
            .header('cache-control', 'no-store')
            .send(NOT_BUILT_PAGE);
        }
        // The page names the current hashed assets: it is checked on every load, the assets never.
        reply.header('cache-control', 'no-cache').header('etag', files.indexEtag);
        if (req.headers['if-none-match'] === files.indexEtag) return reply.code(304).send();
        return reply.header('content-type', 'text/html; charset=utf-8').send(files.index);
      },
    );

    app.get(
      '/assets/*',
      {
        config: { scope: 'public' },
        // Every path under /assets/ is answered here, so a path that is no asset is a 404 with or without a key.
        schema: { hide: true, params: z.object({ '*': z.string() }) },
      },
      async (req, reply) => {
        // Looked up by exact name among the files read at start-up: never a path.
        const asset = files.assets.get(req.params['*']);
        if (!asset) throw new AisocError('AISOC_ERR_NOT_FOUND', 'No such file.', { field: 'url' });
        reply
          .headers(PAGE_HEADERS)
          .header('content-type', asset.type)
          .header('cache-control', 'public, max-age=31536000, immutable')
          .header('etag', asset.etag);
        if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
        return reply.send(asset.body);
      },
    );
  };
}
