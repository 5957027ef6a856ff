import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerfileProblems, parseDockerfile, REPO } from './compose-check.ts';

const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(REPO, '.dockerignore'), 'utf8');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'aisoc-docker-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the Dockerfile', () => {
  it('keeps its promises: pinned Node 20 slim, multi-stage, non-root, /data volume, health check, no secrets', () => {
    expect(dockerfileProblems(DOCKERFILE, DOCKERIGNORE)).toEqual([]);
  });

  it('runs the wrapper that reads secrets from files, and serves on the port it exposes', () => {
    const ins = parseDockerfile(DOCKERFILE);
    const last = (k: string) => ins.filter((i) => i.keyword === k).at(-1)?.args;
    expect(last('ENTRYPOINT')).toBe('["/usr/local/bin/aisoc"]');
    expect(last('EXPOSE')).toBe('8080');
    expect(JSON.parse(last('CMD')!)).toEqual(['serve', '--host', '0.0.0.0', '--port', '8080']);
    expect(DOCKERFILE).toContain(
      'COPY --chown=root:root --chmod=0755 deploy/docker/aisoc.sh /usr/local/bin/aisoc',
    );
  });

  it('is refused when it breaks one', () => {
    const broken = (from: string | RegExp, to: string) => {
      const text = DOCKERFILE.replace(from, to);
      expect(text, `${from} is in the Dockerfile`).not.toBe(DOCKERFILE);
      return dockerfileProblems(text, DOCKERIGNORE).join('\n');
    };
    expect(broken('USER 10001:10001', 'USER root')).toContain('runs as root');
    expect(broken(/^USER .*$/m, '')).toContain('sets no USER');
    expect(broken(/FROM node:20\.20\.2-bookworm-slim AS runtime/, 'FROM node:latest AS runtime')).toContain(
      'FROM node:latest is not a pinned node:20',
    );
    expect(
      broken(/FROM node:20\.20\.2-bookworm-slim AS build/, 'FROM node:22.12.0-bookworm-slim AS build'),
    ).toContain('is not a pinned node:20');
    expect(broken(/^HEALTHCHECK[\s\S]*?healthcheck\.mjs"\]\n/m, '')).toContain('no HEALTHCHECK');
    expect(broken('ENTRYPOINT', 'COPY .env /app/.env\nENTRYPOINT')).toContain('COPY .env copies a secret');
    expect(broken('ENTRYPOINT', 'ENV AISOC_ADMIN_KEY=abc\nENTRYPOINT')).toContain(
      'ENV AISOC_ADMIN_KEY puts a secret in a layer',
    );
    expect(broken('ENTRYPOINT', 'ADD https://example.com/x.tgz /x\nENTRYPOINT')).toContain('ADD of a URL');
    expect(broken('npm prune --omit=dev', 'true')).toContain('does not run npm prune --omit=dev');
    expect(broken('VOLUME ["/data"]', '')).toContain('no VOLUME for /data');
    expect(broken('deploy/docker/aisoc.sh', 'deploy/docker/missing.sh')).toContain('no such file');
    // One stage only.
    const single = DOCKERFILE.slice(DOCKERFILE.indexOf('FROM node:20.20.2-bookworm-slim AS runtime'));
    expect(dockerfileProblems(single, DOCKERIGNORE).join('\n')).toContain('not multi-stage');
    expect(dockerfileProblems(DOCKERFILE, DOCKERIGNORE.replace(/^node_modules$/m, '')).join('\n')).toContain(
      '.dockerignore does not exclude node_modules',
    );
    expect(
      dockerfileProblems(DOCKERFILE, DOCKERIGNORE.replace(/^deploy\/compose\/secrets$/m, '')).join('\n'),
    ).toContain('does not exclude deploy/compose/secrets');
  });
});

describe('the image entrypoint (deploy/docker/aisoc.sh)', () => {
  // The wrapper execs node on <app>/bin/aisoc.mjs: an app that prints what it was given stands in for AI-SOC.
  let app: string;
  beforeAll(() => {
    app = join(tmp, 'app');
    mkdirSync(join(app, 'bin'), { recursive: true });
    writeFileSync(
      join(app, 'bin/aisoc.mjs'),
      `const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(AISOC_|PGPASSWORD|OTHER_)/.test(k)));
process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), env }));`,
    );
  });
  const run = (env: Record<string, string>, args: string[] = []) => {
    const r = spawnSync('sh', [join(REPO, 'deploy/docker/aisoc.sh'), ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, AISOC_APP_DIR: app, ...env },
    });
    return {
      status: r.status,
      stderr: r.stderr,
      out:
        r.status === 0
          ? (JSON.parse(r.stdout) as { argv: string[]; env: Record<string, string> })
          : undefined,
    };
  };
  const secret = (name: string, content: string) => {
    const p = join(tmp, name);
    writeFileSync(p, content);
    return p;
  };

  it('sets each AISOC_* and PGPASSWORD from its _FILE, without the trailing newline, and passes the arguments on', () => {
    const r = run(
      {
        AISOC_ADMIN_KEY_FILE: secret('admin', `${'k'.repeat(40)}\n`),
        PGPASSWORD_FILE: secret('pg', 'pa ss$word\n'),
        AISOC_LOG_LEVEL: 'debug',
        OTHER_FILE: '/not/read',
      },
      ['ingest', '--follow', '/logs/a file.json'],
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.out!.argv).toEqual(['ingest', '--follow', '/logs/a file.json']);
    expect(r.out!.env).toEqual({
      AISOC_APP_DIR: app,
      AISOC_ADMIN_KEY: 'k'.repeat(40),
      PGPASSWORD: 'pa ss$word',
      AISOC_LOG_LEVEL: 'debug',
      OTHER_FILE: '/not/read',
    });
  });

  it('refuses a secret given twice, and a file it cannot read, naming the variable', () => {
    const both = run({ AISOC_API_KEY: 'x', AISOC_API_KEY_FILE: secret('key', 'y') });
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('both AISOC_API_KEY and AISOC_API_KEY_FILE are set');
    const missing = run({ AISOC_WEBHOOK_SECRET_FILE: join(tmp, 'nope') });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(
      `AISOC_WEBHOOK_SECRET_FILE names ${join(tmp, 'nope')}, which cannot be read`,
    );
    const unreadable = secret('locked', 'z');
    chmodSync(unreadable, 0);
    // root reads any file: only check the refusal where permissions apply.
    if (process.getuid?.() !== 0) expect(run({ AISOC_API_KEY_FILE: unreadable }).status).toBe(2);
  });
});

describe('the image health check (deploy/docker/healthcheck.mjs)', () => {
  let server: Server;
  let status = 200;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/health' ? status : 404).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  // Asynchronous: the server answering it runs in this process.
  const check = (url: string) =>
    new Promise<{ status: number | null; stderr: string }>((resolve) => {
      execFile(
        'node',
        [join(REPO, 'deploy/docker/healthcheck.mjs')],
        { env: { PATH: process.env.PATH, AISOC_HEALTH_URL: url } },
        (err, _stdout, stderr) => resolve({ status: err ? (err.code as number) : 0, stderr }),
      );
    });

  it('passes on 200 from /health and fails on anything else, saying why', async () => {
    status = 200;
    expect((await check(`${base}/health`)).status).toBe(0);
    status = 503;
    const down = await check(`${base}/health`);
    expect(down.status).toBe(1);
    expect(down.stderr).toContain('answered 503');
    const refused = await check('http://127.0.0.1:1/health');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('http://127.0.0.1:1/health');
  });
});
