import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019, type ErrorObject, type ValidateFunction } from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';

/**
 * Checks of the compose files under deploy/compose/ and of the Dockerfile,
 * for test/deploy/*.test.ts. No Docker engine runs here, so these stand in
 * for `docker compose config` and a build: the Compose Specification's JSON
 * Schema (vendored in fixtures/, see its NOTICE), interpolation as Compose
 * does it, and the rules docs/deploy.md promises.
 */

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const COMPOSE_DIR = join(REPO, 'deploy/compose');
export const SCHEMA_FILE = join(REPO, 'test/deploy/fixtures/compose-spec.json');
export const SCHEMA_SHA256 = '56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c';

/** A parsed YAML or JSON value. */
type Json = unknown;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A compose file as YAML: anchors, aliases and `<<` merge keys resolved, as Compose reads it. */
export function parseCompose(text: string): Obj {
  const doc = parseYaml(text, { merge: true }) as unknown;
  if (!isObj(doc)) throw new Error('A compose file must hold a mapping at the top level');
  return doc;
}

/** `KEY=value` lines of an env file (comments and blank lines skipped), as Compose reads `.env`. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`Not a KEY=value line: ${line}`);
    out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** A variable a compose file refers to, and whether it gives a default (`${X:-d}`, `${X-d}`). */
export interface VarUse {
  name: string;
  hasDefault: boolean;
}

const VAR = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Interpolate one string as Compose does: `$$` is a dollar, `${X}`, `$X`,
 * `${X:-d}` / `${X-d}` (default when unset or empty / unset), `${X:?e}` /
 * `${X?e}` (an error when unset), `${X:+a}` / `${X+a}`. Records every use.
 */
export function interpolateString(s: string, env: Map<string, string>, uses: VarUse[]): string {
  if (/\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::?[-?+][^}]*)?\})/.test(s.replaceAll('$$', ''))) {
    throw new Error(`Invalid interpolation in "${s}"`);
  }
  return s.replace(VAR, (whole, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const set = env.has(name);
    const value = env.get(name) ?? '';
    uses.push({ name, hasDefault: op === '-' || op === ':-' });
    switch (op) {
      case ':-':
        return value === '' ? (arg ?? '') : value;
      case '-':
        return set ? value : (arg ?? '');
      case ':?':
        if (value === '') throw new Error(`Required variable ${name} is empty: ${arg}`);
        return value;
      case '?':
        if (!set) throw new Error(`Required variable ${name} is unset: ${arg}`);
        return value;
      case ':+':
        return value === '' ? '' : (arg ?? '');
      case '+':
        return set ? (arg ?? '') : '';
      default:
        return value;
    }
  });
}

/** Interpolate every string value of a document (keys are left alone, as Compose does). */
export function interpolate(doc: Json, env: Map<string, string>, uses: VarUse[] = []): Json {
  if (typeof doc === 'string') return interpolateString(doc, env, uses);
  if (Array.isArray(doc)) return doc.map((d) => interpolate(d, env, uses));
  if (isObj(doc)) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(doc)) out[k] = interpolate(v, env, uses);
    return out;
  }
  return doc;
}

