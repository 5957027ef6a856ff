import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { AisocError } from '../../errors.ts';
import type { IngestOutcome } from '../../pipeline/ingest.ts';
import { openRuntime, type Runtime } from '../../runtime.ts';
import { detectSource, expandInputs, readInputDocs } from '../../sources/files.ts';
import type { FramedRecord } from '../../sources/framing.ts';
import { frameBody } from '../../sources/framing.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, progress, say } from '../common.ts';

export interface IngestSummary {
  files: number;
  events: number;
  new_events: number;
  duplicates: number;
  dead_letters: number;
  skipped: number;
  by_source: Record<string, number>;
  errors: Array<{ file: string; message: string }>;
}

interface Sender {
  send(source: string, records: FramedRecord[]): Promise<IngestOutcome>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends through the local embedded runtime, waiting politely when the pipeline is full. */
function localSender(runtime: Runtime): Sender {
  return {
    async send(source, records) {
      for (;;) {
        try {
          return await runtime.ingest.ingestFramed(runtime.sources.get(source), records);
        } catch (err) {
          if (err instanceof AisocError && err.code === 'AISOC_ERR_OVERLOADED') {
            await sleep(Math.min(5, err.retryAfterSeconds ?? 1) * 1000);
            continue;
          }
          if (err instanceof AisocError && err.code === 'AISOC_ERR_VALIDATION' && err.details?.outcome) {
            return err.details.outcome as IngestOutcome;
          }
          throw err;
        }
      }
    },
    async close() {
      await runtime.runner.drain(10 * 60_000);
      await runtime.close();
    },
  };
}

/** Sends to a running server over HTTP (gzip NDJSON), honouring 429 Retry-After. */
function httpSender(url: string, key: string): Sender {
  const base = url.replace(/\/+$/, '');
  return {
    async send(source, records) {
      const body = gzipSync(
        Buffer.from(
          records.map((r) => (typeof r.value === 'string' ? r.value : JSON.stringify(r.value))).join('\n'),
        ),
      );
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(`${base}/ingest/${encodeURIComponent(source)}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/x-ndjson',
            'content-encoding': 'gzip',
          },
          body,
        });
        const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
        if (res.status === 202) return json as unknown as IngestOutcome;
        if ((res.status === 429 || res.status === 503) && attempt < 600) {
          await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000);
          continue;
        }
        if (
          res.status === 400 &&
          json.code === 'AISOC_ERR_VALIDATION' &&
          (json.details as Record<string, unknown>)?.outcome
        ) {
          return (json.details as Record<string, unknown>).outcome as IngestOutcome;
        }
        throw new AisocError(
          'AISOC_ERR_INTERNAL',
          `The server answered ${res.status}: ${String(json.message ?? res.statusText)}`,
        );
      }
    },
    async close() {},
  };
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description(
      'Ingest files, directories or globs (.json, NDJSON, .gz, .zip); the source is detected from content unless --source is given',
    )
    .argument('<files...>', 'files, directories or glob patterns')
    .option('-s, --source <type>', 'source type (default: detect per file)')
    .option('--url <url>', 'send to a running server instead of the local data directory')
    .option('--key <key>', 'API key with the ingest scope (env AISOC_API_KEY)')
    .option('--local', 'write to the local data directory (the default without --url)')
    .option('--batch <n>', 'records per request', (v) => Number.parseInt(v, 10), 1000)
    .option('--json', 'print a JSON summary at the end')
    .action(
      action(
        async (
          files: string[],
          opts: {
            source?: string;
            url?: string;
            key?: string;
            local?: boolean;
            batch: number;
            json?: boolean;
          },
          cmd: Command,
        ) => {
          const config = commandConfig(cmd);
          const logger = createLogger({
            level: opts.json ? 'warn' : config.log_level === 'info' ? 'warn' : config.log_level,
            destination: 2,
          });
          const registry = new SourceRegistry(config.sources, logger);
          if (opts.source) registry.get(opts.source);
          if (opts.url && opts.local)
            throw new AisocError('AISOC_ERR_VALIDATION', 'Give either --url or --local, not both', {
              field: 'url',
            });
          const key = opts.key ?? process.env.AISOC_API_KEY;
          if (opts.url && !key)
            throw new AisocError('AISOC_ERR_VALIDATION', '--url needs --key (or AISOC_API_KEY)', {
              field: 'key',
            });
          const paths = await expandInputs(files);
          const sender = opts.url
            ? httpSender(opts.url, key!)
            : localSender(await openRuntime(config, { logger }));
          const summary: IngestSummary = {
            files: 0,
            events: 0,
            new_events: 0,
            duplicates: 0,
            dead_letters: 0,
            skipped: 0,
            by_source: {},
            errors: [],
          };
          const bar = progress(!opts.json && process.stderr.isTTY === true);
          try {
            for (const path of paths) {
              summary.files++;
              let docs: ReturnType<typeof readInputDocs>;
              try {
                docs = readInputDocs(path);
              } catch (err) {
                summary.errors.push({ file: path, message: (err as Error).message });
                continue;
              }
              for (const doc of docs) {
                const source = opts.source ?? detectSource(doc, registry);
                if (!source) {
                  summary.errors.push({
                    file: doc.name,
                    message: 'No source recognises this content; pass --source',
                  });
                  continue;
                }
                let records: FramedRecord[];
                try {
                  records = frameBody(doc.text, registry.get(source).framing);
                } catch (err) {
                  summary.errors.push({ file: doc.name, message: (err as Error).message });
                  continue;
                }
                for (let i = 0; i < records.length; i += opts.batch) {
                  const outcome = await sender.send(source, records.slice(i, i + opts.batch));
                  const accepted = outcome.stored + outcome.duplicates;
                  summary.events += accepted;
                  summary.new_events += outcome.stored;
                  summary.duplicates += outcome.duplicates;
                  summary.dead_letters += outcome.dead_letters;
                  summary.skipped += outcome.skipped;
                  summary.by_source[source] = (summary.by_source[source] ?? 0) + accepted;
                  bar.update(
                    `${summary.files}/${paths.length} files, ${summary.events} events, ${summary.dead_letters} dead letters`,
                  );
                }
              }
            }
          } finally {
            bar.done();
            await sender.close();
          }
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(summary)}\n`);
          } else {
            say(
              `Ingested ${summary.events} events (${summary.new_events} new, ${summary.duplicates} already stored) from ${summary.files} files; ${summary.dead_letters} dead letters, ${summary.skipped} skipped.`,
            );
            for (const [s, n] of Object.entries(summary.by_source)) say(`  ${s}: ${n}`);
            for (const e of summary.errors) say(`  ${e.file}: ${e.message}`);
          }
          if (summary.errors.length > 0 && summary.events === 0) process.exitCode = 1;
        },
      ),
    );
}
