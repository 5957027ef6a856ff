import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { type SeverityName, severityRank } from '../../schema/common.ts';
import type { ReplayDetector } from '../replay.ts';
import type { AlertCandidate, DetectOutput, Detector, DetectorFactory } from '../types.ts';
import { toCandidate } from './candidate.ts';
import { sigmaCatalogue } from './catalogue.ts';
import { SigmaConfig } from './config.ts';
import { BUILTIN_PIPELINES_DIR, BUILTIN_RULES_DIR } from './content.ts';
import { SigmaEngine, type SigmaMatch } from './engine.ts';
import { FieldRegistry } from './fields.ts';
import { ParseCache, parseCacheFile } from './parse-cache.ts';
import { loadPipelineDir, Pipelines } from './pipeline.ts';
import { RuleSet } from './ruleset.ts';
import { installedManifest, installedRulesDir } from './update.ts';
import { SigmaWindows } from './windows.ts';

export { toCandidate } from './candidate.ts';
export type { SigmaConfig } from './config.ts';
export { SigmaEngine, type SigmaFeed, type SigmaMatch } from './engine.ts';
export { CorrelationSet, SigmaWindows } from './windows.ts';

import { formatIssue } from './issues.ts';

export { formatIssue, type SigmaIssue } from './issues.ts';
export { RuleSet } from './ruleset.ts';

export interface BuildOptions {
  /** Rule directories to load instead of the configured ones (CLI `--rules`). */
  ruleDirs?: readonly string[];
  /** Load the built-in pack (default: config.builtin). */
  builtin?: boolean;
  pipelineDirs?: readonly string[];
  /** The data directory: the SigmaHQ rules `aisoc rules update` installed there load too (`sigmahq.load`). */
  dataDir?: string;
  /** Levels set for every rule (`detect.level_overrides`), read after `detect.sigma.level_overrides`. */
  levelOverrides?: Readonly<Record<string, SeverityName>>;
}

/**
 * Build pipelines, load rules and compile them into an engine, from config.
 * Broken rules do not stop the others: they are in `ruleSet.issues`.
 *
 * @example
 * const { engine, ruleSet } = buildSigma(config.detect.sigma);
 * console.log(ruleSet.stats());
 */
export function buildSigma(
  config: SigmaConfig,
  options: BuildOptions = {},
): { engine: SigmaEngine; ruleSet: RuleSet } {
  const dirs: string[] = [];
  if (options.builtin ?? config.builtin) dirs.push(BUILTIN_RULES_DIR);
  if (options.dataDir !== undefined && config.sigmahq.load) {
    const installed = installedRulesDir(options.dataDir);
    if (existsSync(installed)) dirs.push(installed);
  }
  dirs.push(...config.rule_dirs, ...(options.ruleDirs ?? []));
  // With a data directory, parsed files are kept in its cache between starts.
  const cache = options.dataDir !== undefined ? ParseCache.open(parseCacheFile(options.dataDir)) : undefined;
  const ruleSet = loadRuleSet(dirs, config, options.pipelineDirs, cache, options.levelOverrides);
  cache?.save();
  const engine = new SigmaEngine(ruleSet, {
    correlation: { maxGroups: config.correlation_max_groups, maxEvents: config.correlation_max_events },
  });
  return { engine, ruleSet };
}

/**
 * Load rule files and directories over the built-in and configured
 * pipelines. Never throws for a broken rule: problems are in `issues`.
 *
 * @example loadRuleSet(['content/rules'], SigmaConfig.parse({})).stats()
 */
export function loadRuleSet(
  paths: readonly string[],
  config: SigmaConfig,
  pipelineDirs: readonly string[] = [],
  parseCache?: ParseCache,
  generalLevelOverrides?: Readonly<Record<string, SeverityName>>,
): RuleSet {
  const registry = new FieldRegistry();
  const pipelines = new Pipelines(registry);
  for (const dir of [BUILTIN_PIPELINES_DIR, ...config.pipeline_dirs, ...pipelineDirs]) {
    for (const { file, doc } of loadPipelineDir(dir, parseCache)) pipelines.add(doc, file);
  }
  return new RuleSet(pipelines, registry, {
    regexEngine: config.regex_engine,
    placeholders: config.placeholders,
    unknownPlaceholder: config.unknown_placeholder,
    skipDeprecated: config.skip_deprecated,
    statusCaps: config.status_caps,
    levelOverrides: config.level_overrides,
    ...(generalLevelOverrides ? { generalLevelOverrides } : {}),
    ...(parseCache ? { parseCache } : {}),
  })
    .loadPaths(paths)
    .finish();
}

