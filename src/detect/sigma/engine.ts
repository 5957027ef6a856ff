import type { NormalisedEvent } from '../../schema/event.ts';
import type { CorrelationLimits } from './correlation.ts';
import { EventView } from './fields.ts';
import type { Branch } from './pipeline.ts';
import { RuleIndex } from './rule-index.ts';
import type { CompiledCorrelation, CompiledRule, RuleSet } from './ruleset.ts';
import { CorrelationSet, eventMs } from './windows.ts';

/** What the engine reports: a rule or a correlation that matched, with its events. */
export interface SigmaMatch {
  rule: CompiledRule | CompiledCorrelation;
  events: NormalisedEvent[];
  /** ISO time of the (last) matched event. */
  time: string;
  /** Correlations: the group that fired and the count that met the condition. */
  group?: Record<string, string>;
  count?: number;
}

export interface EngineStats {
  events: number;
  /** Rule evaluations (event × candidate rule). */
  evaluations: number;
  /** Rule matches, before `generate` and correlation. */
  matches: number;
  /** Events a rule failed on (the rest of the scan went on). */
  errors: number;
}

export interface EngineOptions {
  correlation?: Partial<CorrelationLimits>;
  /** Called when evaluating a rule on an event throws; the scan goes on. */
  onError?(rule: CompiledRule, event: NormalisedEvent, err: unknown): void;
}

/**
 * A match of a rule that correlations reference, as the pipeline's detect
 * stage reports it: the correlate stage offers it to the windows.
 */
export interface SigmaFeed {
  rule: CompiledRule;
  event: NormalisedEvent;
  /** Ids of the correlations the rule feeds. */
  correlations: readonly string[];
  /** The values of the fields those correlations group and count by (absent fields left out). */
  values: Record<string, string>;
}

/**
 * The Sigma engine: offers each event to the rules its log source and event
 * code can match (via {@link RuleIndex}), reports matches, and feeds rules
 * that correlations reference into their windows.
 *
 * @example
 * const engine = new SigmaEngine(ruleSet.finish());
 * for (const m of engine.process(events)) console.log(m.rule.title, m.events.length);
 * engine.flush(); // end of a scan: judge open correlation windows
 */
export class SigmaEngine {
  readonly index: RuleIndex;
  readonly stats: EngineStats = { events: 0, evaluations: 0, matches: 0, errors: 0 };
  private readonly view: EventView;
  /** The correlation windows of the offline scan ({@link process}); the pipeline keeps its own (SigmaWindows). */
  private readonly correlations: CorrelationSet;
  /** Per referenced rule: the fields its correlations read, and their slots. */
  private readonly feedSlots = new Map<string, Array<[string, number]>>();
  readonly limits: CorrelationLimits;
  private includeSilent = false;

  constructor(
    readonly ruleSet: RuleSet,
    private readonly options: EngineOptions = {},
  ) {
    ruleSet.finish();
    this.index = new RuleIndex(ruleSet.rules);
    this.view = new EventView(ruleSet.fields);
    this.limits = { maxGroups: 10_000, maxEvents: 100, ...options.correlation };
    this.correlations = new CorrelationSet(ruleSet.correlations, this.limits);
    for (const rule of ruleSet.rules) {
      const fields = this.correlations.fields(rule.id);
      if (fields)
        this.feedSlots.set(
          rule.id,
          fields.map((f) => [f, ruleSet.fields.slot(f)]),
        );
    }
  }

