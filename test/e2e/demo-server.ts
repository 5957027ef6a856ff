/**
 * A real `aisoc demo` process for the console's end-to-end run: the demo scenario replayed through
 * the HTTP API, left serving, with the waiting containment action not walked through (so a person
 * can approve it in the console).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { BIN, REPO, waitExit } from '../helpers/process.ts';

export interface DemoServer {
  url: string;
  adminKey: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * @param options.config a configuration file for the demo (`aisoc --config`), which the demo's
 *   own settings extend (test/monitoring-live.test.ts gives it an LLM backend)
 * @param options.env more environment for the process
 */
export async function startDemoServer(
  dataDir: string,
  options: { config?: string; env?: Record<string, string> } = {},
): Promise<DemoServer> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      ...(options.config ? ['--config', options.config] : []),
      '--data-dir',
      dataDir,
      'demo',
      '--port',
      '0',
      '--json',
      '--no-walkthrough',
    ],
    {
      cwd: REPO,
      env: { ...process.env, AISOC_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d;
  });
  const summary = await new Promise<{ url: string; admin_key: string }>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const j = JSON.parse(line) as { url?: string; admin_key?: string };
          if (j.url && j.admin_key) resolve({ url: j.url, admin_key: j.admin_key });
        } catch {
          // Not the whole line yet.
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`aisoc demo exited with ${code}:\n${out}\n${err}`)));
  });
  return {
    url: summary.url,
    adminKey: summary.admin_key,
    child,
    output: () => `${out}\n${err}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await waitExit(child);
      }
    },
  };
}

/** Calls the demo's API with a key; throws on a non-2xx answer with the body. */
export async function call<T>(
  server: DemoServer,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}
