import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { AisocError, describeError } from '../../errors.ts';
import { ATTACK_DOMAINS, type AttackDomain, attackLabel } from '../../knowledge/attack/model.ts';
import {
  BUNDLE_FILE,
  bundleFile,
  defaultCacheDir,
  fetchAttackBundle,
} from '../../knowledge/attack/source.ts';
import { KnowledgeBase, type RetrievalMode } from '../../knowledge/kb.ts';
import type { LabelledText } from '../../knowledge/mapper/corpus.ts';
import { annoctrToLabelled, ctiAteToLabelled, readLabelled } from '../../knowledge/mapper/datasets.ts';
import { action, commandConfig, say } from '../common.ts';

function writeOut(text: string, file?: string): void {
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
}

/** `enterprise,mobile` → the domains, Enterprise always first; an unknown name is an error naming `--domains`. */
export function parseDomains(list: string): AttackDomain[] {
  const names = list
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  for (const n of names)
    if (!(ATTACK_DOMAINS as readonly string[]).includes(n))
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `--domains: ${n} is not an ATT&CK domain (${ATTACK_DOMAINS.join(', ')})`,
        { field: 'domains' },
      );
  return [...new Set<AttackDomain>(['enterprise', ...(names as AttackDomain[])])];
}

/** `aisoc kb …`: fetch ATT&CK, inspect and query the knowledge base, convert evaluation data. */
export function registerKb(program: Command): void {
  const kb = program
    .command('kb')
    .description('Knowledge base: ATT&CK, runbooks, incidents, CVEs; retrieval and technique mapping');

  kb.command('load')
    .description(
      'Fetch the ATT&CK bundles (Enterprise, Mobile, ICS; default: the official downloads) into the cache, check them, and time a full load and index',
    )
    .option(
      '--attack <file-or-url>',
      'the Enterprise STIX 2.0/2.1 bundle, a file or URL (default knowledge.attack_url)',
    )
    .option(
      '--mobile <file-or-url>',
      'the Mobile bundle (default: mobile-attack.json beside a local --attack file, else knowledge.mobile_attack_url)',
    )
    .option(
      '--ics <file-or-url>',
      'the ICS bundle (default: ics-attack.json beside a local --attack file, else knowledge.ics_attack_url)',
    )
    .option('--domains <list>', 'comma-separated domains to fetch (default knowledge.attack_domains)')
    .option('--json', 'print a JSON summary')
    .action(
      action(
        async (
          opts: { attack?: string; mobile?: string; ics?: string; domains?: string; json?: boolean },
          cmd: Command,
        ) => {
          const config = commandConfig(cmd, { log_level: 'silent' });
          const domains = opts.domains
            ? parseDomains(opts.domains)
            : [...new Set<AttackDomain>(['enterprise', ...config.knowledge.attack_domains])];
          const cacheDir = config.knowledge.cache_dir ?? defaultCacheDir();
          const localAttack = opts.attack && !/^https?:/i.test(opts.attack) ? opts.attack : undefined;
          const sourceOf = (domain: AttackDomain): string => {
            if (domain === 'enterprise') return opts.attack ?? config.knowledge.attack_url;
            const given = domain === 'mobile' ? opts.mobile : opts.ics;
            if (given) return given;
            // Beside a local Enterprise file (offline use): a URL would need the network the user avoided.
            if (localAttack) return join(dirname(localAttack), bundleFile(domain));
            return domain === 'mobile' ? config.knowledge.mobile_attack_url : config.knowledge.ics_attack_url;
          };
          const fetched: Array<{ domain: AttackDomain } & Awaited<ReturnType<typeof fetchAttackBundle>>> = [];
          for (const domain of domains) {
            const source = sourceOf(domain);
            const dest = join(cacheDir, bundleFile(domain));
            if (!opts.json) say(`Fetching ${domain} ATT&CK from ${source} …`);
            try {
              fetched.push({ domain, ...(await fetchAttackBundle(source, dest, 120_000, domain)) });
            } catch (err) {
              if (/^https?:/i.test(source) && !opts.attack)
                throw new AisocError(
                  'AISOC_ERR_ATTACK_BUNDLE',
                  `${describeError(err)} Offline? Pass local bundles: aisoc kb load --attack ../shared/data/attack/enterprise-attack.json (mobile-attack.json and ics-attack.json are read from beside it)`,
                );
              throw err;
            }
          }
          const dest = join(cacheDir, BUNDLE_FILE);
          // Time what a server does at start-up with these bundles: parse, index every document, fit the mapper.
          const t0 = performance.now();
          const base = new KnowledgeBase({
            config: {
              ...config.knowledge,
              attack_path: dest,
              attack_domains: domains,
              embeddings: { ...config.knowledge.embeddings, backend: 'none' },
            },
          });
          await base.ready();
          const loadMs = Math.round(performance.now() - t0);
          const status = base.status();
          await base.close();
          const a = fetched[0]!.attack;
          const summary = {
            path: fetched[0]!.path,
            bytes: fetched[0]!.bytes,
            attack: attackLabel(a),
            stix_version: a.stix_version,
            techniques: a.techniques.size,
            subtechniques: [...a.techniques.values()].filter((t) => t.is_subtechnique).length,
            procedures: a.procedures.length,
            mitigations: a.mitigations.size,
            detection_strategies: a.detection_strategies.size,
            groups_software_campaigns: a.actors.size,
            skipped_revoked_or_deprecated: a.stats.skipped_revoked_or_deprecated,
            skipped_invalid: a.stats.skipped_invalid,
            domains: fetched.map((f) => ({
              domain: f.domain,
              path: f.path,
              bytes: f.bytes,
              attack: attackLabel(f.attack),
              techniques: f.attack.techniques.size,
            })),
            load_and_index_ms: loadMs,
            documents: status.collections.find((c) => c.name === 'mitre_attack')?.documents ?? 0,
            heap_mib: Math.round(process.memoryUsage().heapUsed / 1048576),
          };
          if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
          else {
            say(`Saved ${summary.attack} (STIX ${summary.stix_version}) to ${summary.path}.`);
            say(
              `${summary.techniques} techniques (${summary.subtechniques} sub-techniques), ${summary.procedures} procedure examples, ${summary.mitigations} mitigations, ${summary.detection_strategies} detection strategies, ${summary.groups_software_campaigns} groups, software and campaigns; ${summary.skipped_revoked_or_deprecated} revoked or deprecated objects skipped.`,
            );
            for (const d of summary.domains.slice(1))
              say(`Saved ${d.domain} ${d.attack} (${d.techniques} techniques) to ${d.path}.`);
            say(`Loading and indexing ${summary.documents} documents took ${summary.load_and_index_ms} ms.`);
          }
        },
      ),
    );

  kb.command('status')
    .description('Load the knowledge base as a server would and print its collections, sizes and load time')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const config = commandConfig(cmd, { log_level: 'silent' });
        const base = new KnowledgeBase({ config: config.knowledge });
        await base.ready();
        process.stdout.write(`${JSON.stringify(base.status(), null, 2)}\n`);
        await base.close();
      }),
    );

  kb.command('search')
    .description('Retrieve from a collection, as POST /retrieve does')
    .argument('<query...>', 'what to look for')
    .option('--collection <name>', 'collection', 'mitre_attack')
    .option('-k, --top-k <n>', 'results (1–10)', (v) => Number.parseInt(v, 10), 5)
    .option('--mode <mode>', 'lexical, dense or hybrid')
    .option('--min-similarity <x>', 'drop results below this similarity', Number.parseFloat)
    .option('--json', 'print the JSON answer')
    .action(
      action(
        async (
          words: string[],
          opts: {
            collection: string;
            topK: number;
            mode?: RetrievalMode;
            minSimilarity?: number;
            json?: boolean;
          },
          cmd: Command,
        ) => {
          const config = commandConfig(cmd, { log_level: 'silent' });
          const base = new KnowledgeBase({ config: config.knowledge });
          await base.ready();
          await base.embeddingsSettled();
          const r = await base.retrieve({
            query: words.join(' '),
            collection: opts.collection,
            top_k: opts.topK,
            mode: opts.mode,
            min_similarity: opts.minSimilarity,
          });
          if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
          else {
            for (const h of r.results) say(`${h.similarity_score.toFixed(3)}  ${h.title}`);
            for (const w of r.warnings) say(`warning: ${w}`);
          }
          await base.close();
        },
      ),
    );

  kb.command('map')
    .description(
      'Map free text to ATT&CK techniques, with the evidence that matched; or a whole report (--report FILE), sentence by sentence',
    )
    .argument('[text...]', 'an alert description, a log line, a report sentence')
    .option('-k, --top-k <n>', 'techniques at most', (v) => Number.parseInt(v, 10), 5)
    .option('--all', 'show the ranking without the decision threshold')
    .option('--report <file>', 'map a whole threat report (plain text) instead of the text given')
    .option('--domains <list>', 'ATT&CK domains to map to (default: every domain loaded)')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          words: string[],
          opts: { topK: number; all?: boolean; report?: string; domains?: string; json?: boolean },
          cmd: Command,
        ) => {
          const config = commandConfig(cmd, { log_level: 'silent' });
          const domains = opts.domains ? parseDomains(opts.domains) : undefined;
          if (!opts.report && words.length === 0)
            throw new AisocError('AISOC_ERR_VALIDATION', 'Give a text to map, or --report FILE.', {
              field: 'text',
            });
          const base = new KnowledgeBase({ config: config.knowledge });
          try {
            if (opts.report) {
              let text: string;
              try {
                text = readFileSync(opts.report, 'utf8');
              } catch (err) {
                throw new AisocError(
                  'AISOC_ERR_VALIDATION',
                  `Cannot read ${opts.report}: ${describeError(err)}`,
                  {
                    field: 'report',
                  },
                );
              }
              const r = await base.mapReport(text, domains ? { domains } : {});
              if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
              else if (r.techniques.length === 0)
                say(`No technique reaches the report threshold in ${r.sentences} sentences.`);
              else
                for (const t of r.techniques) {
                  say(
                    `${t.score.toFixed(3)}  ${t.technique_id}  ${t.name} (${t.domain}, ${t.support} sentences)`,
                  );
                  for (const e of t.evidence) say(`         S${e.sentence + 1}: ${e.text.slice(0, 140)}`);
                }
              return;
            }
            const matches = await base.mapTextToTechniques(words.join(' '), {
              topK: opts.topK,
              ...(opts.all ? { threshold: 0 } : {}),
              ...(domains ? { domains } : {}),
            });
            if (opts.json) process.stdout.write(`${JSON.stringify(matches)}\n`);
            else if (matches.length === 0) say('No technique reaches the decision threshold (try --all).');
            else
              for (const m of matches) {
                say(`${m.score.toFixed(3)}  ${m.technique_id}  ${m.name}`);
                for (const e of m.evidence) say(`         ${e.kind} ${e.source_id}: ${e.text.slice(0, 140)}`);
              }
          } finally {
            await base.close();
          }
        },
      ),
    );

  kb.command('convert')
    .description('Convert labelled data to the evaluation format ({"text", "labels", "doc"} per line)')
    .requiredOption(
      '--format <format>',
      'annoctr (entity mentions → technique sentences), annoctr-reports (every sentence with a mention, labelled with its techniques or none: the reports for `eval attack-mapping --reports`), tram (TRAM2 JSON/JSONL) or cti-ate (CTI-Bench TSV)',
    )
    .argument('<file>', 'input file')
    .option('-o, --out <file>', 'output file (default stdout)')
    .action(
      action(async (file: string, opts: { format: string; out?: string }) => {
        let items: LabelledText[];
        if (opts.format === 'annoctr') items = annoctrToLabelled(readFileSync(file, 'utf8'), file);
        else if (opts.format === 'annoctr-reports')
          items = annoctrToLabelled(readFileSync(file, 'utf8'), file, { allMentions: true });
        else if (opts.format === 'tram') items = readLabelled(file);
        else if (opts.format === 'cti-ate') items = ctiAteToLabelled(readFileSync(file, 'utf8'), file);
        else
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `--format must be annoctr, annoctr-reports, tram or cti-ate, not ${opts.format}`,
            {
              field: 'format',
            },
          );
        writeOut(items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : ''), opts.out);
        if (opts.out) say(`Wrote ${items.length} labelled texts to ${opts.out}.`);
      }),
    );
}
