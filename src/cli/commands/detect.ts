import { basename } from 'node:path';
import type { Command } from 'commander';
import { buildDetectors, DETECTOR_FACTORIES, type DetectorFactory } from '../../detect/index.ts';
import { MemoryBaselines } from '../../detect/noise/baseline.ts';
import { type ReplayDetector, replay } from '../../detect/replay.ts';
import { buildSigma, type SigmaMatch, sigmaReplayDetector, toCandidate } from '../../detect/sigma/index.ts';
import { formatIssue } from '../../detect/sigma/issues.ts';
import type { AlertCandidate } from '../../detect/types.ts';
import { upstreamDetector } from '../../detect/upstream.ts';
import { AisocError, describeError } from '../../errors.ts';
import type { Detection, Rarity } from '../../schema/alert.ts';
import { SEVERITY_ORDER, type SeverityName, severityRank } from '../../schema/common.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { expandInputs } from '../../sources/inputs.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
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
  /** `level` is the detection's: the rule's own, capped, overridden or moved by rarity (`rule_level` then says the rule's). */
  rule: { id: string; title: string; level: SeverityName; tags: string[]; engine: Detection['engine'] };
  /** The rule's own level, when the detection's level differs from it. */
  rule_level?: SeverityName;
  /** Why the level differs: a status cap, a configured override, rarity. */
  level_reasons?: string[];
  /** The rarity of the call behind a cloud detection, as noise control judged it. */
  rarity?: Rarity;
  time: string;
  events: AlertEventRef[];
  /** File (or archive entry) the events came from. */
  file: string;
  /** Correlations: the group that fired and the count that met the condition. */
  group?: Record<string, string>;
  count?: number;
}

/**
 * The detector kinds this command builds itself, from its flags: Sigma (with
 * `--rules`, `--no-builtin`, `--no-sigmahq`, and raw matches, so correlation
 * lines keep their group and count) and upstream verdicts (`--no-upstream`,
 * `--min-level`). Every other registered kind is built as `serve` builds it,
 * from `detect.<type>` (the resource-policy rule; ML models need the served
 * models, which an offline hunt does not open, so their factory builds none).
 */
const BUILT_HERE = new Set(['sigma', 'upstream']);

/** The registry without the kinds {@link BUILT_HERE}. */
function registeredElsewhere(): Record<string, DetectorFactory<unknown>> {
  return Object.fromEntries(Object.entries(DETECTOR_FACTORIES).filter(([type]) => !BUILT_HERE.has(type)));
}

/** A detection found in one batch, waiting for noise control before it is printed. */
interface Found {
  candidate: AlertCandidate;
  file: string;
  /** Sigma's raw match (correlation group and count). */
  match?: SigmaMatch;
}

function eventRef(e: NormalisedEvent): AlertEventRef {
  const ref: AlertEventRef = { source: e.source, id: e.source_event_id ?? null, time: e.time };
  if (e.network?.flow_uid) ref.flow_id = e.network.flow_uid;
  if (e.device?.hostname) ref.host = e.device.hostname;
  return ref;
}

interface Summary {
  alerts: number;
  by_level: Record<string, number>;
  by_rule: Map<string, number>;
  by_source: Record<string, number>;
  errors: Array<{ file: string; message: string }>;
}

