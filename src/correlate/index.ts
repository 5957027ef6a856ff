import { type BaselineFeed, isBaselineFeed } from '../detect/noise/baseline.ts';
import type { NoiseControl, NoiseOutcome } from '../detect/noise/persisted.ts';
import {
  type AlertCandidate,
  type DetectionWindows,
  type DetectOutput,
  isWindowFeed,
  type WindowFeed,
  type WindowGroupRow,
} from '../detect/types.ts';
import { fingerprint, uuidv7 } from '../ids.ts';
import { Mutex } from '../pipeline/queue.ts';
import type { Rejection, Stage } from '../pipeline/stage.ts';
import type { Alert, Detection } from '../schema/alert.ts';
import { type Entity, type EntityType, severityRank } from '../schema/common.ts';
import type { Incident } from '../schema/incident.ts';
import type { Suppression } from '../schema/response.ts';
import type { CorrelateHead, Repositories, Store, StoredWindowGroup } from '../store/index.ts';
import { techniquesAndTactics } from './attack-tags.ts';
import { canonicalEntityValue, entityKey, eventEntities, mergeEntities } from './entities.ts';
import { correlateMetrics } from './metrics.ts';
import { detectionPriority, maxLevel } from './priority.ts';

export interface CorrelateOptions {
  /** Identical alerts (same rule, same entities) whose events fall within this window fold into one, with a count. */
  dedupeWindowMs: number;
  /** Alerts sharing an entity within this window are grouped into one incident. */
  groupWindowMs: number;
  /** Entity types that link alerts into an incident. */
  groupBy: EntityType[];
  /** Most event ids kept on one alert (the count keeps growing). */
  maxEventIds?: number;
  /** Active suppressions (detection feedback from cases closed as false positives). */
  suppressions?: () => Promise<Suppression[]>;
}

/** Whether a suppression covers an alert: same rule, and the entity is among the alert's. */
export function suppressedBy(
  alert: Pick<Alert, 'detections' | 'entities'>,
  list: Suppression[],
): Suppression | undefined {
  return list.find(
    (s) =>
      alert.detections.some((d) => d.rule_id === s.rule_id) &&
      alert.entities.some(
        (e) =>
          e.type === s.entity_type &&
          canonicalEntityValue(e.type, e.value).toLowerCase() ===
            canonicalEntityValue(s.entity_type, s.entity_value).toLowerCase(),
      ),
  );
}

export interface CorrelateResult {
  /** Alerts created or changed, suppressed ones included. */
  alerts: Alert[];
  created: number;
  folded: number;
  suppressed: number;
  /** Incidents created or changed. */
  incidents: Incident[];
}

const MAX_EVENT_IDS = 1000;

/**
 * What correlation reads and writes: recent alerts by fingerprint and open
 * incidents. The store's repositories are one; the AWS deployment's
 * DynamoDB tables (`src/aws/records.ts`) are the other.
 */
export interface CorrelationRecords {
  alerts: Pick<Repositories['alerts'], 'findRecentByFingerprint' | 'upsert' | 'getMany'>;
  incidents: Pick<Repositories['incidents'], 'listOpenSince' | 'get' | 'upsert'>;
}

function ms(iso: string): number {
  return Date.parse(iso);
}

/** The earlier of two ISO timestamps (compared as instants). */
function earlier(a: string, b: string): string {
  return ms(a) <= ms(b) ? a : b;
}

function later(a: string, b: string): string {
  return ms(a) >= ms(b) ? a : b;
}

