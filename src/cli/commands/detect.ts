import { basename } from 'node:path';
import type { Command } from 'commander';
import { buildSigma, type SigmaMatch } from '../../detect/sigma/index.ts';
import { formatIssue } from '../../detect/sigma/issues.ts';
import { splitJsonValues } from '../../detect/sigma/json-values.ts';
import type { AlertCandidate, Detector } from '../../detect/types.ts';
import { upstreamDetector } from '../../detect/upstream.ts';
import { AisocError, describeError } from '../../errors.ts';
import { SEVERITY_ORDER, type SeverityName, severityRank } from '../../schema/common.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { type InputDoc, readInputDocs } from '../../sources/archive.ts';
import { detectDoc } from '../../sources/classify.ts';
import { type FramedRecord, frameBody } from '../../sources/framing.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { expandInputs } from '../../sources/inputs.ts';
import { normaliseRecords } from '../../sources/normalise.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, progress, say } from '../common.ts';

/** One event of an alert, by the id its source gives it. */
export interface AlertEventRef {
  source: string;
  /** The source's own id: CloudTrail eventID, Windows EventRecordID, Zeek uid, Suricata flow_id:type:timestamp. */
  id: string | null;
  time: string;
  /** Network flow id (Suricata flow_id, Zeek uid) when the event has one. */
  flow_id?: string;
  host?: string;
}

/** One line of `aisoc detect` output. */
export interface DetectLine {
  rule: { id: string; title: string; level: SeverityName; tags: string[]; engine: 'sigma' | 'upstream' };
  time: string;
  events: AlertEventRef[];
  /** File (or archive entry) the events came from. */
  file: string;
  /** Correlations: the group that fired and the count that met the condition. */
  group?: Record<string, string>;
  count?: number;
}

function eventRef(e: NormalisedEvent): AlertEventRef {
  const ref: AlertEventRef = { source: e.source, id: e.source_event_id ?? null, time: e.time };
  if (e.network?.flow_uid) ref.flow_id = e.network.flow_uid;
  if (e.device?.hostname) ref.host = e.device.hostname;
  return ref;
}

function byTime(a: NormalisedEvent, b: NormalisedEvent): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
}

const BATCH = 5000;

interface Summary {
  files: number;
  documents: number;
  events: number;
  bad_records: number;
  skipped_records: number;
  alerts: number;
  detector_errors: number;
  by_level: Record<string, number>;
  by_rule: Map<string, number>;
  by_source: Record<string, number>;
  errors: Array<{ file: string; message: string }>;
}

function tableLine(l: DetectLine): string {
  const first = l.events[0];
  const ev = first
    ? `${first.source}:${first.id ?? '-'}${l.events.length > 1 ? ` +${l.events.length - 1}` : ''}`
    : '';
  const title = l.rule.title.length > 60 ? `${l.rule.title.slice(0, 57)}...` : l.rule.title;
  return `${l.time.slice(0, 19).padEnd(19)}  ${l.rule.level.padEnd(13)}  ${title.padEnd(60)}  ${ev.padEnd(48)}  ${basename(l.file)}`;
}

/**
 * The source of a document: by content, as ingestion detects it, and for
 * concatenated pretty-printed JSON (which line sniffing cannot read) by the
 * first values.
 */
function sourceOf(doc: InputDoc, registry: SourceRegistry): { type?: string; reason?: string } {
  const found = detectDoc(doc, registry);
  if (found.source !== undefined) return { type: found.source };
  const values = splitJsonValues(doc.text.length > 8 * 1024 * 1024 ? '' : doc.text);
  const type = values?.length ? registry.sniff(values[0])?.type : undefined;
  return type ? { type } : { reason: found.reason };
}

/**
 * Run a detector over a chunk without letting one bad event stop the scan:
 * when the chunk fails, events are retried one by one and the failing ones
 * counted and skipped.
 */
async function isolated(
  detector: Detector,
  events: NormalisedEvent[],
  onError: (err: unknown) => void,
): Promise<AlertCandidate[]> {
  try {
    return await detector.detect(events);
  } catch {
    const out: AlertCandidate[] = [];
    for (const e of events) {
      try {
        out.push(...(await detector.detect([e])));
      } catch (err) {
        onError(err);
      }
    }
    return out;
  }
}

