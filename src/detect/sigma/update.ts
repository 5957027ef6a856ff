import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { parseAllDocuments } from 'yaml';
import { AisocError, describeError } from '../../errors.ts';
import { type SeverityName, severityRank } from '../../schema/common.ts';
import type { SigmaHqConfig } from './config.ts';

/**
 * `aisoc rules update`: fetch a SigmaHQ release (a release zip, or an
 * unpacked rule tree), verify it against a pinned SHA-256 or a checksum
 * file, keep the rules of the configured statuses and levels, and install
 * them under `<data_dir>/sigmahq/rules`, which the Sigma detector loads
 * (`detect.sigma.sigmahq.load`). A release that is not verified is refused
 * unless `allow_unverified`; one that does not match is always refused.
 */

/** Where an update installs its rules and manifest, under the data directory. */
export function sigmaHqDir(dataDir: string): string {
  return resolve(dataDir, 'sigmahq');
}

/** The installed rules the detector loads. */
export function installedRulesDir(dataDir: string): string {
  return join(sigmaHqDir(dataDir), 'rules');
}

/** What an update did, as `manifest.json` records it. */
export interface UpdateManifest {
  source: string;
  /** `zip` (a release archive) or `tree` (an unpacked folder). */
  kind: 'zip' | 'tree';
  /** SHA-256 of the zip, or the tree digest ({@link treeDigest}). */
  sha256: string;
  verified_by: 'sha256' | 'checksum_file' | 'unverified';
  installed_at: string;
  statuses: string[];
  min_level: SeverityName;
  collections: string[];
  /** Rule files the release holds in the collections taken. */
  files_seen: number;
  files_enabled: number;
  /** Rule documents (detections, correlations, filters) in the enabled files. */
  rules_enabled: number;
  /** Files left out, by reason. */
  left_out: { status: number; level: number; deprecated: number; unreadable: number };
}

const fail = (message: string, field?: string) =>
  new AisocError('AISOC_ERR_RULES_UPDATE', message, field ? { field } : {});

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** A local path for a path or a file:// URL. */
function localPath(source: string): string {
  return /^file:\/\//i.test(source) ? fileURLToPath(source) : resolve(source);
}

/** Read an https:// URL into memory, at most `maxBytes`. */
async function download(url: string, maxBytes: number, timeoutMs: number, field: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    throw fail(`Cannot download ${url}: ${describeError(err)}`, field);
  }
  if (!res.ok) throw fail(`Downloading ${url} answered ${res.status} ${res.statusText}.`, field);
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw fail(`${url} is ${declared} bytes, over the limit of ${maxBytes}.`, field);
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > maxBytes) throw fail(`${url} is over the limit of ${maxBytes} bytes.`, field);
      chunks.push(Buffer.from(chunk));
    }
  }
  return Buffer.concat(chunks);
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** The rule files (.yml, .yaml) under a folder, as sorted paths relative to it, symbolic links left out. */
function yamlFilesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) walk(full);
      else if (st.isFile() && /\.ya?ml$/i.test(name)) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/**
 * The digest of an unpacked rule tree: SHA-256 over each YAML file's
 * relative path and SHA-256, in path order (`<path>\0<sha256>\n`). Any
 * change to a rule, an added or a removed rule changes it; files that are
 * not YAML do not count.
 *
 * @example treeDigest('../shared/data/sigma') // '9c1e…' (64 hex digits)
 */
export function treeDigest(root: string): string {
  const h = createHash('sha256');
  for (const rel of yamlFilesUnder(root)) h.update(`${rel}\u0000${sha256(readFileSync(join(root, rel)))}\n`);
  return h.digest('hex');
}

/** The entry of a checksum file (`<sha256>  <name>` lines) for `name`, or its only entry. */
export function checksumFor(text: string, name: string): string | undefined {
  const entries: Array<{ hash: string; file: string }> = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line.trim());
    if (m) entries.push({ hash: m[1]!.toLowerCase(), file: basename(m[2]!) });
  }
  return entries.find((e) => e.file === name)?.hash ?? (entries.length === 1 ? entries[0]!.hash : undefined);
}

/** A relative path inside a release that is safe to write under a folder: no `..`, no root, no drive. */
function safeRelative(name: string): string | undefined {
  if (name.includes('\\') || name.includes('\u0000') || /^[a-zA-Z]:/.test(name) || name.startsWith('/'))
    return undefined;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}

/** Rule files of a release: relative path (from the release's top) → content. */
type ReleaseFiles = Map<string, Uint8Array>;

