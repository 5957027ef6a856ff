import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { AisocError, describeError } from '../errors.ts';
import type { KnowledgeDocument } from './documents.ts';

/**
 * NVD CVE JSON 2.0 feeds (the API's answer and the yearly/modified feed
 * files share the shape `{format: "NVD_CVE", version: "2.0", vulnerabilities:
 * [{cve: {...}}]}`) → one document per CVE: its English description, CVSS
 * score, weaknesses, affected products and, when CISA lists it as known
 * exploited, that fact.
 */

const LangString = z.object({ lang: z.string(), value: z.string() });
const CvssMetric = z.object({
  source: z.string().optional(),
  type: z.string().optional(),
  cvssData: z.object({
    version: z.string(),
    vectorString: z.string().optional(),
    baseScore: z.number(),
    baseSeverity: z.string().optional(),
  }),
  baseSeverity: z.string().optional(),
});
const Cve = z.object({
  id: z.string().regex(/^CVE-\d{4}-\d{4,}$/, 'must look like CVE-2021-44228'),
  published: z.string().optional(),
  lastModified: z.string().optional(),
  vulnStatus: z.string().optional(),
  descriptions: z.array(LangString).min(1, 'must hold at least one description'),
  metrics: z
    .object({
      cvssMetricV40: z.array(CvssMetric).optional(),
      cvssMetricV31: z.array(CvssMetric).optional(),
      cvssMetricV30: z.array(CvssMetric).optional(),
      cvssMetricV2: z.array(CvssMetric).optional(),
    })
    .optional(),
  weaknesses: z.array(z.object({ description: z.array(LangString) })).optional(),
  configurations: z
    .array(
      z.object({
        nodes: z.array(
          z.object({
            cpeMatch: z.array(z.object({ vulnerable: z.boolean(), criteria: z.string() })).optional(),
          }),
        ),
      }),
    )
    .optional(),
  cisaExploitAdd: z.string().optional(),
  cisaRequiredAction: z.string().optional(),
  cisaVulnerabilityName: z.string().optional(),
});
const Feed = z.object({
  format: z.literal('NVD_CVE', { message: 'must be "NVD_CVE" (an NVD CVE JSON 2.0 feed)' }).optional(),
  version: z.string().optional(),
  vulnerabilities: z.array(z.unknown(), { message: 'must be an array of {cve: …} records' }),
});

export interface CveLoad {
  documents: KnowledgeDocument[];
  /** Rejected CVEs, left out. */
  rejected: number;
  /** Records that did not parse, with the field at fault (first 20). */
  invalid: Array<{ index: number; field: string; message: string }>;
}

/** `cpe:2.3:a:apache:log4j:2.14.1:…` → `apache log4j` */
function product(cpe: string): string | undefined {
  const p = cpe.split(':');
  if (p.length < 5) return undefined;
  return `${p[3]} ${p[4]}`.replace(/_/g, ' ');
}

/**
 * Parse a feed's JSON into documents.
 *
 * @example parseNvdFeed(JSON.parse(text), 'nvdcve-2.0-2021.json').documents[0]?.id // 'CVE-2021-44228'
 */
