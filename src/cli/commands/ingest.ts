import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { AppConfig } from '../../app-config.ts';
import { AisocError, isBackpressure } from '../../errors.ts';
import type { IngestOutcome } from '../../pipeline/ingest.ts';
import { openRuntime, type Runtime } from '../../runtime.ts';
import { readInputDocs } from '../../sources/archive.ts';
import { detectDoc } from '../../sources/classify.ts';
import {
  assertFollowable,
  defaultStateFile,
  filePositionStore,
  followFile,
  kvPositionStore,
  linesToRecords,
  lockStateFile,
} from '../../sources/follow.ts';
import type { FramedRecord } from '../../sources/framing.ts';
import { frameBody } from '../../sources/framing.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { expandInputs } from '../../sources/inputs.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, progress, say } from '../common.ts';
import { sendIngest, serverBase } from '../remote.ts';

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

function emptySummary(): IngestSummary {
  return {
    files: 0,
    events: 0,
    new_events: 0,
    duplicates: 0,
    dead_letters: 0,
    skipped: 0,
    by_source: {},
    errors: [],
  };
}

/** Count one acknowledged batch into the summary; returns the events it accepted (new or already stored). */
function countOutcome(summary: IngestSummary, source: string, outcome: IngestOutcome): number {
  const accepted = outcome.stored + outcome.duplicates;
  summary.events += accepted;
  summary.new_events += outcome.stored;
  summary.duplicates += outcome.duplicates;
  summary.dead_letters += outcome.dead_letters;
  summary.skipped += outcome.skipped;
  summary.by_source[source] = (summary.by_source[source] ?? 0) + accepted;
  return accepted;
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
          if (isBackpressure(err)) {
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

/** Sends to a running server over HTTP (gzip NDJSON), honouring 429 and 503 Retry-After. */
function httpSender(url: string, key: string): Sender {
  const base = serverBase(url);
  return {
    async send(source, records) {
      const body = gzipSync(
        Buffer.from(
          records.map((r) => (typeof r.value === 'string' ? r.value : JSON.stringify(r.value))).join('\n'),
        ),
      );
      return sendIngest(base, key, source, body, {
        'content-type': 'application/x-ndjson',
        'content-encoding': 'gzip',
      });
    },
    async close() {},
  };
}

interface FollowContext {
  config: AppConfig;
  registry: SourceRegistry;
  logger: Logger;
  key: string | undefined;
}

/**
 * `ingest --follow FILE`: tail one file into the local store or a server
 * until SIGINT/SIGTERM. The position is saved after each acknowledged
 * batch: in the store beside the events when local, in a state file (locked
 * against a second follower) when sending to a server.
 */
async function followOne(
  files: string[],
  opts: { source?: string; url?: string; batch: number; json?: boolean; state?: string; fromEnd?: boolean },
  ctx: FollowContext,
): Promise<void> {
  if (files.length !== 1 || /[*?[\]{}]/.test(files[0]!))
    throw new AisocError('AISOC_ERR_VALIDATION', '--follow takes exactly one file (not a glob)', {
      field: 'files',
    });
  const path = resolve(files[0]!);
  let source = opts.source;
  if (source) assertFollowable(ctx.registry.get(source));
  const runtime = opts.url ? undefined : await openRuntime(ctx.config, { logger: ctx.logger });
  const sender = runtime ? localSender(runtime) : httpSender(opts.url!, ctx.key!);
  const stateFile = opts.state ?? (runtime ? undefined : defaultStateFile(ctx.config.data_dir, path));
  const release = stateFile ? await lockStateFile(stateFile) : undefined;
  const store = stateFile ? filePositionStore(stateFile) : kvPositionStore(runtime!.store.kv, path);
  const summary = emptySummary();
  summary.files = 1;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (!opts.json) say(`Following ${path} (position in ${store.where}); Ctrl-C stops.`);
  let stats: Awaited<ReturnType<typeof followFile>>;
  try {
    stats = await followFile({
      path,
      store,
      batchLines: opts.batch,
      fromEnd: opts.fromEnd,
      signal: stop.signal,
      logger: ctx.logger,
      send: async (lines) => {
        if (!source) {
          const detected = detectDoc({ name: path, text: lines.join('\n') }, ctx.registry);
          if (detected.source === undefined)
            throw new AisocError(
              'AISOC_ERR_VALIDATION',
              `Cannot tell the source of ${path} from its first lines (${detected.reason}); pass --source`,
              { field: 'source' },
            );
          source = detected.source;
          assertFollowable(ctx.registry.get(source));
          if (!opts.json) say(`Detected source: ${source}`);
        }
        const outcome = await sender.send(source, linesToRecords(ctx.registry.get(source), lines));
        const accepted = countOutcome(summary, source, outcome);
        if (!opts.json)
          say(`  +${accepted} events (${outcome.dead_letters} dead letters); ${summary.events} in all`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sender.close();
    await release?.();
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, follow: stats })}\n`);
  } else {
    say(
      `Stopped following ${path}: ${summary.events} events (${summary.new_events} new), ${summary.dead_letters} dead letters; ${stats.rotations} rotations, ${stats.truncations} truncations, ${stats.dropped_lines} lines dropped.`,
    );
  }
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
    .option(
      '-f, --follow',
      'tail one growing file (Suricata eve.json, Wazuh alerts.json) until interrupted: survives rotation and truncation, and resumes from its stored position',
    )
    .option('--state <file>', 'with --follow: where the position is kept (default: the data directory)')
    .option('--from-end', 'with --follow and no stored position: start at the end of the file, not its start')
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
            follow?: boolean;
            state?: string;
            fromEnd?: boolean;
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
          if (opts.follow) {
            await followOne(files, opts, { config, registry, logger, key });
            return;
          }
          const paths = await expandInputs(files);
          const sender = opts.url
            ? httpSender(opts.url, key!)
            : localSender(await openRuntime(config, { logger }));
          const summary = emptySummary();
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
                let source = opts.source;
                if (source === undefined) {
                  const detected = detectDoc(doc, registry);
                  if (detected.source === undefined) {
                    summary.errors.push({ file: doc.name, message: `skipped: ${detected.reason}` });
                    continue;
                  }
                  source = detected.source;
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
                  countOutcome(summary, source, outcome);
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
