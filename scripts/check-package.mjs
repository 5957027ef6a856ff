#!/usr/bin/env node
// `npm run check:package`: what a user of the package gets. Packs the repository as `npm pack` does
// (its `prepare` builds the console and dist/), installs the tarball into an empty directory without
// development dependencies, and runs the installed command: `aisoc --version` must print the
// version, and `aisoc serve` must answer GET /health. Needs the npm registry (or npm's cache) for
// the dependencies. `--keep` leaves the directory for a look.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const keep = process.argv.includes('--keep');
const dir = mkdtempSync(join(tmpdir(), 'aisoc-package-'));
const npm = (args, cwd) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const step = (what) => console.log(`- ${what}`);
let failed = false;
let child;
const check = (ok, what) => {
  console.log(`  ${ok ? 'ok' : 'FAILED'}: ${what}`);
  if (!ok) failed = true;
};

try {
  step('npm pack (runs prepare: the console and dist/ are built)');
  // The scripts' lines come first on stdout; npm's JSON is the rest, from its opening line.
  const packOut = npm(['pack', '--json', '--pack-destination', dir], root);
  const packed = JSON.parse(packOut.slice(packOut.lastIndexOf('\n[\n') + 1))[0];
  const tarball = join(dir, packed.filename);
  console.log(
    `  ${packed.filename}: ${packed.entryCount} files, ${(packed.size / 1e6).toFixed(1)} MB packed`,
  );

  step('npm install <tarball> --omit=dev into an empty directory');
  const app = join(dir, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), '{ "private": true }\n');
  npm(['install', tarball, '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], app);
  for (const dev of ['tsx', 'esbuild', 'typescript', 'vite', 'vitest'])
    check(!existsSync(join(app, 'node_modules', dev)), `${dev} is not installed`);
  const bin = join(app, 'node_modules', '.bin', 'aisoc');

  step('aisoc --version');
  const t0 = performance.now();
  const printed = execFileSync(bin, ['--version'], { cwd: app, encoding: 'utf8' }).trim();
  check(
    printed === version,
    `prints ${printed} (package.json: ${version}) in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );

  step('aisoc serve, then GET /health');
  const data = join(dir, 'data');
  child = spawn(bin, ['serve', '--port', '0', '--data-dir', data], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  let out = '';
  const url = await new Promise((resolveUrl, reject) => {
    const seen = (d) => {
      out += d;
      const m = /serving on (http:\/\/[^\s)]+)/.exec(out);
      if (m) resolveUrl(m[1]);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    exited.then((code) => reject(new Error(`aisoc serve exited (${code}) before listening:\n${out}`)));
  });
  const health = await fetch(`${url}/health`);
  const body = await health.json();
  check(
    health.status === 200 && body.status === 'ok',
    `${url}/health answers ${health.status} ${JSON.stringify(body)}`,
  );
  const page = await fetch(`${url}/`);
  check(
    page.status === 200 && (await page.text()).includes('<html'),
    `${url}/ serves the console (${page.status})`,
  );
  child.kill('SIGTERM');
  const code = await exited;
  check(code === 0, `stops on SIGTERM (exit ${code})`);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  failed = true;
} finally {
  // Never leave a server running, whatever failed.
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (keep) console.log(`Kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
console.log(
  failed ? 'The package check FAILED.' : 'The package installs without development dependencies and runs.',
);
process.exit(failed ? 1 : 0);
