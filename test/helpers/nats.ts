import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IN_CI } from './data.ts';

/** The nats-server binary the NATS test runs start (`.ci/run` installs the `nats-server` package). */
export const NATS_SERVER_BIN = process.env.AISOC_NATS_SERVER ?? '/usr/sbin/nats-server';

/**
 * Whether the nats-server binary is installed. Outside CI a missing binary
 * skips the NATS runs with a message; in CI it fails them.
 *
 * @example describe.skipIf(!natsServerAvailable())('the JetStream runner', () => { … });
 */
export function natsServerAvailable(): boolean {
  if (existsSync(NATS_SERVER_BIN)) return true;
  if (IN_CI) throw new Error(`${NATS_SERVER_BIN} is missing in CI; install the nats-server package.`);
  console.warn(`Skipping NATS runs: ${NATS_SERVER_BIN} is missing (install the nats-server package).`);
  return false;
}

/** A nats-server with JetStream, started for one test (run) on its own port and store directory. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (`-sd`); kept across `stop`, `kill` and `restart`. */
  readonly dir: string;
  /** The process id of the server running now (it changes at `restart`); 0 when none runs. */
  readonly pid: number;
  /** Stop it (SIGTERM) and wait for it to exit. */
  stop(): Promise<void>;
  /** Kill it (SIGKILL) and wait for it to exit: what is not on disk (or in the page cache) is lost. */
  kill(): Promise<void>;
  /** Start it again on the same port with the same store directory (stopping it first if it runs). */
  restart(): Promise<void>;
  /** Stop it and remove the store directory if this helper created it. */
  close(): Promise<void>;
  /** What the server printed (its log), for failure messages. */
  output(): string;
}

/** Every server started here, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A TCP port nothing listens on now (the kernel's choice for port 0). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Start `nats-server -js -sd <dir> -a 127.0.0.1 -p <port>` on a free port
 * (or `port`), with a fresh store directory (or `dir`), and resolve once it
 * says it is ready for connections (its own log line, with JetStream
 * enabled before it; never a fixed wait).
 *
 * @example
 * const nats = await startNatsServer();
 * try { … connect to nats.url … await nats.kill(); await nats.restart(); } finally { await nats.close(); }
 */
export async function startNatsServer(
  opts: {
    dir?: string;
    port?: number;
    timeoutMs?: number /** More flags (`--user u --pass p`, `-c file`). */;
    args?: string[];
  } = {},
): Promise<NatsServer> {
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'aisoc-nats-'));
  const port = opts.port ?? (await freePort());
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let log = '';
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port), ...(opts.args ?? [])];
    const proc = spawn(NATS_SERVER_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`nats-server did not become ready on port ${port} in ${timeoutMs} ms:\n${log}`));
      }, timeoutMs);
      const onData = (d: Buffer) => {
        log += d.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${signal ?? code}) before it was ready:\n${log}`));
      });
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  };

  const signalAndWait = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await exited(proc);
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid ?? 0;
    },
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
    async restart() {
      await signalAndWait('SIGTERM');
      log += '\n--- restart ---\n';
      await launch();
    },
    async close() {
      await signalAndWait('SIGTERM');
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
    output: () => log,
  };
}