function unionStrings(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function mergeDetections(a: Detection[], b: Detection[], cap: number): Detection[] {
  const byRule = new Map(a.map((d) => [d.rule_id, { ...d, event_ids: [...d.event_ids] }]));
  for (const d of b) {
    const prev = byRule.get(d.rule_id);
    if (!prev) byRule.set(d.rule_id, { ...d });
    else {
      prev.event_ids = unionStrings(prev.event_ids, d.event_ids).slice(0, cap);
      if (d.confidence !== undefined) prev.confidence = Math.max(prev.confidence ?? 0, d.confidence);
      if (severityRank(d.level) > severityRank(prev.level)) prev.level = d.level;
    }
  }
  return [...byRule.values()];
}

/** Build a new alert from one detection. */
export function alertFromCandidate(c: AlertCandidate, groupBy: Set<EntityType>, now: string): Alert {
  const times = c.events.map((e) => e.time).sort();
  const entities = mergeEntities(c.events.map(eventEntities));
  const keyEntities = entities
    .filter((en) => groupBy.has(en.type))
    .map(entityKey)
    .sort();
  const { techniques, tactics } = techniquesAndTactics(c.detection.tags);
  const first = times[0] ?? now;
  const last = times[times.length - 1] ?? now;
  const detections = [c.detection];
  const alert: Alert = {
    id: uuidv7(),
    fingerprint: fingerprint(c.detection.rule_id, ...keyEntities),
    title: c.title ?? c.detection.rule_title,
    source: c.events[0]?.source ?? 'unknown',
    severity: maxLevel(detections),
    priority: detectionPriority(detections),
    status: 'new',
    detections,
    event_ids: c.events.map((e) => e.id),
    count: 1,
    entities,
    mitre_techniques: techniques,
    mitre_tactics: tactics,
    first_seen: first,
    last_seen: last,
    created_at: now,
    updated_at: now,
  };
  if (c.description ?? c.detection.description) alert.description = c.description ?? c.detection.description;
  return alert;
}

/** Fold `b` (a repeat of `a`) into `a`. */
function foldAlert(a: Alert, b: Alert, cap: number, now: string): Alert {
  const detections = mergeDetections(a.detections, b.detections, cap);
  return {
    ...a,
    detections,
    event_ids: unionStrings(a.event_ids, b.event_ids).slice(0, cap),
    count: a.count + b.count,
    entities: mergeEntities([a.entities, b.entities]),
    severity: maxLevel(detections),
    priority: Math.max(a.priority, b.priority),
    mitre_techniques: unionStrings(a.mitre_techniques, b.mitre_techniques).sort(),
    mitre_tactics: unionStrings(a.mitre_tactics, b.mitre_tactics),
    first_seen: earlier(a.first_seen, b.first_seen),
    last_seen: later(a.last_seen, b.last_seen),
    updated_at: now,
  };
}

/** The entity most of the alerts share (ties: user, then IP, then the rest). */
function sharedEntity(alerts: Alert[], entities: Entity[]): Entity | undefined {
  const rank = (e: Entity) => ['user', 'ip', 'access_key', 'host', 'instance'].indexOf(e.type);
  let best: Entity | undefined;
  let bestCount = 0;
  for (const e of entities) {
    if (rank(e) < 0) continue;
    const key = entityKey(e);
    const count = alerts.filter((a) => a.entities.some((x) => entityKey(x) === key)).length;
    if (count > bestCount || (count === bestCount && best && rank(e) < rank(best))) {
      best = e;
      bestCount = count;
    }
  }
  return best ?? entities[0];
}

function incidentTitle(alerts: Alert[], entities: Entity[]): string {
  const top = [...alerts].sort((x, y) => y.priority - x.priority)[0];
  const who = sharedEntity(alerts, entities);
  const base = top?.title ?? 'Alerts';
  if (alerts.length <= 1) return who ? `${base} (${who.type} ${who.value})` : base;
  return `${base} and ${alerts.length - 1} related alert${alerts.length > 2 ? 's' : ''}${who ? ` (${who.type} ${who.value})` : ''}`;
}

/** Incident priority: the top alert's, plus 2 per further alert (at most +10). */
export function incidentPriority(alertPriorities: number[]): number {
  if (alertPriorities.length === 0) return 0;
  const top = Math.max(...alertPriorities);
  return Math.min(100, Math.round((top + Math.min(10, 2 * (alertPriorities.length - 1))) * 10) / 10);
}

/**
 * Correlation: deduplicate identical alerts within a window, then group
 * alerts that share an entity (user, access key, source IP, host, instance)
 * within a window into incidents. Works in event time, so replayed history
 * correlates as it did when it happened.
 */
export class Correlator {
  private readonly groupBy: Set<EntityType>;
  private readonly cap: number;

  constructor(private readonly options: CorrelateOptions) {
    this.groupBy = new Set(options.groupBy);
    this.cap = options.maxEventIds ?? MAX_EVENT_IDS;
  }

  /** Correlate candidates against the store and persist the result in one transaction. Returns new or changed alerts. */
  async correlate(
    candidates: AlertCandidate[],
    repos: CorrelationRecords,
    now = new Date().toISOString(),
  ): Promise<Alert[]> {
    return (await this.correlateDetailed(candidates, repos, now)).alerts;
  }

  /** Correlate and report what happened (new, folded, suppressed; incidents touched). */
  async correlateDetailed(
    candidates: AlertCandidate[],
    repos: CorrelationRecords,
    now = new Date().toISOString(),
  ): Promise<CorrelateResult> {
    const result: CorrelateResult = { alerts: [], created: 0, folded: 0, suppressed: 0, incidents: [] };
    if (candidates.length === 0) return result;
    const active = (await this.options.suppressions?.()) ?? [];
    const fresh = candidates.map((c) => alertFromCandidate(c, this.groupBy, now));
    fresh.sort((a, b) => (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : 0));
    const { dedupeWindowMs, groupWindowMs } = this.options;

    // 1. Deduplicate, against the store and within the batch.
    const earliest = ms(fresh[0]!.first_seen);
    const existing = await repos.alerts.findRecentByFingerprint(
      [...new Set(fresh.map((a) => a.fingerprint))],
      new Date(earliest - dedupeWindowMs).toISOString(),
    );
    const byFp = new Map(existing.map((a) => [a.fingerprint, a]));
    const changed = new Map<string, Alert>();
    const isNew = new Set<string>();
    for (const a of fresh) {
      const prev = byFp.get(a.fingerprint);
      let out: Alert;
      if (
        prev &&
        ms(a.first_seen) - ms(prev.last_seen) <= dedupeWindowMs &&
        ms(prev.first_seen) - ms(a.last_seen) <= dedupeWindowMs
      ) {
        out = foldAlert(prev, a, this.cap, now);
        if (!isNew.has(out.id)) result.folded++;
      } else {
        out = a;
        isNew.add(a.id);
      }
      // Suppression is decided on every change: once a suppression expires the alert comes back.
      if (suppressedBy(out, active)) out.status = 'suppressed';
      else if (out.status === 'suppressed') out.status = 'new';
      byFp.set(out.fingerprint, out);
      changed.set(out.id, out);
    }
    result.created = isNew.size;
    const all = [...changed.values()];
    result.suppressed = all.filter((a) => a.status === 'suppressed').length;

    // 2. Group into incidents by shared entities; suppressed alerts stay out of incidents.
    const alerts = all.filter((a) => a.status !== 'suppressed');
    if (alerts.length === 0) {
      await repos.alerts.upsert(all);
      result.alerts = all;
      return result;
    }
    const minFirst = Math.min(...alerts.map((a) => ms(a.first_seen)));
    const open = await repos.incidents.listOpenSince(new Date(minFirst - groupWindowMs).toISOString());
    const incidents = new Map(open.map((i) => [i.id, i]));
    const touched = new Map<string, Incident>();
    const incidentAlerts = new Map<string, Alert[]>();
    for (const a of alerts) {
      let incident = a.incident_id
        ? (incidents.get(a.incident_id) ?? (await repos.incidents.get(a.incident_id)))
        : undefined;
      if (!incident) {
        const keys = new Set(a.entities.filter((e) => this.groupBy.has(e.type)).map(entityKey));
        incident = [...incidents.values()].find(
          (i) =>
            i.status !== 'closed' &&
            i.status !== 'resolved' &&
            ms(a.first_seen) - ms(i.last_seen) <= groupWindowMs &&
            ms(i.first_seen) - ms(a.last_seen) <= groupWindowMs &&
            i.entities.some((e) => this.groupBy.has(e.type) && keys.has(entityKey(e))),
        );
      }
      if (!incident) {
        incident = {
          id: uuidv7(),
          title: a.title,
          status: 'open',
          severity: a.severity,
          priority: a.priority,
          alert_ids: [],
          alert_count: 0,
          entities: [],
          mitre_techniques: [],
          mitre_tactics: [],
          first_seen: a.first_seen,
          last_seen: a.last_seen,
          created_at: now,
          updated_at: now,
        };
      }
      const updated: Incident = {
        ...incident,
        alert_ids: incident.alert_ids.includes(a.id) ? incident.alert_ids : [...incident.alert_ids, a.id],
        entities: mergeEntities([
          incident.entities,
          a.entities.filter((e) => this.groupBy.has(e.type) || e.type === 'account'),
        ]),
        severity: severityRank(a.severity) > severityRank(incident.severity) ? a.severity : incident.severity,
        mitre_techniques: unionStrings(incident.mitre_techniques, a.mitre_techniques).sort(),
        mitre_tactics: unionStrings(incident.mitre_tactics, a.mitre_tactics),
        first_seen: earlier(a.first_seen, incident.first_seen),
        last_seen: later(a.last_seen, incident.last_seen),
        updated_at: now,
      };
      updated.alert_count = updated.alert_ids.length;
      a.incident_id = updated.id;
      incidents.set(updated.id, updated);
      touched.set(updated.id, updated);
      const list = incidentAlerts.get(updated.id) ?? [];
      list.push(a);
      incidentAlerts.set(updated.id, list);
    }
    // Priorities and titles need every alert of the incident.
    for (const inc of touched.values()) {
      const batchAlerts = incidentAlerts.get(inc.id) ?? [];
      const known = new Set(batchAlerts.map((a) => a.id));
      const stored = await repos.alerts.getMany(inc.alert_ids.filter((id) => !known.has(id)));
      const all = [...stored, ...batchAlerts];
      inc.priority = incidentPriority(all.map((a) => a.priority));
      inc.title = incidentTitle(all, inc.entities);
    }
    await repos.alerts.upsert(all);
    await repos.incidents.upsert([...touched.values()]);
    result.alerts = all;
    result.incidents = [...touched.values()];
    return result;
  }
}

/** Work-queue topic the triage worker consumes: alerts and incidents that changed. */
export const TRIAGE_TOPIC = 'triage';

/** The correlate stage's name in the inbox of processed items. */
export const CORRELATE_INBOX = 'correlate';

/** How long the keys of processed items are kept by default: a day of processing (see {@link CorrelateStageOptions.inboxKeepMs}). */
export const DEFAULT_INBOX_KEEP_MS = 24 * 3_600_000;

/** Window saves between two prunings of deleted groups, and how many saves a deleted group is kept for processes behind. */
const PRUNE_EVERY = 100;
const DELETED_KEPT = 1000;
/** Most deleted groups forgotten in one pruning. */
const PRUNE_LIMIT = 10_000;

/** No pruning of the inbox in a stage's first minutes: items redelivered after a restart arrive then. */
const INBOX_PRUNE_AFTER_MS = 10 * 60_000;

export interface CorrelateStageOptions {
  /** Queue changed alerts and incidents for triage (default true). */
  enqueue?: boolean;
  /** Called after a batch queued triage work. */
  onQueued?: () => void;
  /**
   * The windows of the detectors that keep windows over many events (Sigma
   * correlations): the stage runs the detect stage's window steps through
   * them, persisted in the store, before correlating.
   */
  windows?: readonly DetectionWindows[];
  /**
   * Noise control: the cloud baselines the detect stage's feeds grow (kept
   * in the store, in this transaction) and the rarity that moves the level
   * of each candidate before it becomes an alert.
   */
  noise?: NoiseControl;
  /**
   * How long the key of a processed item is kept, in ms of processing
   * (measured from the newest key, so downtime does not age them; default a
   * day). A redelivered item is recognised within it: far longer than any
   * redelivery (JetStream redelivers unacknowledged messages after its ack
   * wait, minutes; its duplicate window is two minutes; the embedded runner
   * replays after a crash the batches past its checkpoint, at start).
   */
  inboxKeepMs?: number;
}

/**
 * The key under which a detect output is recorded as processed: a window
 * step by its detector, rule and event; a candidate by its rule and sorted
 * event ids. A candidate without events has none (it is always processed).
 */
export function itemKey(item: DetectOutput): string | undefined {
  if (isWindowFeed(item)) return `w:${item.detector}:${item.rule_id}:${item.event.id}`;
  if (isBaselineFeed(item)) return `b:${item.id}`;
  const ids = item.events.length > 0 ? item.events.map((e) => e.id) : item.detection.event_ids;
  if (ids.length === 0) return undefined;
  return `c:${fingerprint(item.detection.rule_id, ...[...new Set(ids)].sort())}`;
}

/** A batch of detect outputs, sorted by kind, with what had been processed before left out. */
export interface SortedOutputs {
  candidates: AlertCandidate[];
  /** Window steps per detector. */
  feeds: Map<string, WindowFeed[]>;
  baselineFeeds: BaselineFeed[];
  /** The keys of what is processed now (once each), to record in the inbox with the batch's results. */
  fresh: Set<string>;
}

/**
 * Sort the outputs of a batch for the correlate step: skip any whose key
 * (`itemKey`) is in `seen` or came earlier in the batch, then split into
 * candidates, window steps per detector and baseline feeds. The pipeline's
 * correlate stage and the AWS detection function share it.
 *
 * @example
 * const keyed = outputs.map((item) => ({ item, key: itemKey(item) }));
 * const { candidates, feeds, baselineFeeds, fresh } = sortOutputs(keyed, await inbox.seen(keys));
 */
export function sortOutputs(
  keyed: ReadonlyArray<{ item: DetectOutput; key: string | undefined }>,
  seen: ReadonlySet<string>,
): SortedOutputs {
  const out: SortedOutputs = { candidates: [], feeds: new Map(), baselineFeeds: [], fresh: new Set() };
  for (const { item, key } of keyed) {
    if (key !== undefined) {
      if (seen.has(key) || out.fresh.has(key)) continue;
      out.fresh.add(key);
    }
    if (isBaselineFeed(item)) out.baselineFeeds.push(item);
    else if (isWindowFeed(item)) {
      const list = out.feeds.get(item.detector) ?? [];
      list.push(item);
      out.feeds.set(item.detector, list);
    } else out.candidates.push(item);
  }
  return out;
}

/** The parts a baseline feed may carry (`src/detect/noise/observe.ts`), and the row marking the baselines' start. */
const BASELINE_PARTS = new Set(['identity', 'api', 'region', 'user_agent', 'baseline']);

function malformed(item: unknown): string | undefined {
  if (typeof item !== 'object' || item === null) return 'not an object';
  const o = item as Record<string, unknown>;
  if (o.kind === 'baseline_feed') {
    if (typeof o.id !== 'string' || !Array.isArray(o.observations))
      return 'a baseline feed without id or observations';
    for (const x of o.observations as unknown[]) {
      const r = x as Record<string, unknown> | null;
      if (
        typeof r?.identity !== 'string' ||
        r.identity.length > 4096 ||
        !BASELINE_PARTS.has(r.dim as string) ||
        typeof r.value !== 'string' ||
        r.value.length > 4096 ||
        !Number.isFinite(r.first) ||
        !Number.isFinite(r.last) ||
        !Number.isInteger(r.count) ||
        !Array.isArray(r.earliest)
      )
        return 'a baseline observation without identity, part, times and count';
    }
    return undefined;
  }
  if (o.kind === 'window_feed') {
    const ev = o.event as Record<string, unknown> | undefined;
    if (typeof o.detector !== 'string' || typeof o.rule_id !== 'string')
      return 'a window step without detector or rule';
    if (typeof ev?.id !== 'string' || typeof ev.time !== 'string')
      return 'a window step without an event id and time';
    if (typeof o.values !== 'object' || o.values === null) return 'a window step without values';
    return undefined;
  }
  const d = o.detection as Record<string, unknown> | undefined;
  if (typeof d?.rule_id !== 'string' || !Array.isArray(d.event_ids)) return 'a candidate without a detection';
  if (!Array.isArray(o.events)) return 'a candidate without events';
  return undefined;
}

/**
 * This process's copy of the persisted windows: kept while the version it
 * last saw is current, brought up to date (only what changed, or all of it
 * when too far behind) when another process has saved since, and reloaded
 * whole after a failed batch (its in-memory changes were rolled back).
 */
class WindowCopy {
  private version = -1;
  constructor(private readonly windows: ReadonlyMap<string, DetectionWindows>) {}

  async sync(tx: Repositories, head: CorrelateHead): Promise<void> {
    if (this.windows.size === 0 || this.version === head.version) return;
    const full = this.version < 0 || this.version < head.prunedBelow || this.version > head.version;
    const rows = full ? await tx.correlation.all() : await tx.correlation.changedSince(this.version);
    const byDetector = new Map<string, WindowGroupRow[]>();
    for (const r of rows) {
      const list = byDetector.get(r.detector) ?? [];
      list.push({ window: r.window, key: r.key, last: r.last, state: r.state });
      byDetector.set(r.detector, list);
    }
    for (const [name, w] of this.windows)
      w.restore(byDetector.get(name) ?? [], head.watermarks[name] ?? {}, full);
    this.version = head.version;
  }

  /** Save what the batch changed; returns the version saved (the head's when nothing changed). */
  async save(tx: Repositories, head: CorrelateHead): Promise<number> {
    const groups: StoredWindowGroup[] = [];
    let watermarks: Record<string, Record<string, number>> | undefined;
    for (const [name, w] of this.windows) {
      const ch = w.takeChanges();
      for (const g of ch.groups) groups.push({ detector: name, ...g });
      if (ch.watermarks) {
        watermarks ??= { ...head.watermarks };
        watermarks[name] = { ...head.watermarks[name], ...ch.watermarks };
      }
    }
    if (groups.length === 0 && !watermarks) return head.version;
    const next = head.version + 1;
    await tx.correlation.save(next, groups, watermarks);
    if (next % PRUNE_EVERY === 0 && next > DELETED_KEPT)
      await tx.correlation.pruneDeleted(next - DELETED_KEPT, PRUNE_LIMIT);
    return next;
  }

  committed(version: number): void {
    this.version = version;
  }

  invalidate(): void {
    this.version = -1;
  }
}

/**
 * The correlate stage: detect outputs in, stored alerts (new or updated)
 * out, in one transaction per batch that
 *
 * 1. locks the stage's row, so batches correlate one at a time across every
 *    process sharing the store (each reads what the one before committed);
 * 2. brings this process's copy of the correlation windows up to date;
 * 3. skips the items whose key the inbox holds (a redelivered batch changes
 *    nothing: no count + 1, no incident update, no second triage item);
 * 4. runs the window steps through the windows (in event time), then the
 *    {@link Correlator} over the candidates and what the windows fired;
 * 5. queues every changed alert and incident for triage, so the slower
 *    analyse/respond work survives a crash and never blocks events;
 * 6. saves the window groups that changed and records the items' keys.
 *
 * The embedded runner and every worker of a distributed one run this same
 * code, so their alerts and incidents agree.
 */
export function correlateStage(
  correlator: Correlator,
  options: CorrelateStageOptions = {},
): Stage<DetectOutput, Alert> {
  const enqueue = options.enqueue ?? true;
  const keepMs = options.inboxKeepMs ?? DEFAULT_INBOX_KEEP_MS;
  const windows = new Map((options.windows ?? []).map((w) => [w.detector, w]));
  const copy = new WindowCopy(windows);
  const turn = new Mutex();
  const startedAt = Date.now();
  /** One batch in one transaction; the windows in memory follow its outcome. */
  const correlateBatch = async (
    items: DetectOutput[],
    store: Store,
  ): Promise<CorrelateResult & { moved: NoiseOutcome }> => {
    let saved = -1;
    let moved: NoiseOutcome = { raised: 0, lowered: 0 };
    try {
      const res = await store.transaction(async (tx) => {
        const head = await tx.correlation.lock();
        await copy.sync(tx, head);
        const keyed = items.map((item) => ({ item, key: itemKey(item) }));
        const seen = await tx.inbox.seen(CORRELATE_INBOX, [
          ...new Set(keyed.flatMap((k) => (k.key ? [k.key] : []))),
        ]);
        const { candidates, feeds, baselineFeeds, fresh } = sortOutputs(keyed, seen);
        for (const [name, list] of feeds) candidates.push(...windows.get(name)!.offer(list));
        if (options.noise) moved = await options.noise.apply(tx.baselines, candidates, baselineFeeds);
        const result = await correlator.correlateDetailed(candidates, tx);
        if (enqueue) {
          for (const a of result.alerts)
            if (a.status !== 'suppressed')
              await tx.work.enqueue(TRIAGE_TOPIC, `alert:${a.id}`, { type: 'alert', id: a.id });
          for (const i of result.incidents)
            await tx.work.enqueue(TRIAGE_TOPIC, `incident:${i.id}`, { type: 'incident', id: i.id });
        }
        saved = await copy.save(tx, head);
        if (Date.now() - startedAt > INBOX_PRUNE_AFTER_MS)
          await tx.inbox.prune(CORRELATE_INBOX, keepMs, Math.max(1000, 2 * fresh.size));
        await tx.inbox.record(CORRELATE_INBOX, [...fresh]);
        return { ...result, moved };
      });
      copy.committed(saved);
      return res;
    } catch (err) {
      // The windows in memory ran ahead of what was rolled back: reload them with the next batch.
      copy.invalidate();
      throw err;
    }
  };

  return {
    name: 'correlate',
    async process(batch, ctx) {
      const rejected: Rejection[] = [];
      const items: DetectOutput[] = [];
      for (const item of batch as unknown[]) {
        const why = malformed(item);
        if (why) rejected.push({ item, code: 'AISOC_ERR_VALIDATION', reason: `Not a detect output: ${why}` });
        else if (isWindowFeed(item as DetectOutput) && !windows.has((item as WindowFeed).detector))
          rejected.push({
            item,
            code: 'AISOC_ERR_CONFIG',
            reason: `A window step of ${(item as WindowFeed).detector}, whose windows this process does not run (is the detector enabled here?)`,
          });
        else items.push(item as DetectOutput);
      }
      if (items.length === 0) return { outputs: [], rejected };
      // One batch at a time in this process too: the windows in memory belong to the batch holding the lock
      // until its outcome (commit, or rollback and reload) is known.
      const r = await turn.run(() => correlateBatch(items, ctx.store));
      if (enqueue && r.alerts.length) options.onQueued?.();
      const { alertsRaised, incidents, timeToDetect, levelChanges } = correlateMetrics(ctx.metrics);
      if (r.moved.raised) levelChanges.inc({ direction: 'raised' }, r.moved.raised);
      if (r.moved.lowered) levelChanges.inc({ direction: 'lowered' }, r.moved.lowered);
      for (const a of r.alerts) {
        const outcome = a.status === 'suppressed' ? 'suppressed' : a.count > 1 ? 'deduplicated' : 'new';
        alertsRaised.inc({ severity: a.severity, outcome });
        // Event time to detection; a clock behind the source's counts as immediate, not negative.
        if (outcome === 'new')
          timeToDetect.observe(
            { severity: a.severity },
            Math.max(0, (Date.parse(a.created_at) - Date.parse(a.first_seen)) / 1000),
          );
      }
      for (const i of r.incidents)
        incidents.inc({ severity: i.severity, outcome: i.created_at === i.updated_at ? 'new' : 'updated' });
      return rejected.length ? { outputs: r.alerts, rejected } : { outputs: r.alerts };
    },
  };
}