const DURATION = /^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/;
const PORT_RANGE = String.raw`\d{1,5}(-\d{1,5})?`;
const HOST_IP = String.raw`(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[0-9a-fA-F]*:[0-9a-fA-F:]+)`;
const PORTS = new RegExp(`^((${HOST_IP}:)?(${PORT_RANGE})?:)?${PORT_RANGE}(/(tcp|udp|sctp))?$`);
const EXPOSE = new RegExp(`^${PORT_RANGE}(/(tcp|udp|sctp))?$`);
const CIDR = /^([0-9.]+\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

let validator: ValidateFunction | undefined;

/** Remove the `id` keyword from every subschema (not from maps whose keys are names: properties, definitions). */
function dropIds(schema: Json, isNameMap = false): void {
  if (Array.isArray(schema)) {
    for (const s of schema) dropIds(s);
    return;
  }
  if (!isObj(schema)) return;
  if (!isNameMap && typeof schema.id === 'string') delete schema.id;
  for (const [k, v] of Object.entries(schema)) {
    dropIds(v, !isNameMap && ['properties', 'patternProperties', 'definitions'].includes(k));
  }
}

/** The vendored schema, checked against its recorded digest. */
export function loadSchema(): Obj {
  const text = readFileSync(SCHEMA_FILE);
  const digest = createHash('sha256').update(text).digest('hex');
  if (digest !== SCHEMA_SHA256) throw new Error(`${SCHEMA_FILE} changed: sha256 ${digest}`);
  return JSON.parse(text.toString('utf8')) as Obj;
}

/**
 * Validate an interpolated compose document against the Compose
 * Specification's schema; returns the errors (empty when valid).
 */
export function schemaErrors(doc: Json): string[] {
  if (!validator) {
    const schema = loadSchema();
    // The file names its draft as ".../draft/2019-09/schema#", which is not the id Ajv registers the
    // meta-schema under; Ajv2019 is that draft, so the marker is dropped rather than resolved. Its
    // draft-04 style "id" keywords only label subschemas (every $ref is a JSON pointer), and Ajv
    // refuses "id", so they are dropped too.
    delete schema.$schema;
    dropIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', DURATION);
    ajv.addFormat('ports', { type: 'string', validate: (s: string) => PORTS.test(s) });
    ajv.addFormat('expose', EXPOSE);
    ajv.addFormat('subnet_ip_address', CIDR);
    validator = ajv.compile(schema);
  }
  if (validator(doc)) return [];
  return (validator.errors ?? []).map(
    (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

/** The profiles a service runs in (none: always). */
function profilesOf(svc: Obj): string[] {
  return Array.isArray(svc.profiles) ? svc.profiles.map(String) : [];
}

/** Whether two services can never run in one project: every pair of their profiles is declared exclusive. */
function exclusive(a: Obj, b: Obj, pairs: Array<[string, string]>): boolean {
  const pa = profilesOf(a);
  const pb = profilesOf(b);
  if (pa.length === 0 || pb.length === 0) return false;
  return pa.every((x) =>
    pb.every((y) => pairs.some(([p, q]) => (p === x && q === y) || (p === y && q === x))),
  );
}

/** Host ports a service publishes, as `port/protocol` (after interpolation). */
export function publishedPorts(svc: Obj): string[] {
  const out: string[] = [];
  for (const p of Array.isArray(svc.ports) ? svc.ports : []) {
    if (isObj(p)) {
      if (p.published !== undefined) out.push(`${p.published}/${p.protocol ?? 'tcp'}`);
      continue;
    }
    const [spec, proto = 'tcp'] = String(p).split('/');
    const parts = spec!.split(':');
    // container port only: no host port published (Docker picks an ephemeral one)
    if (parts.length < 2) continue;
    const host = parts[parts.length - 2]!;
    if (host !== '') out.push(`${host}/${proto}`);
  }
  return out;
}

const SECRET_NAME =
  /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|_KEY(_FILE)?$)/i;
/** `${VAR}` or `${VAR:?msg}` / `${VAR?msg}`: a value that comes from the environment, with no default. */
const FROM_ENV = /^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$/;

/** A service's environment as name → raw value (list or map form). */
function environmentOf(svc: Obj): Array<[string, string | undefined]> {
  const env = svc.environment;
  if (Array.isArray(env)) {
    return env.map((e) => {
      const s = String(e);
      const eq = s.indexOf('=');
      return eq < 0 ? [s, undefined] : [s.slice(0, eq), s.slice(eq + 1)];
    });
  }
  if (isObj(env)) return Object.entries(env).map(([k, v]) => [k, v === null ? undefined : String(v)]);
  return [];
}

/** Secret-like values written into the file: each finding names the service and variable. */
export function literalSecrets(raw: Obj): string[] {
  const out: string[] = [];
  const services = isObj(raw.services) ? raw.services : {};
  for (const [name, svc] of Object.entries(services)) {
    if (!isObj(svc)) continue;
    for (const [k, v] of environmentOf(svc)) {
      if (v === undefined || v === '') continue;
      // A password inside a URL (scheme://user:password@host) is a secret whatever the variable is called.
      const url = /^[a-z][a-z0-9+.-]*:\/\/[^/@:\s]+:([^/@\s]+)@/i.exec(v);
      if (url && !FROM_ENV.test(url[1]!)) out.push(`${name}: ${k} carries a password in its URL`);
      if (!SECRET_NAME.test(k)) continue;
      // A file to read the secret from: must be a mounted Docker secret.
      if (/_FILE$/.test(k)) {
        if (!v.startsWith('/run/secrets/'))
          out.push(`${name}: ${k} should name a Docker secret under /run/secrets/, not ${v}`);
        continue;
      }
      if (!FROM_ENV.test(v)) out.push(`${name}: ${k} is set in the file (use \${VAR} from .env or a secret)`);
    }
  }
  return out;
}

export interface CheckOptions {
  /** Directory relative paths in the file resolve from. */
  dir: string;
  /** Where the files of `secrets:` under ./secrets/ are looked for (default: dir/secrets). */
  secretsDir?: string;
}

/** A bind mount's host path (relative ones resolved), or undefined for a named or anonymous volume. */
function bindSource(spec: Json): { source: string; named: boolean } | undefined {
  if (isObj(spec)) {
    const source = spec.source === undefined ? undefined : String(spec.source);
    if (!source) return undefined;
    return { source, named: spec.type === 'volume' };
  }
  const s = String(spec);
  const parts = s.split(':');
  if (parts.length < 2) return undefined; // an anonymous volume: "/data"
  const source = parts[0]!;
  return { source, named: !/^[./~]/.test(source) };
}

/**
 * The rules a deployable compose file keeps beyond the schema, on the
 * interpolated document (`doc`) and the file as written (`raw`): files it
 * references exist, what it uses is declared, published host ports are
 * unique among services that can run together, every service has a health
 * check, resource limits and a pinned image, and no secret is written in it.
 * Returns one line per problem.
 */
export function consistencyProblems(raw: Obj, doc: Obj, options: CheckOptions): string[] {
  const problems: string[] = [];
  const services = isObj(doc.services) ? doc.services : {};
  const declared = (key: string) => new Set(isObj(doc[key]) ? Object.keys(doc[key] as Obj) : []);
  const volumes = declared('volumes');
  const networks = declared('networks');
  const secrets = declared('secrets');
  const configs = declared('configs');
  const exclusivePairs: Array<[string, string]> = [];
  const ex = doc['x-aisoc-exclusive-profiles'];
  if (Array.isArray(ex))
    for (const g of ex) if (Array.isArray(g)) exclusivePairs.push([String(g[0]), String(g[1])]);

  const resolveFile = (p: string) => {
    const secretsDir = options.secretsDir;
    if (secretsDir && /^\.\/secrets\//.test(p)) return join(secretsDir, p.slice('./secrets/'.length));
    return resolve(options.dir, p);
  };

  for (const [name, s] of Object.entries(services)) {
    if (!isObj(s)) {
      problems.push(`${name}: not a mapping`);
      continue;
    }
    // A pinned image: a tag that is not "latest" (or a digest).
    const image = typeof s.image === 'string' ? s.image : undefined;
    if (!image) problems.push(`${name}: no image`);
    else if (!/@sha256:[0-9a-f]{64}$/.test(image)) {
      const tag = /:([^/:]+)$/.exec(image)?.[1];
      if (!tag || tag === 'latest') problems.push(`${name}: image ${image} is not pinned to a tag`);
    }
    const hc = s.healthcheck;
    if (!isObj(hc) || hc.disable === true || hc.test === undefined) problems.push(`${name}: no healthcheck`);
    else if (Array.isArray(hc.test) && (hc.test[0] === 'NONE' || hc.test.length < 2))
      problems.push(`${name}: healthcheck does not test anything`);
    const limits =
      isObj(s.deploy) && isObj(s.deploy.resources) && isObj(s.deploy.resources.limits)
        ? s.deploy.resources.limits
        : undefined;
    if (!limits || limits.cpus === undefined || limits.memory === undefined)
      problems.push(`${name}: no resource limits (deploy.resources.limits.cpus and memory)`);

    for (const v of Array.isArray(s.volumes) ? s.volumes : []) {
      const b = bindSource(v);
      if (!b) continue;
      if (b.named) {
        if (!volumes.has(b.source)) problems.push(`${name}: volume ${b.source} is not declared`);
      } else if (!b.source.startsWith('/') && !existsSync(resolveFile(b.source))) {
        problems.push(`${name}: bind mount source ${b.source} does not exist`);
      }
    }
    const envFiles = s.env_file === undefined ? [] : Array.isArray(s.env_file) ? s.env_file : [s.env_file];
    for (const f of envFiles) {
      const path = isObj(f) ? String(f.path) : String(f);
      if (!existsSync(resolveFile(path))) problems.push(`${name}: env_file ${path} does not exist`);
    }
    for (const [key, set] of [
      ['secrets', secrets],
      ['configs', configs],
    ] as const) {
      for (const ref of Array.isArray(s[key]) ? s[key] : []) {
        const source = isObj(ref) ? String(ref.source) : String(ref);
        if (!set.has(source)) problems.push(`${name}: ${key.slice(0, -1)} ${source} is not declared`);
      }
    }
    if (s.network_mode !== undefined && s.networks !== undefined)
      problems.push(`${name}: network_mode and networks together`);
    const nets = Array.isArray(s.networks)
      ? s.networks.map(String)
      : isObj(s.networks)
        ? Object.keys(s.networks)
        : [];
    for (const n of nets) if (!networks.has(n)) problems.push(`${name}: network ${n} is not declared`);
    if (s.network_mode === undefined && nets.length === 0)
      problems.push(`${name}: on the default network (name frontend, backend or data)`);

    const deps = Array.isArray(s.depends_on)
      ? s.depends_on.map(String)
      : isObj(s.depends_on)
        ? Object.keys(s.depends_on)
        : [];
    for (const d of deps) {
      const target = services[d];
      if (!isObj(target)) {
        problems.push(`${name}: depends on ${d}, which is not a service`);
        continue;
      }
      const mine = profilesOf(s);
      const theirs = profilesOf(target);
      if (theirs.length > 0 && !mine.every((p) => theirs.includes(p)))
        problems.push(`${name}: depends on ${d}, which does not run in every profile ${name} runs in`);
    }
  }

  // Published host ports: two services that can run together never share one.
  const names = Object.keys(services);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = services[names[i]!] as Obj;
      const b = services[names[j]!] as Obj;
      if (!isObj(a) || !isObj(b) || exclusive(a, b, exclusivePairs)) continue;
      const pb = new Set(publishedPorts(b));
      for (const p of publishedPorts(a))
        if (pb.has(p)) problems.push(`${names[i]} and ${names[j]} both publish host port ${p}`);
    }
  }
  // Within one service too (a duplicate line).
  for (const [name, s] of Object.entries(services)) {
    if (!isObj(s)) continue;
    const ports = publishedPorts(s);
    const dup = ports.find((p, k) => ports.indexOf(p) !== k);
    if (dup) problems.push(`${name} publishes host port ${dup} twice`);
  }

  for (const [key, label] of [
    ['secrets', 'secret'],
    ['configs', 'config'],
  ] as const) {
    const top = doc[key];
    if (!isObj(top)) continue;
    for (const [n, def] of Object.entries(top)) {
      if (!isObj(def)) continue;
      if (def.file !== undefined && !existsSync(resolveFile(String(def.file))))
        problems.push(`${label} ${n}: file ${def.file} does not exist`);
      if (key === 'secrets' && def.file !== undefined && !/^\.\/secrets\//.test(String(def.file)))
        problems.push(`secret ${n}: keep secret files under ./secrets/ (kept out of git and the image)`);
    }
  }

  problems.push(...literalSecrets(raw));
  return problems;
}

/** One instruction of a Dockerfile: its keyword (upper case) and the rest of the line, continuations joined. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const start = i + 1;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      line = `${line.replace(/\\\s*$/, '')} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  }
  return out;
}

/** Sources of a COPY or ADD (options and the destination left out; JSON form too). */
function copySources(args: string): { from?: string; sources: string[] } {
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const rest = words.filter((w) => !w.startsWith('--'));
  const sources = rest.slice(0, -1);
  return from === undefined ? { sources } : { from, sources };
}

/**
 * The Dockerfile's promises: multi-stage on a pinned Node 20 slim image, the
 * build installs, compiles and prunes, the runtime stage runs as a non-root
 * user with /data as a volume, a HEALTHCHECK on /health, EXPOSE, no secret
 * copied or set in a layer; and .dockerignore keeps node_modules, .git, data
 * directories and secrets out of the context. One line per problem.
 */
export function dockerfileProblems(dockerfile: string, dockerignore: string, repo = REPO): string[] {
  const problems: string[] = [];
  const ins = parseDockerfile(dockerfile);
  const stages: Instruction[][] = [];
  const stageNames: string[] = [];
  for (const i of ins) {
    if (i.keyword === 'FROM') {
      stages.push([]);
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      const image = m?.[1] ?? '';
      if (!stageNames.includes(image) && !/^node:20\.\d+\.\d+-(bookworm|bullseye|trixie)-slim$/.test(image))
        problems.push(`line ${i.line}: FROM ${image} is not a pinned node:20.x.y-<debian>-slim`);
      stageNames.push(m?.[2] ?? '');
    }
    stages.at(-1)?.push(i);
  }
  if (stages.length < 2) problems.push('not multi-stage');
  const all = ins.map((i) => `${i.keyword} ${i.args}`).join('\n');
  for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev'])
    if (!all.includes(step)) problems.push(`the build does not run ${step}`);

  const final = stages.at(-1) ?? [];
  const users = final.filter((i) => i.keyword === 'USER');
  const user = users.at(-1)?.args.split(':')[0];
  if (!user) problems.push('the runtime stage sets no USER');
  else if (user === 'root' || user === '0') problems.push(`the runtime stage runs as ${user}`);
  const health = final.filter((i) => i.keyword === 'HEALTHCHECK');
  if (health.length === 0) problems.push('the runtime stage has no HEALTHCHECK');
  for (const h of health) {
    if (/\bNONE\b/.test(h.args)) problems.push('HEALTHCHECK NONE');
    if (/\bcurl\b|\bwget\b/.test(h.args)) problems.push('HEALTHCHECK uses a tool the slim image lacks');
    const script = /(\/app\/)?(deploy\/docker\/[\w.-]+\.mjs)/.exec(h.args)?.[2];
    const body = script && existsSync(join(repo, script)) ? readFileSync(join(repo, script), 'utf8') : h.args;
    if (!body.includes('/health')) problems.push('HEALTHCHECK does not ask /health');
  }
  if (!final.some((i) => i.keyword === 'EXPOSE')) problems.push('no EXPOSE');
  const volume = final.filter((i) => i.keyword === 'VOLUME').map((i) => i.args);
  if (!volume.some((v) => v.includes('/data'))) problems.push('no VOLUME for /data');
  if (!final.some((i) => i.keyword === 'ENV' && /AISOC_DATA_DIR=\/data\b/.test(i.args)))
    problems.push('AISOC_DATA_DIR is not /data');

  for (const i of ins) {
    if (i.keyword === 'ENV' || i.keyword === 'ARG') {
      for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) {
        if (SECRET_NAME.test(m[1]!) && !/_FILE$/.test(m[1]!))
          problems.push(`line ${i.line}: ${i.keyword} ${m[1]} puts a secret in a layer`);
      }
    }
    if (i.keyword === 'ADD' && /https?:\/\//.test(i.args)) problems.push(`line ${i.line}: ADD of a URL`);
    if (i.keyword === 'COPY' || i.keyword === 'ADD') {
      const { from, sources } = copySources(i.args);
      for (const src of sources) {
        if (/(^|\/)\.env(\.|$)|secrets?(\/|$)|\.pem$|\.key$/.test(src))
          problems.push(`line ${i.line}: ${i.keyword} ${src} copies a secret`);
        if (from === undefined && src !== '.' && !existsSync(join(repo, src)))
          problems.push(`line ${i.line}: ${i.keyword} ${src}: no such file in the repository`);
      }
    }
  }

  const ignore = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const must of ['node_modules', '.git', '.aisoc', '**/.env', 'deploy/compose/secrets'])
    if (!ignore.includes(must)) problems.push(`.dockerignore does not exclude ${must}`);
  return problems;
}
