import { z } from 'zod';
import { keysOf } from '../config/sections.ts';
import { ATTACK_DOMAINS } from './attack/model.ts';
import { EMBEDDING_BACKENDS } from './embeddings/index.ts';

/** The latest Enterprise ATT&CK release, STIX 2.1, as MITRE publishes it. */
export const OFFICIAL_ATTACK_URL =
  'https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/enterprise-attack/enterprise-attack.json';
/** The latest Mobile ATT&CK release, STIX 2.1. */
export const OFFICIAL_MOBILE_ATTACK_URL =
  'https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/mobile-attack/mobile-attack.json';
/** The latest ICS ATT&CK release, STIX 2.1. */
export const OFFICIAL_ICS_ATTACK_URL =
  'https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/ics-attack/ics-attack.json';

/** `knowledge.embeddings`: the backend (one of the registry's, `embeddings/index.ts`) and its endpoint. */
export const EmbeddingsConfig = z
  .strictObject({
    backend: z
      .enum(['none', ...keysOf(EMBEDDING_BACKENDS)])
      .default('none')
      .describe(
        'Dense vectors for retrieval: none (lexical BM25 only), openai (any OpenAI-compatible /v1/embeddings) or ollama (/api/embed)',
      ),
    url: z
      .url()
      .optional()
      .describe(
        'Endpoint base URL; default https://api.openai.com/v1 for openai, http://127.0.0.1:11434 for ollama',
      ),
    model: z
      .string()
      .min(1)
      .optional()
      .describe('Embedding model; default text-embedding-3-small (openai) or nomic-embed-text (ollama)'),
    api_key_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .default('AISOC_EMBEDDINGS_API_KEY')
      .describe(
        'Environment variable holding the API key, sent as a Bearer token (keys never go in config files)',
      ),
    dimensions: z
      .number()
      .int()
      .min(1)
      .max(8192)
      .optional()
      .describe('Ask the model for this many dimensions'),
    timeout_ms: z.number().int().min(100).default(30_000).describe('Time allowed for one embeddings request'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(2)
      .describe('Retries of a failed request (network, 429, 5xx)'),
    batch_size: z.number().int().min(1).max(2048).default(64).describe('Texts per embeddings request'),
  })
  .describe('Embeddings endpoint for dense and hybrid retrieval');
export type EmbeddingsConfig = z.infer<typeof EmbeddingsConfig>;

export const HybridConfig = z
  .strictObject({
    rrf_k: z
      .number()
      .min(1)
      .default(60)
      .describe('Reciprocal rank fusion constant: larger flattens the advantage of the first ranks'),
    lexical_weight: z.number().min(0).default(1).describe('Weight of the BM25 ranking in hybrid fusion'),
    dense_weight: z.number().min(0).default(1).describe('Weight of the embedding ranking in hybrid fusion'),
    candidates: z
      .number()
      .int()
      .min(10)
      .max(1000)
      .default(50)
      .describe('Documents taken from each ranking before fusion'),
  })
  .describe('Hybrid (lexical + dense) retrieval');

export const MapperConfig = z
  .strictObject({
    training_files: z
      .array(z.string())
      .default([])
      .describe(
        'Extra labelled text ({text, labels} per line, or a JSON array; TRAM2 exports read as they are) the text→technique mapper learns from beside ATT&CK',
      ),
    threshold: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(
        'Decision threshold of the mapper; default the one chosen on development data (docs/knowledge.md)',
      ),
    max_report_chars: z
      .number()
      .int()
      .min(1000)
      .max(5_000_000)
      .default(200_000)
      .describe(
        'Longest threat report POST /attack/map takes, in characters (about 50 pages at the default); longer is refused with 400 naming report, and a body past four times this with 413',
      ),
  })
  .describe('Text → ATT&CK technique mapper');

export const KnowledgeConfig = z
  .strictObject({
    attack_path: z
      .string()
      .optional()
      .describe(
        'ATT&CK Enterprise STIX bundle (2.0 or 2.1). Default: <cache_dir>/enterprise-attack.json (written by `aisoc kb load`), else ../shared/data/attack/enterprise-attack.json beside the repository when present',
      ),
    attack_url: z
      .url()
      .default(OFFICIAL_ATTACK_URL)
      .describe('Where `aisoc kb load` downloads the bundle from'),
    attack_domains: z
      .array(z.enum(ATTACK_DOMAINS))
      .min(1)
      .default([...ATTACK_DOMAINS])
      .refine((d) => d.includes('enterprise'), 'must include enterprise')
      .describe(
        'ATT&CK matrices to load: enterprise (always), mobile, ics. Mobile and ICS are read as mobile-attack.json and ics-attack.json from the directory of the Enterprise bundle (`aisoc kb load` fetches all three); a missing one is a warning. Alert mapping uses Enterprise only; report mapping all of them',
      ),
    mobile_attack_url: z
      .url()
      .default(OFFICIAL_MOBILE_ATTACK_URL)
      .describe('Where `aisoc kb load` downloads the Mobile ATT&CK bundle from'),
    ics_attack_url: z
      .url()
      .default(OFFICIAL_ICS_ATTACK_URL)
      .describe('Where `aisoc kb load` downloads the ICS ATT&CK bundle from'),
    cache_dir: z
      .string()
      .optional()
      .describe('Download cache; default $XDG_CACHE_HOME/aisoc, else ~/.cache/aisoc'),
    runbook_dirs: z
      .array(z.string())
      .default([])
      .describe('Directories of Markdown runbooks indexed beside the built-in content/runbooks/'),
    cve_files: z
      .array(z.string())
      .default([])
      .describe('NVD CVE JSON 2.0 feed files (plain or .gz) for the cve collection'),
    load: z
      .enum(['background', 'lazy'])
      .default('background')
      .describe(
        'background: servers start loading ATT&CK at once and answer 503 with Retry-After until ready; lazy: load on first use',
      ),
    build_heap_limit_mb: z
      .number()
      .int()
      .min(0)
      .default(256)
      .describe(
        'Heap limit of the thread that builds the ATT&CK index, in MiB (0: none). Enterprise ATT&CK needs about 100; a tighter heap makes garbage collection keep the peak memory of the server down. A build that runs out is retried without the limit, with a warning',
      ),
    cache_index: z
      .boolean()
      .default(true)
      .describe(
        'Keep the built ATT&CK index (documents, BM25, mapper) under <data_dir>/cache/ (or index_cache_dir), keyed by its inputs, so a restart loads it instead of rebuilding',
      ),
    index_cache_dir: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Where the built ATT&CK index is cached instead of <data_dir>/cache/; several data directories (or in-memory runtimes, which cache nothing otherwise) can share it, since each index is keyed by its inputs',
      ),
    persist: z
      .boolean()
      .default(true)
      .describe('Keep embeddings under <data_dir>/knowledge/ so a restart re-embeds only changed documents'),
    default_mode: z
      .enum(['lexical', 'dense', 'hybrid'])
      .optional()
      .describe('Retrieval mode when a request names none; default hybrid with embeddings, lexical without'),
    embeddings: EmbeddingsConfig.default(EmbeddingsConfig.parse({})),
    hybrid: HybridConfig.default(HybridConfig.parse({})),
    mapper: MapperConfig.default(MapperConfig.parse({})),
  })
  .describe('Knowledge base: ATT&CK, runbooks, incidents and CVEs for retrieval and technique mapping');
export type KnowledgeConfig = z.infer<typeof KnowledgeConfig>;