  /**
   * Match one event against its candidate rules, calling `onMatch` with each
   * rule that matches (filters applied). Does not alert or correlate: the
   * building block of {@link process}, regression runs and rule tests.
   */
  matchEvent(event: NormalisedEvent, onMatch: (rule: CompiledRule, view: EventView) => void): void {
    this.stats.events++;
    const groups = this.index.candidates(event);
    // A rule whose log source is broad (`product: windows`) sits in several branches of a pipeline
    // (Sysmon, Security, process creation, …), and an event can belong to more than one of them: it is
    // reported for the first branch it matches in, never twice for one event.
    let matched: Set<CompiledRule> | undefined;
    for (let gi = 0; gi < groups.length; gi++) {
      const { branch, rules, prefilter } = groups[gi]!;
      const view = this.view.reset(event, branch, gi > 0);
      prefilter?.mark(view);
      for (let i = 0; i < rules.length; i++) {
        if (prefilter && !prefilter.possible(i)) continue;
        const rule = rules[i]!;
        if (matched?.has(rule)) continue;
        this.stats.evaluations++;
        let hit: boolean;
        try {
          hit = rule.match(view) && (rule.filters.length === 0 || this.passesFilters(rule, view, branch));
        } catch (err) {
          this.stats.errors++;
          this.options.onError?.(rule, event, err);
          continue;
        }
        if (hit) {
          if (groups.length > 1) {
            matched ??= new Set();
            matched.add(rule);
          }
          this.stats.matches++;
          onMatch(rule, view);
        }
      }
    }
  }

  /** Sigma filters are ANDed to the rule's condition (they are written `condition: not selection`). */
  private passesFilters(rule: CompiledRule, view: EventView, branch: Branch): boolean {
    for (const f of rule.filters) if (f.branches.has(branch) && !f.match(view)) return false;
    return true;
  }

  /**
   * Process events in order: rule matches that alert, and correlations that
   * fire. With `includeSilent`, matches of rules that only feed correlations
   * are reported too (rule tests).
   */
  process(events: Iterable<NormalisedEvent>, options: { includeSilent?: boolean } = {}): SigmaMatch[] {
    const out: SigmaMatch[] = [];
    const silent = options.includeSilent === true;
    this.includeSilent = silent;
    for (const event of events) {
      this.matchEvent(event, (rule, view) => {
        if (rule.generate || silent) out.push({ rule, events: [event], time: event.time });
        const slots = this.feedSlots.get(rule.id);
        if (!slots) return;
        const values = new Map<string, string | undefined>();
        for (const [f, slot] of slots) values.set(f, view.str(slot));
        this.correlations.offer(rule.id, eventMs(event.time), [event], (f) => values.get(f), out, silent);
      });
    }
    return out;
  }

  /**
   * The pipeline's half of {@link process}, with no correlation state: the
   * matches of rules that alert by themselves, and a {@link SigmaFeed} per
   * match of a rule that correlations reference (the correlate stage's
   * windows take it). Any worker may run it on any events, in any order.
   *
   * @example
   * const { matches, feeds } = engine.steps(batch);
   */
  steps(events: Iterable<NormalisedEvent>): { matches: SigmaMatch[]; feeds: SigmaFeed[] } {
    const matches: SigmaMatch[] = [];
    const feeds: SigmaFeed[] = [];
    for (const event of events) {
      this.matchEvent(event, (rule, view) => {
        if (rule.generate) matches.push({ rule, events: [event], time: event.time });
        const slots = this.feedSlots.get(rule.id);
        if (!slots) return;
        const values: Record<string, string> = {};
        for (const [f, slot] of slots) {
          const v = view.str(slot);
          if (v !== undefined) values[f] = v;
        }
        feeds.push({ rule, event, correlations: this.correlations.fed(rule.id), values });
      });
    }
    return { matches, feeds };
  }

  /** Expire correlation windows that have passed (in event time); call between batches. */
  expire(): SigmaMatch[] {
    return this.correlations.expire(false, this.includeSilent);
  }

  /** End of input: judge every open correlation window and clear the state. */
  flush(): SigmaMatch[] {
    return this.correlations.expire(true, this.includeSilent);
  }

  /** Live correlation groups across all correlations (bounded by the limits). */
  correlationGroups(): number {
    return this.correlations.groups();
  }
}