/** Unpack the YAML files of the collections from a release zip, refusing unsafe paths and oversized content. */
function unpackZip(data: Uint8Array, collections: readonly string[], maxBytes: number): ReleaseFiles {
  let total = 0;
  let entries: Record<string, Uint8Array>;
  const names: string[] = [];
  try {
    entries = unzipSync(data, {
      filter(file) {
        names.push(file.name);
        if (!/\.ya?ml$/i.test(file.name)) return false;
        total += file.originalSize;
        if (total > maxBytes)
          throw fail(`The release unpacks to over ${maxBytes} bytes of rules.`, 'max_bytes');
        return true;
      },
    });
  } catch (err) {
    if (err instanceof AisocError) throw err;
    throw fail(`The release is not a readable zip: ${describeError(err)}`, 'url');
  }
  const unsafe = names.find((n) => safeRelative(n) === undefined);
  if (unsafe !== undefined)
    throw fail(`The release holds an entry with an unsafe path: ${JSON.stringify(unsafe)}.`);
  // GitHub's source archives put everything under one folder (sigma-r2024-…/rules/…); release assets do not.
  const tops = new Set(names.map((n) => safeRelative(n)!.split('/')[0]!));
  const prefix = tops.size === 1 && !collections.includes([...tops][0]!) ? `${[...tops][0]}/` : '';
  const out: ReleaseFiles = new Map();
  let unpacked = 0;
  for (const [name, content] of Object.entries(entries)) {
    unpacked += content.byteLength;
    if (unpacked > maxBytes)
      throw fail(`The release unpacks to over ${maxBytes} bytes of rules.`, 'max_bytes');
    const rel = safeRelative(name)!.slice(prefix.length);
    if (collections.includes(rel.split('/')[0]!)) out.set(rel, content);
  }
  return out;
}

/** The YAML files of the collections from an unpacked tree. */
function readTree(root: string, collections: readonly string[], maxBytes: number): ReleaseFiles {
  const out: ReleaseFiles = new Map();
  let total = 0;
  for (const c of collections) {
    const dir = join(root, c);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    for (const rel of yamlFilesUnder(dir)) {
      const content = readFileSync(join(dir, rel));
      total += content.byteLength;
      if (total > maxBytes) throw fail(`The rule tree holds over ${maxBytes} bytes of rules.`, 'max_bytes');
      out.set(`${c}/${rel}`, content);
    }
  }
  return out;
}

type Verdict = 'keep' | 'status' | 'level' | 'deprecated' | 'unreadable';

/**
 * Whether a rule file belongs to the curated subset: every rule document
 * in it has an enabled status, and its highest level is at least the least
 * one (a correlation and its base rule come together). Deprecated and
 * unsupported rules never do.
 */
export function curate(
  text: string,
  statuses: readonly string[],
  minLevel: SeverityName,
): { verdict: Verdict; documents: number } {
  let docs: unknown[];
  try {
    const parsed = parseAllDocuments(text);
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (list.some((d) => d.errors.length > 0)) return { verdict: 'unreadable', documents: 0 };
    docs = list.map((d) => d.toJSON() as unknown).filter((d) => d !== null && d !== undefined);
  } catch {
    return { verdict: 'unreadable', documents: 0 };
  }
  const rules = docs.filter(
    (d): d is Record<string, unknown> => typeof d === 'object' && d !== null && !Array.isArray(d),
  );
  if (rules.length === 0) return { verdict: 'unreadable', documents: 0 };
  let best = -1;
  for (const r of rules) {
    const status = typeof r.status === 'string' ? r.status.toLowerCase() : undefined;
    if (status === 'deprecated' || status === 'unsupported') return { verdict: 'deprecated', documents: 0 };
    if (!status || !statuses.includes(status)) return { verdict: 'status', documents: 0 };
    const level = typeof r.level === 'string' ? r.level.toLowerCase() : undefined;
    if (level && ['informational', 'low', 'medium', 'high', 'critical'].includes(level))
      best = Math.max(best, severityRank(level as SeverityName));
  }
  if (best < severityRank(minLevel)) return { verdict: 'level', documents: 0 };
  return { verdict: 'keep', documents: rules.length };
}

export interface UpdateOptions {
  dataDir: string;
  config: SigmaHqConfig;
  /** Override `config.url` (CLI `--from`). */
  from?: string;
  /** Override `config.sha256` (CLI `--sha256`). */
  sha256?: string;
  /** Override `config.checksum_url` (CLI `--checksum`). */
  checksum?: string;
  /** Override `config.allow_unverified` (CLI `--allow-unverified`). */
  allowUnverified?: boolean;
  now?: () => Date;
}

/**
 * Fetch, verify, curate and install a SigmaHQ release; returns what
 * `manifest.json` now says. Nothing already installed changes unless every
 * step succeeds: the new rules are written beside the old ones and swapped
 * in by renames.
 *
 * @example await updateSigmaHq({ dataDir: './.aisoc', config: config.detect.sigma.sigmahq, from: '../shared/data/sigma', allowUnverified: true })
 */
