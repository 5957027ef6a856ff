/**
 * EVALUATION SCRIPT, specific to the Invictus data set (see invictus.ts) —
 * triage measured on ground truth rather than keyword heuristics:
 *
 *   node --import tsx scripts/eval/triage-invictus.ts [--shared DIR] [--json]
 *
 * 1. Every Invictus record is read; the data set's documented marker says
 *    which belong to attack runs (the ground truth), and is then stripped,
 *    as the data set's evaluation data strips it, so no detector or analyst
 *    sees it.
 * 2. The product's detectors (the runtime's, as configured; upstream
 *    verdicts aside) raise alerts on the stripped records.
 * 3. An alert is a true positive when its events belong to an attack run
 *    (at least one of them: `labelAlertsByEvents`), a false positive when
 *    none does.
 * 4. The configured analyst triages each alert; its verdicts are scored
 *    against that ground truth.
 *
 * It prints what detection raised (alerts, their precision, the share of
 * attack-run records an alert cites) and the analyst's agreement with ground
 * truth. The CloudTrail models were trained on these records: when one of
 * them detects, its alerts are on its own training data, and the report
 * counts alerts per engine so that can be seen.
 */
import { join, resolve } from 'node:path';
import { labelAlertsByEvents, scoreTriage } from '../../src/analyst/eval.ts';
import { type AppConfig, loadConfig } from '../../src/app-config.ts';
import { openRuntime } from '../../src/runtime.ts';
import type { TriageResponse } from '../../src/schema/verdict.ts';
import { SourceRegistry } from '../../src/sources/index.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { isAttackRun, readRecords, stripMarker } from './invictus.ts';
import { alertsFrom } from './triage-devset.ts';

/** Ground-truth triage over the records of an Invictus-format file. */
export async function triageOnGroundTruth(file: string, config: AppConfig = loadConfig({ env: {} })) {
  const records = readRecords(file);
  const idOf = (r: unknown) => String((r as { eventID?: unknown }).eventID ?? '');
  const attackIds = new Set(records.filter(isAttackRun).map(idOf));
  const stripped = records.map(stripMarker);
  const rt = await openRuntime({ ...config, log_level: 'silent' }, { inMemory: true, response: true });
  try {
    await rt.knowledge.ready().catch(() => undefined);
    const analyst = rt.response?.analyst;
    if (!analyst) throw new Error('The analyst is not available in this runtime');
    const sources = new SourceRegistry(config.sources, silentLogger());
    const raised = alertsFrom(
      { name: file, source: 'cloudtrail', records: stripped },
      rt.detectors.filter((d) => d.name !== 'upstream'),
      'invictus',
      { sources },
    );
    const { cases, mixed } = labelAlertsByEvents(
      raised.map((r) => ({
        alert: r.alert,
        event_ids: r.events.map((e) => e.source_event_id ?? e.id),
      })),
      (id) => attackIds.has(id),
      'invictus',
    );
    const verdicts: Array<{ response: TriageResponse; fallback: boolean }> = [];
    for (const c of cases) {
      const out = await analyst.analyzeSecurityAlert(c.alert, { store: false });
      verdicts.push({ response: out.response, fallback: Boolean(out.fallback_reason) });
    }
    const cited = new Set(raised.flatMap((r) => r.events.map((e) => e.source_event_id ?? e.id)));
    const tp = cases.filter((c) => c.label.is_true_positive).length;
    const byEngine: Record<string, number> = {};
    for (const c of cases) {
      const engine = c.alert.rule_id?.startsWith('ml:') ? 'ml' : 'sigma';
      byEngine[engine] = (byEngine[engine] ?? 0) + 1;
    }
    return {
      data: file,
      labels: 'ground truth: the data set marks attack-run records (the marker is stripped before detection)',
      records: records.length,
      attack_run_records: attackIds.size,
      detection: {
        alerts: cases.length,
        by_engine: byEngine,
        true_positives: tp,
        false_positives: cases.length - tp,
        alert_precision: cases.length ? round(tp / cases.length) : null,
        mixed_alerts: mixed,
        attack_run_records_cited: [...attackIds].filter((id) => cited.has(id)).length,
        benign_records_cited: [...cited].filter((id) => !attackIds.has(id)).length,
      },
      triage: { analyst: analyst.backendName, ...(cases.length ? scoreTriage(cases, verdicts) : {}) },
    };
  } finally {
    await rt.close();
  }
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--shared');
  const shared = resolve(
    (at >= 0 ? args[at + 1] : undefined) ??
      process.env.AISOC_SHARED_DATA ??
      join(import.meta.dirname, '../../../shared/data'),
  );
  const r = await triageOnGroundTruth(join(shared, 'cloudtrail', 'invictus', 'records-dev.json'));
  process.stdout.write(`${JSON.stringify(r, null, args.includes('--json') ? undefined : 2)}\n`);
}