/** A span of time as people read it: `7 days`, `2 h`, `90 s`. */
function spanText(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, ' days'],
    [3_600_000, ' h'],
    [60_000, ' min'],
    [1000, ' s'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms} ms`;
}

function tableLine(l: DetectLine): string {
  const first = l.events[0];
  const ev = first
    ? `${first.source}:${first.id ?? '-'}${l.events.length > 1 ? ` +${l.events.length - 1}` : ''}`
    : '';
  const title = l.rule.title.length > 60 ? `${l.rule.title.slice(0, 57)}...` : l.rule.title;
  return `${l.time.slice(0, 19).padEnd(19)}  ${l.rule.level.padEnd(13)}  ${title.padEnd(60)}  ${ev.padEnd(48)}  ${basename(l.file)}`;
}

export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description(
      'Hunt offline: scan files with the Sigma rules (built-in pack plus --rules), the code rules (resource policies) and upstream verdicts, with noise control, as serve raises them but without a server or database; one JSON line per alert on stdout, a summary on stderr',
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
    .option('--no-sigmahq', 'do not load the SigmaHQ rules aisoc rules update installed')
    .option(
      '--no-upstream',
      'do not pass through verdicts of the source product (Suricata, Wazuh, GuardDuty)',
    )
    .option(
      '--min-level <level>',
      'least rule level reported (default: detect.sigma.min_level); noise control may then move a level below it',
    )
    .option(
      '--no-noise',
      'no noise control: rarity does not move levels (as detect.noise.enabled: false; status caps and overrides still apply)',
    )
    .action(
      action(
        async (
          files: string[],
          opts: {
            rules: string[];
            source?: string;
            format: string;
            builtin: boolean;
            sigmahq: boolean;
            upstream: boolean;
            minLevel?: string;
            noise: boolean;
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
            ...(opts.sigmahq ? { dataDir: config.data_dir } : {}),
            levelOverrides: config.detect.level_overrides,
          });
          const stats = ruleSet.stats();
          const problems = ruleSet.issues.filter((i) => i.kind !== 'warning');
          for (const i of problems.slice(0, 20)) say(`rules: ${formatIssue(i)}`);
          if (problems.length > 20)
            say(`rules: … and ${problems.length - 20} more (aisoc rules lint shows them all)`);
          say(
            `Loaded ${stats.detection} Sigma rules and ${stats.correlation} correlations (${stats.runnable} run on our sources; ${stats.invalid} invalid, ${stats.unsupported} unsupported) in ${Math.round(performance.now() - t0)} ms.`,
          );
          const min = severityRank(minLevel);
          // The code rules serve runs (detect.<type>), with their level overrides.
          const others = await buildDetectors(
            config.detect,
            {
              logger: silentLogger(),
              metrics: createMetrics({ defaultMetrics: false }),
              detect: config.detect,
              dataDir: config.data_dir,
            },
            registeredElsewhere(),
          );
          // Noise control as serve applies it, over each batch in event time, the baselines in memory.
          const baselines =
            opts.noise && config.detect.noise.enabled ? new MemoryBaselines(config.detect.noise) : undefined;
          const moved = { raised: 0, lowered: 0 };
          const summary: Summary = {
            alerts: 0,
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
          const emit = ({ candidate: c, file, match }: Found) => {
            const d = c.detection;
            const line: DetectLine = {
              rule: { id: d.rule_id, title: d.rule_title, level: d.level, tags: d.tags, engine: d.engine },
              time: match?.time ?? c.events[c.events.length - 1]?.time ?? '',
              events: c.events.map(eventRef),
              file,
            };
            if (match?.group) line.group = match.group;
            if (match?.count !== undefined) line.count = match.count;
            if (d.rule_level) line.rule_level = d.rule_level;
            if (d.level_reasons?.length) line.level_reasons = d.level_reasons;
            if (d.rarity) line.rarity = d.rarity;
            out(line);
          };
          // A batch's events and what the detectors found in them (and, after a document's last batch, the
          // correlations its end closed): judged together by noise control, then printed.
          let batch: { events: NormalisedEvent[]; found: Found[] } = { events: [], found: [] };
          const settle = () => {
            if (baselines) {
              const m = baselines.process(
                batch.events,
                batch.found.map((f) => f.candidate),
              );
              moved.raised += m.raised;
              moved.lowered += m.lowered;
            }
            for (const f of batch.found) emit(f);
            batch = { events: [], found: [] };
          };
          const take = (alert: SigmaMatch | AlertCandidate, file: string) => {
            if ('detection' in alert) {
              // Upstream verdicts were filtered by their detector; code rules by the least level here.
              if (alert.detection.engine !== 'upstream' && severityRank(alert.detection.level) < min) return;
              batch.found.push({ candidate: alert, file });
            } else if (severityRank(alert.rule.level) >= min) {
              batch.found.push({ candidate: toCandidate(alert), file, match: alert });
            }
          };
          if (opts.format === 'table') {
            process.stdout.write(
              `${'TIME'.padEnd(19)}  ${'LEVEL'.padEnd(13)}  ${'RULE'.padEnd(60)}  ${'EVENTS'.padEnd(48)}  FILE\n`,
            );
          }
          const bar = progress();
          const detectors: ReplayDetector<SigmaMatch | AlertCandidate>[] = [
            sigmaReplayDetector(engine, { expireEachDocument: true }),
          ];
          if (opts.upstream) detectors.push(upstreamDetector({ minSeverity: minLevel }));
          detectors.push(...others);
          const run = replay(paths, {
            sources: registry,
            detectors,
            ...(opts.source ? { source: opts.source } : {}),
          });
          const failed = new Set<string>();
          for await (const item of run) {
            switch (item.kind) {
              case 'skipped':
                summary.errors.push({
                  file: item.file,
                  message: item.step === 'source' ? `skipped: ${item.reason}` : item.reason,
                });
                break;
              case 'document':
                if (item.deadLetters.length > 0 && item.normalised === 0) {
                  summary.errors.push({
                    file: item.file,
                    message:
                      `no record reads as ${item.source}: ${item.errors[0]?.at ?? ''} ${item.errors[0]?.message ?? ''}`.trim(),
                  });
                }
                summary.by_source[item.source] = (summary.by_source[item.source] ?? 0) + item.normalised;
                break;
              case 'events':
                settle();
                batch.events = item.events;
                bar.update(
                  `${run.counts.files}/${paths.length} files, ${run.counts.events} events, ${summary.alerts} alerts`,
                );
                break;
              case 'alert':
                take(item.alert, item.file);
                break;
              case 'detector-error':
                if (!failed.has(item.detector))
                  say(`${item.detector} detector failed on an event (skipped): ${describeError(item.error)}`);
                failed.add(item.detector);
                break;
            }
          }
          settle();
          bar.done();
          const seconds = (performance.now() - t0) / 1000;
          const levels = SEVERITY_ORDER.filter((l) => summary.by_level[l])
            .reverse()
            .map((l) => `${summary.by_level[l]} ${l}`)
            .join(', ');
          const { counts } = run;
          say(
            `Scanned ${counts.files} files (${counts.documents} documents): ${counts.events} events, ${counts.deadLetters} bad records, ${counts.skippedRecords} skipped, in ${seconds.toFixed(1)} s; ${summary.alerts} alerts${levels ? ` (${levels})` : ''}.`,
          );
          say(
            baselines
              ? `Noise control moved ${moved.raised + moved.lowered} level${moved.raised + moved.lowered === 1 ? '' : 's'} (${moved.lowered} lowered, ${moved.raised} raised; the baselines learn for ${spanText(config.detect.noise.learning_window_ms)} of event time).`
              : `Noise control off${opts.noise ? ' (detect.noise.enabled: false)' : ' (--no-noise)'}: no level moved by rarity.`,
          );
          for (const [s, n] of Object.entries(summary.by_source)) say(`  ${s}: ${n} events`);
          const top = [...summary.by_rule].sort((a, b) => b[1] - a[1]).slice(0, 15);
          for (const [rule, n] of top) say(`  ${String(n).padStart(6)}  ${rule}`);
          if (engine.stats.errors > 0)
            say(`  ${engine.stats.errors} rule evaluations failed on bad events (skipped).`);
          if (counts.detectorErrors > 0)
            say(
              `  ${counts.detectorErrors} events made the ${[...failed].join(' and ')} detector fail (skipped).`,
            );
          for (const e of summary.errors.slice(0, 20)) say(`  ${e.file}: ${e.message}`);
          if (summary.errors.length > 20) say(`  … and ${summary.errors.length - 20} more unreadable inputs`);
          if (counts.events === 0 && summary.errors.length > 0) process.exitCode = 1;
        },
      ),
    );
}