export async function updateSigmaHq(options: UpdateOptions): Promise<UpdateManifest> {
  const { config } = options;
  const source = options.from ?? config.url;
  const pinned = (options.sha256 ?? config.sha256)?.toLowerCase();
  if (pinned !== undefined && !/^[0-9a-f]{64}$/.test(pinned))
    throw fail('sha256 must be 64 hex digits', 'sha256');
  const checksumSource = options.checksum ?? config.checksum_url;
  const allowUnverified = options.allowUnverified ?? config.allow_unverified;

  // 1. Fetch: a zip (downloaded or read) or a folder.
  let kind: 'zip' | 'tree';
  let digest: string;
  let files: ReleaseFiles;
  if (isUrl(source)) {
    if (!/^https:\/\//i.test(source) && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/i.test(source))
      throw fail(`Fetch releases over https:// (or from this machine): ${source}`, 'url');
    const data = await download(source, config.max_bytes, config.timeout_ms, 'url');
    kind = 'zip';
    digest = sha256(data);
    await verified(digest);
    files = unpackZip(data, config.collections, config.max_bytes);
  } else {
    const path = localPath(source);
    if (!existsSync(path)) throw fail(`No release at ${path}.`, 'url');
    if (statSync(path).isDirectory()) {
      kind = 'tree';
      digest = treeDigest(path);
      await verified(digest);
      files = readTree(path, config.collections, config.max_bytes);
    } else {
      const data = readFileSync(path);
      if (data.byteLength > config.max_bytes)
        throw fail(
          `${path} is ${data.byteLength} bytes, over the limit of ${config.max_bytes}.`,
          'max_bytes',
        );
      kind = 'zip';
      digest = sha256(data);
      await verified(digest);
      files = unpackZip(data, config.collections, config.max_bytes);
    }
  }
  const verifiedBy: UpdateManifest['verified_by'] = pinned
    ? 'sha256'
    : checksumSource
      ? 'checksum_file'
      : 'unverified';

  // 2. Curate.
  if (files.size === 0)
    throw fail(
      `${source} holds no rule files under ${config.collections.join(', ')} (detect.sigma.sigmahq.collections).`,
      'collections',
    );
  const leftOut = { status: 0, level: 0, deprecated: 0, unreadable: 0 };
  const keep: Array<[string, Uint8Array]> = [];
  let documents = 0;
  for (const [rel, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const { verdict, documents: n } = curate(
      Buffer.from(content).toString('utf8'),
      config.statuses,
      config.min_level,
    );
    if (verdict === 'keep') {
      keep.push([rel, content]);
      documents += n;
    } else leftOut[verdict]++;
  }

  // 3. Install: write beside the old set, then swap.
  const home = sigmaHqDir(options.dataDir);
  const target = installedRulesDir(options.dataDir);
  const staging = join(home, `rules.new-${process.pid}`);
  const old = join(home, `rules.old-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  for (const [rel, content] of keep) {
    const dest = resolve(staging, rel);
    if (!dest.startsWith(staging + sep)) throw fail(`Unsafe rule path ${JSON.stringify(rel)}.`);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, content);
  }
  const manifest: UpdateManifest = {
    source,
    kind,
    sha256: digest,
    verified_by: verifiedBy,
    installed_at: (options.now?.() ?? new Date()).toISOString(),
    statuses: [...config.statuses],
    min_level: config.min_level,
    collections: [...config.collections],
    files_seen: files.size,
    files_enabled: keep.length,
    rules_enabled: documents,
    left_out: leftOut,
  };
  if (existsSync(target)) renameSync(target, old);
  renameSync(staging, target);
  rmSync(old, { recursive: true, force: true });
  writeFileSync(join(home, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;

  /** Check the digest against the pin or the checksum file; refuse an unverified release unless allowed. */
  async function verified(actual: string): Promise<void> {
    if (pinned !== undefined) {
      if (pinned !== actual)
        throw fail(
          `${source} does not match the pinned SHA-256: expected ${pinned}, got ${actual}.`,
          'sha256',
        );
      return;
    }
    if (checksumSource !== undefined) {
      const text = isUrl(checksumSource)
        ? (await download(checksumSource, 1024 * 1024, config.timeout_ms, 'checksum_url')).toString('utf8')
        : readChecksumFile(localPath(checksumSource));
      const name = basename(isUrl(source) ? new URL(source).pathname : localPath(source));
      const expected = checksumFor(text, name);
      if (!expected) throw fail(`${checksumSource} lists no SHA-256 for ${name}.`, 'checksum_url');
      if (expected !== actual)
        throw fail(
          `${source} does not match ${checksumSource}: expected ${expected}, got ${actual}.`,
          'checksum_url',
        );
      return;
    }
    if (!allowUnverified)
      throw fail(
        `${source} is not verified: pin its SHA-256 (detect.sigma.sigmahq.sha256 or --sha256; this copy's is ${actual}, pin it only after reviewing it) or give a checksum file (checksum_url or --checksum), or pass --allow-unverified.`,
        'sha256',
      );
  }
}

function readChecksumFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw fail(`Cannot read the checksum file ${path}: ${describeError(err)}`, 'checksum_url');
  }
}

/** The manifest of the installed rules, or undefined when none are. */
export function installedManifest(dataDir: string): UpdateManifest | undefined {
  const file = join(sigmaHqDir(dataDir), 'manifest.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as UpdateManifest;
  } catch {
    return undefined;
  }
}
