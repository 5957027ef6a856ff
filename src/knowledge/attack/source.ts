import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PRODUCT_ROOT } from '../../content.ts';
import { AisocError, describeError } from '../../errors.ts';
import { parseAttackBundle } from './load.ts';
import { ATTACK_DOMAINS, type AttackDomain, type AttackKnowledge } from './model.ts';

/** The repository root (or `AISOC_HOME`, see src/content.ts). */
export const REPO_ROOT = PRODUCT_ROOT;

export const BUNDLE_FILE = 'enterprise-attack.json';

/** The file name of a domain's bundle, as MITRE publishes it (`mobile-attack.json`). */
export function bundleFile(domain: AttackDomain): string {
  return `${domain}-attack.json`;
}

/** `$XDG_CACHE_HOME/aisoc`, else `~/.cache/aisoc`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'aisoc') : join(homedir(), '.cache', 'aisoc');
}

export interface AttackPathChoice {
  /** The bundle to read, or undefined when none was found. */
  path?: string;
  /** Where it looked, in order (for the message when nothing is found). */
  tried: string[];
}

/**
 * Which ATT&CK bundle to read: `knowledge.attack_path` when set; else the
 * cached download; else `../shared/data/attack/enterprise-attack.json` beside
 * the repository (or under `AISOC_SHARED_DATA`), where development data lives.
 *
 * @example resolveAttackPath({ cache_dir: '/tmp/c' }).path
 */
export function resolveAttackPath(
  config: { attack_path?: string; cache_dir?: string },
  env: NodeJS.ProcessEnv = process.env,
  repoRoot = REPO_ROOT,
): AttackPathChoice {
  if (config.attack_path) return { path: resolve(config.attack_path), tried: [resolve(config.attack_path)] };
  const candidates = [
    join(config.cache_dir ?? defaultCacheDir(env), BUNDLE_FILE),
    ...(env.AISOC_SHARED_DATA ? [join(env.AISOC_SHARED_DATA, 'attack', BUNDLE_FILE)] : []),
    join(repoRoot, '..', 'shared', 'data', 'attack', BUNDLE_FILE),
  ].map((p) => resolve(p));
  return { path: candidates.find((p) => existsSync(p)), tried: candidates };
}

/** A bundle of one domain to load. */
export interface DomainBundle {
  domain: AttackDomain;
  path: string;
}

/**
 * The bundles to load: Enterprise as {@link resolveAttackPath} finds it,
 * then each other domain of `attack_domains` from the same directory
 * (`mobile-attack.json`, `ics-attack.json`). `missing` names the domains
 * asked for and not found (a warning: Enterprise alone still serves alerts).
 *
 * @example resolveAttackBundles({ attack_domains: ['enterprise', 'mobile'] }).bundles.map((b) => b.domain)
 */
export function resolveAttackBundles(
  config: { attack_path?: string; cache_dir?: string; attack_domains?: readonly AttackDomain[] },
  env: NodeJS.ProcessEnv = process.env,
  repoRoot = REPO_ROOT,
): { bundles: DomainBundle[]; tried: string[]; missing: Array<{ domain: AttackDomain; tried: string[] }> } {
  const enterprise = resolveAttackPath(config, env, repoRoot);
  if (!enterprise.path) return { bundles: [], tried: enterprise.tried, missing: [] };
  const bundles: DomainBundle[] = [{ domain: 'enterprise', path: enterprise.path }];
  const missing: Array<{ domain: AttackDomain; tried: string[] }> = [];
  for (const domain of config.attack_domains ?? ATTACK_DOMAINS) {
    if (domain === 'enterprise') continue;
    // Only beside the Enterprise bundle: the domains of one release stay together (`aisoc kb load` writes
    // all three to the cache; ../shared/data/attack holds all three), never mixed with another release's.
    const path = join(dirname(enterprise.path), bundleFile(domain));
    if (existsSync(path)) bundles.push({ domain, path });
    else missing.push({ domain, tried: [path] });
  }
  return { bundles, tried: enterprise.tried, missing };
}

export interface FetchResult {
  path: string;
  bytes: number;
  attack: AttackKnowledge;
}

/**
 * Fetch a bundle from a URL or copy it from a file into `dest`, after
 * checking it parses as ATT&CK (a bad download never replaces a good cache).
 *
 * @example await fetchAttackBundle(OFFICIAL_ATTACK_URL, join(defaultCacheDir(), BUNDLE_FILE))
 */
export async function fetchAttackBundle(
  source: string,
  dest: string,
  timeoutMs = 120_000,
  domain?: AttackDomain,
): Promise<FetchResult> {
  let text: string;
  if (/^https?:\/\//i.test(source)) {
    let res: Response;
    try {
      res = await fetch(source, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json' },
      });
    } catch (err) {
      throw new AisocError('AISOC_ERR_ATTACK_BUNDLE', `Cannot download ${source}: ${describeError(err)}`, {
        field: 'knowledge.attack_url',
      });
    }
    if (!res.ok)
      throw new AisocError(
        'AISOC_ERR_ATTACK_BUNDLE',
        `Downloading ${source} answered ${res.status} ${res.statusText}.`,
        {
          field: 'knowledge.attack_url',
        },
      );
    text = await res.text();
  } else {
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new AisocError('AISOC_ERR_ATTACK_BUNDLE', `Cannot read ${source}: ${describeError(err)}`, {
        file: source,
        field: 'attack',
      });
    }
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AisocError('AISOC_ERR_ATTACK_BUNDLE', `${source} is not valid JSON: ${describeError(err)}`, {
      file: source,
    });
  }
  const attack = parseAttackBundle(raw, source);
  if (domain) {
    const found = [...attack.techniques.values()][0]?.domain;
    if (found && found !== domain)
      throw new AisocError('AISOC_ERR_ATTACK_BUNDLE', `${source} holds ATT&CK ${found}, not ${domain}.`, {
        file: source,
        field: 'attack',
      });
  }
  mkdirSync(dirname(dest), { recursive: true });
  if (resolve(source) !== resolve(dest)) {
    const tmp = `${dest}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, dest);
  }
  return { path: dest, bytes: Buffer.byteLength(text), attack };
}