/**
 * The Sigma detector. Offline (`detect`), correlation windows live in the
 * engine (bounded, expired in event time after each batch). In the pipeline
 * (`windowed`), the detect stage keeps no state: it reports the matches that
 * alert and a window step per match of a rule that correlations reference,
 * and the correlate stage runs the windows ({@link SigmaWindows}), persisted,
 * so any number of workers see one set of windows.
 */
export function sigmaDetector(engine: SigmaEngine, options: { minLevel?: SeverityName } = {}): Detector {
  const minLevel = options.minLevel ?? 'low';
  const min = severityRank(minLevel);
  let catalogue: ReturnType<typeof sigmaCatalogue> | undefined;
  return {
    name: 'sigma',
    // Rules do not change while the detector lives: listed once, when first asked.
    rules: () => (catalogue ??= sigmaCatalogue(engine.ruleSet)),
    detect(events) {
      const matches = engine.process(events);
      matches.push(...engine.expire());
      const out: AlertCandidate[] = [];
      for (const m of matches) if (severityRank(m.rule.level) >= min) out.push(toCandidate(m));
      return out;
    },
    windowed: {
      detect(events) {
        const { matches, feeds } = engine.steps(events);
        const out: DetectOutput[] = [];
        for (const m of matches) if (severityRank(m.rule.level) >= min) out.push(toCandidate(m));
        for (const f of feeds) {
          out.push({
            kind: 'window_feed',
            detector: 'sigma',
            rule_id: f.rule.id,
            windows: [...f.correlations],
            event: f.event,
            values: f.values,
          });
        }
        return out;
      },
      windows: () => new SigmaWindows(engine.ruleSet.correlations, engine.limits, minLevel),
    },
  };
}

/**
 * The engine as a replay detector reporting its raw matches (offline:
 * `aisoc detect`, the evaluators), correlation group and count included.
 * Open correlation windows are judged at the end of the input (`flush`);
 * with `expireEachDocument`, windows that have passed are also judged after
 * each document. `includeSilent` reports matches of rules that only feed
 * correlations (rule tests).
 *
 * @example
 * for (const item of replaySync(files, { sources, detectors: [sigmaReplayDetector(new SigmaEngine(ruleSet))] }))
 *   if (item.kind === 'alert') console.log(item.alert.rule.title);
 */
export function sigmaReplayDetector(
  engine: SigmaEngine,
  options: { includeSilent?: boolean; expireEachDocument?: boolean } = {},
): ReplayDetector<SigmaMatch> {
  const how = { includeSilent: options.includeSilent === true };
  const detector: ReplayDetector<SigmaMatch> = {
    name: 'sigma',
    detect: (events) => engine.process(events, how),
    flush: () => engine.flush(),
  };
  if (options.expireEachDocument) detector.endDocument = () => engine.expire();
  return detector;
}

/**
 * The Sigma detectors the runtime runs, from `detect.sigma` config: none
 * when disabled. Rules that fail to load are logged (with file and line) and
 * skipped; the others run.
 *
 * @example const detectors = [...sigmaDetectors(config.detect.sigma, logger)];
 */
export function sigmaDetectors(
  config: SigmaConfig,
  logger: Logger,
  dataDir?: string,
  levelOverrides?: Readonly<Record<string, SeverityName>>,
): Detector[] {
  if (!config.enabled) return [];
  const { engine, ruleSet } = buildSigma(config, {
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(levelOverrides ? { levelOverrides } : {}),
  });
  const installed = dataDir !== undefined && config.sigmahq.load ? installedManifest(dataDir) : undefined;
  if (installed)
    logger.info(
      {
        sigmahq: {
          source: installed.source,
          installed_at: installed.installed_at,
          rules: installed.rules_enabled,
        },
      },
      `Sigma loads the ${installed.rules_enabled} SigmaHQ rules installed ${installed.installed_at} (${installed.statuses.join(', ')}; level ${installed.min_level} and above).`,
    );
  const stats = ruleSet.stats();
  for (const issue of ruleSet.issues) {
    if (issue.kind !== 'warning')
      logger.warn({ file: issue.file, line: issue.line, kind: issue.kind }, formatIssue(issue));
  }
  logger.info(
    { ...stats, fields: ruleSet.fields.size },
    `Sigma loaded ${stats.detection} rules and ${stats.correlation} correlations (${stats.runnable} run on our sources).`,
  );
  return [sigmaDetector(engine, { minLevel: config.min_level })];
}

/** The registry entry of the Sigma detector; `detect.sigma` is its section. */
export const sigmaDetectorFactory = {
  type: 'sigma',
  description:
    'Sigma rules compiled into matchers (the built-in pack, the SigmaHQ rules aisoc rules update installed, and detect.sigma.rule_dirs)',
  configSchema: SigmaConfig,
  create: (section: SigmaConfig, ctx) =>
    sigmaDetectors(section, ctx.logger, ctx.dataDir, ctx.detect.level_overrides),
} satisfies DetectorFactory<SigmaConfig>;