/** Frame a document for a source, falling back to concatenated JSON values (EVTX converters write those). */
function frame(doc: InputDoc, framing: Parameters<typeof frameBody>[1]): FramedRecord[] {
  try {
    return frameBody(doc.text, framing);
  } catch (err) {
    const values = framing === 'json' ? splitJsonValues(doc.text) : undefined;
    if (values) return values.map((value) => ({ value }));
    throw err;
  }
}

export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description(
      'Hunt offline: scan files with the Sigma rules (built-in pack plus --rules) and upstream verdicts, without a server or database; one JSON line per alert on stdout, a summary on stderr',
    )
    .argument('<files...>', 'files, directories or glob patterns (.json, NDJSON, logs, .gz, .zip)')
    .option(
      '-r, --rules <dir>',
      'more rule files or directories (repeatable)',
      (v, prev: string[]) => [...prev, v],
      [],
    )
    .option('-s, --source <type>', 'source type of every file (default: detected per file)')
    .option('--format <format>', 'json (one line per alert) or table', 'json')
    .option('--no-builtin', 'do not load the built-in rule pack')
    .option(
      '--no-upstream',
      'do not pass through verdicts of the source product (Suricata, Wazuh, GuardDuty)',
    )
    .option('--min-level <level>', 'least level reported (default: detect.sigma.min_level)')
    .action(
      action(
        async (
          files: string[],
          opts: {
            rules: string[];
            source?: string;
            format: string;
            builtin: boolean;
            upstream: boolean;
            minLevel?: string;
          },
          cmd: Command,
        ) => {
          if (opts.format !== 'json' && opts.format !== 'table') {
            throw new AisocError('AISOC_ERR_VALIDATION', '--format must be json or table', {
              field: 'format',
            });
          }
          const config = commandConfig(cmd);
          const minLevel = (opts.minLevel ?? config.detect.sigma.min_level) as SeverityName;
          if (!SEVERITY_ORDER.includes(minLevel)) {
            throw new AisocError(
              'AISOC_ERR_VALIDATION',
              `--min-level must be one of ${SEVERITY_ORDER.join(', ')}`,
              {
                field: 'min-level',
              },
            );
          }
          const registry = new SourceRegistry(config.sources, silentLogger());
          if (opts.source) registry.get(opts.source);
          const paths = await expandInputs(files);
          const t0 = performance.now();
          const { engine, ruleSet } = buildSigma(config.detect.sigma, {
            ruleDirs: opts.rules,
            builtin: opts.builtin,
          });
          const stats = ruleSet.stats();
          const problems = ruleSet.issues.filter((i) => i.kind !== 'warning');
          for (const i of problems.slice(0, 20)) say(`rules: ${formatIssue(i)}`);
          if (problems.length > 20)
            say(`rules: … and ${problems.length - 20} more (aisoc rules lint shows them all)`);
          say(
            `Loaded ${stats.detection} Sigma rules and ${stats.correlation} correlations (${stats.runnable} run on our sources; ${stats.invalid} invalid, ${stats.unsupported} unsupported) in ${Math.round(performance.now() - t0)} ms.`,
          );
          const upstream = opts.upstream ? upstreamDetector({ minSeverity: minLevel }) : undefined;
          const min = severityRank(minLevel);
          const summary: Summary = {
            files: 0,
            documents: 0,
            events: 0,
            bad_records: 0,
            skipped_records: 0,
            alerts: 0,
            detector_errors: 0,
            by_level: {},
            by_rule: new Map(),
            by_source: {},
            errors: [],
          };
          const out = (line: DetectLine) => {
            summary.alerts++;
            summary.by_level[line.rule.level] = (summary.by_level[line.rule.level] ?? 0) + 1;
            const key = `${line.rule.level} ${line.rule.title}`;
            summary.by_rule.set(key, (summary.by_rule.get(key) ?? 0) + 1);
            process.stdout.write(`${opts.format === 'table' ? tableLine(line) : JSON.stringify(line)}\n`);
          };
          const emitSigma = (m: SigmaMatch, file: string) => {
            if (severityRank(m.rule.level) < min) return;
            const line: DetectLine = {
              rule: {
                id: m.rule.id,
                title: m.rule.title,
                level: m.rule.level,
                tags: m.rule.tags,
                engine: 'sigma',
              },
              time: m.time,
              events: m.events.map(eventRef),
              file,
            };
            if (m.group) line.group = m.group;
            if (m.count !== undefined) line.count = m.count;
            out(line);
          };
          const emitUpstream = (c: AlertCandidate, file: string) => {
            const d = c.detection;
            out({
              rule: { id: d.rule_id, title: d.rule_title, level: d.level, tags: d.tags, engine: 'upstream' },
              time: c.events[c.events.length - 1]?.time ?? '',
              events: c.events.map(eventRef),
              file,
            });
          };
          if (opts.format === 'table') {
            process.stdout.write(
              `${'TIME'.padEnd(19)}  ${'LEVEL'.padEnd(13)}  ${'RULE'.padEnd(60)}  ${'EVENTS'.padEnd(48)}  FILE\n`,
            );
          }
          const bar = progress();
          const now = new Date().toISOString();
          let lastFile = '';
          for (const path of paths) {
            summary.files++;
            let docs: InputDoc[];
            try {
              docs = readInputDocs(path);
            } catch (err) {
              summary.errors.push({ file: path, message: describeError(err) });
              continue;
            }
            for (const doc of docs) {
              summary.documents++;
              lastFile = doc.name;
              const detected = opts.source ? { type: opts.source } : sourceOf(doc, registry);
              const type = detected.type;
              if (!type) {
                summary.errors.push({
                  file: doc.name,
                  message: `skipped: ${detected.reason ?? 'no source recognises this content'}`,
                });
                continue;
              }
              let events: NormalisedEvent[];
              try {
                const source = registry.get(type);
                const n = normaliseRecords(source, frame(doc, source.framing), now);
                summary.bad_records += n.deadLetters.length;
                summary.skipped_records += n.skipped;
                if (n.deadLetters.length > 0 && n.events.length === 0) {
                  summary.errors.push({
                    file: doc.name,
                    message:
                      `no record reads as ${type}: ${n.errors[0]?.at ?? ''} ${n.errors[0]?.message ?? ''}`.trim(),
                  });
                }
                events = n.events.sort(byTime);
              } catch (err) {
                summary.errors.push({ file: doc.name, message: describeError(err) });
                continue;
              }
              summary.events += events.length;
              summary.by_source[type] = (summary.by_source[type] ?? 0) + events.length;
              for (let i = 0; i < events.length; i += BATCH) {
                const chunk = events.slice(i, i + BATCH);
                for (const m of engine.process(chunk)) emitSigma(m, doc.name);
                if (upstream) {
                  const found = await isolated(upstream, chunk, (err) => {
                    summary.detector_errors++;
                    if (summary.detector_errors === 1)
                      say(`upstream detector failed on an event (skipped): ${describeError(err)}`);
                  });
                  for (const c of found) emitUpstream(c, doc.name);
                }
                bar.update(
                  `${summary.files}/${paths.length} files, ${summary.events} events, ${summary.alerts} alerts`,
                );
              }
              for (const m of engine.expire()) emitSigma(m, doc.name);
            }
          }
          for (const m of engine.flush()) emitSigma(m, lastFile);
          bar.done();
          const seconds = (performance.now() - t0) / 1000;
          const levels = SEVERITY_ORDER.filter((l) => summary.by_level[l])
            .reverse()
            .map((l) => `${summary.by_level[l]} ${l}`)
            .join(', ');
          say(
            `Scanned ${summary.files} files (${summary.documents} documents): ${summary.events} events, ${summary.bad_records} bad records, ${summary.skipped_records} skipped, in ${seconds.toFixed(1)} s; ${summary.alerts} alerts${levels ? ` (${levels})` : ''}.`,
          );
          for (const [s, n] of Object.entries(summary.by_source)) say(`  ${s}: ${n} events`);
          const top = [...summary.by_rule].sort((a, b) => b[1] - a[1]).slice(0, 15);
          for (const [rule, n] of top) say(`  ${String(n).padStart(6)}  ${rule}`);
          if (engine.stats.errors > 0)
            say(`  ${engine.stats.errors} rule evaluations failed on bad events (skipped).`);
          if (summary.detector_errors > 0)
            say(`  ${summary.detector_errors} events made the upstream detector fail (skipped).`);
          for (const e of summary.errors.slice(0, 20)) say(`  ${e.file}: ${e.message}`);
          if (summary.errors.length > 20) say(`  … and ${summary.errors.length - 20} more unreadable inputs`);
          if (summary.events === 0 && summary.errors.length > 0) process.exitCode = 1;
        },
      ),
    );
}
