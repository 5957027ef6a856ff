import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STAMP_FILE, sourceStamp } from '../bin/sources.mjs';
import { codeDigest, workerCode } from '../src/workers.ts';
import { probeEnv, readProbe } from './helpers/module-probe.ts';
import { BIN, REPO } from './helpers/process.ts';
import { tempDir } from './helpers/runtime.ts';

const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const DIST = join(REPO, 'dist');
/** Packages only development needs: none may be loaded, or imported, by what ships. */
const DEV_ONLY = ['tsx', 'esbuild', 'typescript', 'vite', 'vitest'];

/** Run node; its output and status, never a throw. */
function node(args: string[], env: Record<string, string | undefined> = {}, cwd = REPO) {
  const r = spawnSync(process.execPath, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, AISOC_RUN: undefined, ...env },
    timeout: 300_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** The packages a process loaded (its own main thread and its worker threads), from a probe log. */
function loaded(log: string): string[] {
  return [...new Set(readProbe(log).flatMap((r) => (r.pkg ? [r.pkg] : [])))];
}

describe('the release build (dist/)', () => {
  const { dir, cleanup } = tempDir('aisoc-release-');
  let stamp: { sources: string; version: string; workers: string[] };

  beforeAll(() => {
    // The product's build, as `npm run build` runs it (the console's build is separate: build-web.mjs).
    execFileSync(process.execPath, [join(REPO, 'scripts/build-dist.mjs')], { cwd: REPO, stdio: 'pipe' });
    stamp = JSON.parse(readFileSync(join(DIST, STAMP_FILE), 'utf8'));
    return cleanup;
  });

  it('records the stamp of the sources it was built from, and its worker bundles', () => {
    expect(stamp.sources).toBe(sourceStamp(join(REPO, 'src')));
    expect(stamp.version).toBe(PKG.version);
    expect(stamp.workers.sort()).toEqual(['detect/ml/worker.ts', 'knowledge/snapshot/worker.ts']);
    for (const w of stamp.workers)
      expect(existsSync(join(DIST, w.replace(/\.ts$/, '.bundle.cjs')))).toBe(true);
    // The entry of the embedded database's initdb process is copied; the tsx shims are not.
    expect(existsSync(join(DIST, 'store/pglite-init.mjs'))).toBe(true);
    expect(existsSync(join(DIST, 'knowledge/snapshot/worker-entry.mjs'))).toBe(false);
    // No test, test support or fixture is compiled.
    const js = execFileSync('find', [DIST, '-name', '*.js'], { encoding: 'utf8' }).trim().split('\n');
    expect(js.filter((f) => /\.test\.js$|\/testing\/|\/fixtures\//.test(f))).toEqual([]);
  });

  it('`node bin/aisoc.mjs --version` runs dist/ and prints the version, loading no TypeScript tool', () => {
    const log = join(dir, 'version.jsonl');
    const r = node([BIN, '--version'], probeEnv(log));
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(PKG.version);
    const pkgs = loaded(log);
    // The probe saw the process from start to exit (commander, bundled, answers --version); tsx never came in.
    expect(readProbe(log).map((r) => r.via)).toEqual(expect.arrayContaining(['start', 'exit']));
    expect(pkgs.filter((p) => DEV_ONLY.includes(p))).toEqual([]);
    // The same command from the sources, as the launcher runs them when dist/ is out of date.
    const src = node([BIN, '--version'], { AISOC_RUN: 'src' });
    expect(src.stdout.trim()).toBe(PKG.version);
  });

  it('an offline command prints the same from dist/ as from the sources', () => {
    const fixture = join(REPO, 'src/detect/sigma/fixtures/cloudtrail-mixed.json');
    const fromDist = node([BIN, 'detect', fixture], { AISOC_RUN: 'dist' });
    const fromSrc = node([BIN, 'detect', fixture], { AISOC_RUN: 'src' });
    expect(fromDist.status).toBe(0);
    expect(fromDist.stdout.trim().split('\n')).toHaveLength(2);
    expect(fromDist.stdout).toBe(fromSrc.stdout);
    // The summary on stderr, but for the times it reports.
    const untimed = (s: string) => s.replace(/\d+(\.\d+)? m?s\b/g, '…');
    expect(untimed(fromDist.stderr)).toBe(untimed(fromSrc.stderr));
    expect(fromDist.stderr).toMatch(/3 events, 1 bad records/);
  });

  it('bundles each worker as the sources do at run time: same digest, so one index cache serves both', async () => {
    for (const w of stamp.workers) {
      const fromSrc = await workerCode(new URL(`../src/${w}`, import.meta.url));
      const built = readFileSync(join(DIST, w.replace(/\.ts$/, '.bundle.cjs')), 'utf8');
      // The release bundle carries an inline source map; the digest leaves it out.
      expect(built).toMatch(/\/\/# sourceMappingURL=data:application\/json;base64,/);
      expect(codeDigest(built, 'none')).toBe(codeDigest(fromSrc, 'none'));
    }
  });

  it('runs both worker threads from the prebuilt bundles, with neither tsx nor esbuild', () => {
    const fixture = join(REPO, 'src/knowledge/attack/fixtures/mini-attack-stix21.json');
    const script = `
      const { KnowledgeBase } = await import('./dist/knowledge/kb.js');
      const { KnowledgeConfig } = await import('./dist/knowledge/config.js');
      const kb = new KnowledgeBase({ config: KnowledgeConfig.parse({ attack_path: ${JSON.stringify(fixture)} }) });
      await kb.ready();
      const hit = (await kb.retrieve({ query: 'lsass memory', top_k: 1 })).results[0];
      const origin = kb.status().index.origin;
      await kb.close();
      const { TreePool, stopParkedWorkers } = await import('./dist/detect/ml/pool.js');
      const x = Float32Array.from({ length: 400 }, (_, i) => (i * 7919) % 101);
      const threaded = TreePool.open(2);
      const a = await threaded.bin(x, 100, 4, 16);
      await threaded.close();
      const inline = TreePool.open(0);
      const b = await inline.bin(x, 100, 4, 16);
      await inline.close();
      await stopParkedWorkers();
      console.log(JSON.stringify({ origin, technique: hit.metadata.technique_id, threads: threaded.threads,
        same: JSON.stringify([Array.from(a.bins), a.edges.map((e) => Array.from(e))]) ===
          JSON.stringify([Array.from(b.bins), b.edges.map((e) => Array.from(e))]) }));`;
    const log = join(dir, 'workers.jsonl');
    const r = node(['--input-type=module', '-e', script], probeEnv(log));
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      origin: 'worker',
      technique: 'T1003.001',
      threads: 2,
      same: true,
    });
    expect(loaded(log).filter((p) => DEV_ONLY.includes(p))).toEqual([]);
  });
});

describe('the launcher (bin/aisoc.mjs) runs dist/ only when it was built from the sources as they are', () => {
  /** A tree shaped like the repository: a main that says which copy ran. */
  function tree() {
    const { dir, cleanup } = tempDir('aisoc-launcher-');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    mkdirSync(join(dir, 'bin'));
    for (const f of ['aisoc.mjs', 'sources.mjs']) copyFileSync(join(REPO, 'bin', f), join(dir, 'bin', f));
    mkdirSync(join(dir, 'src/cli'), { recursive: true });
    writeFileSync(join(dir, 'src/cli/main.ts'), "const from: string = 'src';\nconsole.log(from);\n");
    writeFileSync(join(dir, 'src/cli/main.test.ts'), '// a test: not part of the build\n');
    mkdirSync(join(dir, 'dist/cli'), { recursive: true });
    writeFileSync(join(dir, 'dist/cli/main.js'), "console.log('dist');\n");
    writeFileSync(join(dir, 'dist', STAMP_FILE), JSON.stringify({ sources: sourceStamp(join(dir, 'src')) }));
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    const run = (env: Record<string, string> = {}) => node([join(dir, 'bin/aisoc.mjs')], env, dir);
    return { dir, cleanup, run };
  }

  it('chooses dist/ while the stamp matches, the sources once one changes, and obeys AISOC_RUN', () => {
    const { dir, cleanup, run } = tree();
    try {
      expect(run().stdout).toBe('dist\n');
      // A test changing is no reason to leave dist/.
      appendFileSync(join(dir, 'src/cli/main.test.ts'), '// more\n');
      expect(run().stdout).toBe('dist\n');
      appendFileSync(join(dir, 'src/cli/main.ts'), '// edited after the build\n');
      expect(run().stdout).toBe('src\n');
      expect(run({ AISOC_RUN: 'dist' }).stdout).toBe('dist\n');
      writeFileSync(join(dir, 'src/cli/extra.ts'), 'export {};\n');
      writeFileSync(
        join(dir, 'dist', STAMP_FILE),
        JSON.stringify({ sources: sourceStamp(join(dir, 'src')) }),
      );
      expect(run().stdout).toBe('dist\n');
      // The bundle of the same build, when there is one, is what runs.
      mkdirSync(join(dir, 'dist/bundle'));
      writeFileSync(join(dir, 'dist/bundle/main.js'), "console.log('bundle');\n");
      expect(run().stdout).toBe('bundle\n');
      expect(run({ AISOC_RUN: 'src' }).stdout).toBe('src\n');
      rmSync(join(dir, 'dist/bundle'), { recursive: true });
      // A damaged stamp is a stale build.
      writeFileSync(join(dir, 'dist', STAMP_FILE), '{"sources": ');
      expect(run().stdout).toBe('src\n');
      const bad = run({ AISOC_RUN: 'fast' });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/AISOC_RUN is "fast"; it must be dist or src/);
    } finally {
      cleanup();
    }
  });

  it('runs dist/ with no sources beside it (an installed package), and says what to do without either', () => {
    const { dir, cleanup, run } = tree();
    try {
      rmSync(join(dir, 'src'), { recursive: true });
      expect(run().stdout).toBe('dist\n');
      rmSync(join(dir, 'dist'), { recursive: true });
      rmSync(join(dir, 'node_modules'));
      const none = run();
      expect(none.status).toBe(1);
      expect(none.stderr).toMatch(/dist\/ is missing or older than src\/.*run `npm run build`/);
      const forced = run({ AISOC_RUN: 'dist' });
      expect(forced.status).toBe(1);
      expect(forced.stderr).toMatch(/dist\/ is missing: run `npm run build`/);
    } finally {
      cleanup();
    }
  });
});

describe('npm pack', () => {
  let files: string[];

  beforeAll(() => {
    if (!existsSync(join(DIST, STAMP_FILE)))
      execFileSync(process.execPath, [join(REPO, 'scripts/build-dist.mjs')], { cwd: REPO, stdio: 'pipe' });
    // What `npm pack` would put in the tarball (scripts skipped: dist/ is built above).
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    files = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  });

  it('holds what the runtime reads: the launcher, dist/, content/, the models and the console', () => {
    const tracked = (path: string) =>
      execFileSync('git', ['ls-files', path], { cwd: REPO, encoding: 'utf8' }).trim().split('\n');
    const stamp = JSON.parse(readFileSync(join(DIST, STAMP_FILE), 'utf8')) as { workers: string[] };
    const required = [
      'package.json',
      'README.md',
      'bin/aisoc.mjs',
      'bin/sources.mjs',
      'dist/cli/main.js',
      'dist/cli/main.js.map',
      'dist/bundle/main.js',
      `dist/${STAMP_FILE}`,
      'dist/store/pglite-init.mjs',
      ...stamp.workers.map((w) => `dist/${w.replace(/\.ts$/, '.bundle.cjs')}`),
      ...tracked('content'),
      ...tracked('models').filter((f) => f.endsWith('.aisoc-model')),
      'web/dist/index.html',
    ];
    expect(required.filter((f) => !files.includes(f))).toEqual([]);
  });

  it('holds no sources, tests, fixtures, benchmarks or data', () => {
    const unwanted = files.filter(
      (f) =>
        /^(src|test|bench|scripts|docs|deploy|infra|web\/src|\.aisoc)\//.test(f) ||
        /\.test\.|(^|\/)(testing|fixtures)\/|\.ts$|\.tgz$/.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  it('needs nothing a production install leaves out: every import in dist/ is a dependency, a builtin or a packed file', () => {
    const deps = new Set(Object.keys(PKG.dependencies));
    const builtins = new Set(builtinModules);
    const missing: string[] = [];
    for (const f of files.filter((p) => /^dist\/.*\.(js|mjs)$/.test(p))) {
      // Code lines only: bundled dependencies keep JSDoc such as `@param {import('./index.js').X}`.
      const text = readFileSync(join(REPO, f), 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l))
        .join('\n');
      for (const m of text.matchAll(
        /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|\bimport\(['"]([^'"]+)['"]\)/g,
      )) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.')) {
          const target = normalize(join(dirname(f), spec));
          if (!files.includes(target)) missing.push(`${f} → ${spec}`);
        } else if (!spec.startsWith('node:') && !builtins.has(spec)) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!deps.has(name)) missing.push(`${f} → ${spec}`);
        }
      }
    }
    expect(missing).toEqual([]);
    for (const dev of DEV_ONLY) expect(deps.has(dev)).toBe(false);
  });
});