export function parseNvdFeed(raw: unknown, origin: string): CveLoad {
  const feed = Feed.safeParse(raw);
  if (!feed.success) {
    const issue = feed.error.issues[0];
    const field = issue?.path.join('.') || 'vulnerabilities';
    throw new AisocError('AISOC_ERR_PARSE', `${origin}: ${field} ${issue?.message ?? 'is invalid'}`, {
      file: origin,
      field,
    });
  }
  if (feed.data.version && !feed.data.version.startsWith('2.'))
    throw new AisocError(
      'AISOC_ERR_PARSE',
      `${origin}: version ${feed.data.version} is not supported; use an NVD CVE JSON 2.0 feed`,
      { file: origin, field: 'version' },
    );
  const out: CveLoad = { documents: [], rejected: 0, invalid: [] };
  feed.data.vulnerabilities.forEach((v, index) => {
    const r = Cve.safeParse((v as { cve?: unknown } | null)?.cve);
    if (!r.success) {
      const issue = r.error.issues[0];
      if (out.invalid.length < 20)
        out.invalid.push({
          index,
          field: `vulnerabilities[${index}].cve.${issue?.path.join('.') ?? ''}`,
          message: issue?.message ?? 'invalid',
        });
      return;
    }
    const c = r.data;
    if (c.vulnStatus === 'Rejected') {
      out.rejected++;
      return;
    }
    const description = (c.descriptions.find((d) => d.lang === 'en') ?? c.descriptions[0]!).value.trim();
    const m = c.metrics;
    const metric = [m?.cvssMetricV40, m?.cvssMetricV31, m?.cvssMetricV30, m?.cvssMetricV2]
      .map((list) => list?.find((x) => x.type === 'Primary') ?? list?.[0])
      .find(Boolean);
    const cwes = [
      ...new Set(
        (c.weaknesses ?? [])
          .flatMap((w) => w.description.map((d) => d.value))
          .filter((x) => x.startsWith('CWE-')),
      ),
    ];
    const products = [
      ...new Set(
        (c.configurations ?? [])
          .flatMap((cfg) => cfg.nodes.flatMap((n) => n.cpeMatch ?? []))
          .filter((x) => x.vulnerable)
          .map((x) => product(x.criteria))
          .filter((x): x is string => Boolean(x)),
      ),
    ].slice(0, 20);
    const severity = metric?.cvssData.baseSeverity ?? metric?.baseSeverity;
    const score = metric
      ? `CVSS ${metric.cvssData.version} ${metric.cvssData.baseScore}${severity ? ` ${severity}` : ''}`
      : 'no CVSS score';
    const lines = [`${c.id} (${[score, ...cwes].join(', ')})`, '', description];
    if (products.length) lines.push('', `Affected products: ${products.join(', ')}.`);
    if (c.cisaExploitAdd)
      lines.push(
        '',
        `Known exploited (CISA KEV, added ${c.cisaExploitAdd})${c.cisaRequiredAction ? `: ${c.cisaRequiredAction}` : '.'}`,
      );
    const metadata: KnowledgeDocument['metadata'] = {
      kind: 'cve',
      cve_id: c.id,
      cwes,
      products,
      known_exploited: Boolean(c.cisaExploitAdd),
      url: `https://nvd.nist.gov/vuln/detail/${c.id}`,
    };
    if (metric) {
      metadata.cvss_version = metric.cvssData.version;
      metadata.cvss_score = metric.cvssData.baseScore;
      if (severity) metadata.cvss_severity = severity;
      if (metric.cvssData.vectorString) metadata.cvss_vector = metric.cvssData.vectorString;
    }
    if (c.published) metadata.published = c.published;
    if (c.lastModified) metadata.last_modified = c.lastModified;
    out.documents.push({
      id: c.id,
      title: `${c.id} ${c.cisaVulnerabilityName ?? products.slice(0, 3).join(', ')}`.trim(),
      text: lines.join('\n'),
      metadata,
    });
  });
  return out;
}

/**
 * Read an NVD CVE JSON 2.0 feed file, plain or gzip-compressed.
 *
 * @example readNvdFeed('nvdcve-2.0-modified.json.gz').documents.length
 */
export function readNvdFeed(file: string): CveLoad {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
    if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  } catch (err) {
    throw new AisocError('AISOC_ERR_PARSE', `Cannot read the CVE feed ${file}: ${describeError(err)}`, {
      file,
      field: 'knowledge.cve_files',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new AisocError('AISOC_ERR_BAD_JSON', `${file} is not valid JSON: ${describeError(err)}`, { file });
  }
  return parseNvdFeed(raw, file);
}
