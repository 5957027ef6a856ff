import type { NormalisedEvent } from '../../schema/event.ts';
import {
  type CorrelationHit,
  type CorrelationInput,
  type CorrelationLimits,
  CorrelationState,
} from './correlation.ts';
import { EventView } from './fields.ts';
import type { Branch } from './pipeline.ts';
import { RuleIndex } from './rule-index.ts';
import type { CompiledCorrelation, CompiledRule, RuleSet } from './ruleset.ts';

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

function toMs(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
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
  private readonly states = new Map<string, CorrelationState[]>();
  private readonly allStates: CorrelationState[] = [];
  private readonly limits: CorrelationLimits;
  private includeSilent = false;

  constructor(
    readonly ruleSet: RuleSet,
    private readonly options: EngineOptions = {},
  ) {
    ruleSet.finish();
    this.index = new RuleIndex(ruleSet.rules);
    this.view = new EventView(ruleSet.fields);
    this.limits = { maxGroups: 10_000, maxEvents: 100, ...options.correlation };
    for (const c of ruleSet.correlations) {
      const st = new CorrelationState(c, this.limits);
      this.allStates.push(st);
      for (const ref of c.rules) {
        const list = this.states.get(ref);
        if (list) list.push(st);
        else this.states.set(ref, [st]);
      }
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
        const states = this.states.get(rule.id);
        if (!states) return;
        const time = toMs(event.time);
        for (const st of states) {
          const values = new Map<string, string | undefined>();
          const wanted = st.groupFields(rule.id);
          if (st.correlation.valueField) wanted.push(st.correlation.valueField);
          for (const f of wanted) values.set(f, view.str(this.ruleSet.fields.slot(f)));
          const input: CorrelationInput = {
            ref: rule.id,
            time,
            events: [event],
            value: (f) => values.get(f),
          };
          this.emitHits(st.offer(input), out);
        }
      });
    }
    return out;
  }

  private emitHits(hits: CorrelationHit[], out: SigmaMatch[]): void {
    for (const h of hits) {
      const c = h.correlation;
      if (c.generate || this.includeSilent || !this.isReferenced(c.id)) {
        out.push({
          rule: c,
          events: h.events,
          time: new Date(h.time).toISOString(),
          group: h.group,
          count: h.count,
        });
      }
      const chained = this.states.get(c.id);
      if (!chained) continue;
      for (const st of chained) {
        const input: CorrelationInput = {
          ref: c.id,
          time: h.time,
          events: h.events,
          value: (f) => h.group[f],
        };
        this.emitHits(st.offer(input), out);
      }
    }
  }

  private isReferenced(id: string): boolean {
    return this.states.has(id);
  }

  /** Expire correlation windows that have passed (in event time); call between batches. */
  expire(): SigmaMatch[] {
    const out: SigmaMatch[] = [];
    for (const st of this.allStates) this.emitHits(st.expire(false), out);
    return out;
  }

  /** End of input: judge every open correlation window and clear the state. */
  flush(): SigmaMatch[] {
    const out: SigmaMatch[] = [];
    for (const st of this.allStates) this.emitHits(st.expire(true), out);
    return out;
  }

  /** Live correlation groups across all correlations (bounded by the limits). */
  correlationGroups(): number {
    return this.allStates.reduce((n, s) => n + s.size, 0);
  }
}
