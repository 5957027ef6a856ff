// Preloaded (`node --import`) into a process under test, it records which
// packages the process loads, in the file named by AISOC_MODULE_PROBE, one
// JSON line each: {pid, thread, via, pkg}. Two ways in, because a package
// can arrive by either: an ESM `import` passes the resolve hook (module-probe-hooks.mjs,
// run on the loader thread, which writes synchronously, so a record is on
// disk before the import it records has finished), and a CommonJS `require`
// (what the AWS SDK's own files do between themselves; resolve hooks do not
// see those on Node 20) leaves the module in require.cache, read at exit.
// `start` and `exit` lines say that the probe ran at all.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { threadId } from 'node:worker_threads';

const log = process.env.AISOC_MODULE_PROBE;
if (log) {
  const write = (via, pkg) =>
    appendFileSync(log, `${JSON.stringify({ pid: process.pid, thread: threadId, via, pkg })}\n`);
  write('start', null);
  register('./module-probe-hooks.mjs', import.meta.url, {
    data: { log, pid: process.pid, thread: threadId },
  });
  process.on('exit', () => {
    const pkgs = new Set();
    for (const file of Object.keys(createRequire(import.meta.url).cache)) {
      const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
      if (m) pkgs.add(m[1]);
    }
    for (const pkg of pkgs) write('require', pkg);
    write('exit', null);
  });
}
