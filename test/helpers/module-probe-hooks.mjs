// Resolve hook of module-probe.mjs: records the package of every module an
// ESM import resolves to, once per package.
import { appendFileSync } from 'node:fs';

let log;
let pid;
let thread;
const seen = new Set();

export function initialize(data) {
  log = data.log;
  pid = data.pid;
  thread = data.thread;
}

export async function resolve(specifier, context, next) {
  const out = await next(specifier, context);
  const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(out.url);
  if (m && !seen.has(m[1])) {
    seen.add(m[1]);
    appendFileSync(log, `${JSON.stringify({ pid, thread, via: 'import', pkg: m[1] })}\n`);
  }
  return out;
}
