import type { AttackDomain, AttackKnowledge } from '../attack/model.ts';
import type { SnapshotReader, SnapshotWriter } from '../snapshot/format.ts';
import { attackPassages, type LabelledText } from './corpus.ts';
import { type MapperParams, TechniqueMapperModel, type TechniqueMatch } from './model.ts';

export type { LabelledText, Passage, PassageKind } from './corpus.ts';
export type { Evidence, MapperParams, TechniqueMatch } from './model.ts';
export { DEFAULT_PARAMS } from './model.ts';

export interface MapOptions {
  /** Most techniques to return (default 5). */
  topK?: number;
  /** Override the decision threshold; 0 returns the ranking without a decision. */
  threshold?: number;
  /** Only techniques of these ATT&CK domains (default: every domain loaded). */
  domains?: readonly AttackDomain[];
}

export interface FitOptions {
  /** Labelled examples beyond ATT&CK's own text (e.g. TRAM2 sentences). */
  extra?: readonly LabelledText[];
  params?: Partial<MapperParams>;
}

/**
 * Maps free text (an alert description, a log line, a report sentence) to
 * ATT&CK techniques without an LLM. It is fitted on ATT&CK's own words:
 * technique names and descriptions, detection guidance, and about 16,000
 * procedure examples; optionally on extra labelled text. A text's score for a
 * technique mixes a vote of its nearest passages with its similarity to the
 * technique's centroid, damped when the passages explain little of the text.
 *
 * @example
 * const mapper = TechniqueMapper.fit(attack);
 * mapper.map('schtasks /create /sc minute /tn updater', { topK: 3 })
 * // [{ technique_id: 'T1053.005', name: 'Scheduled Task/Job: Scheduled Task', score: 0.4, evidence: [...] }]
 */
export class TechniqueMapper {
  private constructor(
    readonly model: TechniqueMapperModel,
    readonly trainedOn: { passages: number; extra_examples: number; techniques: number },
  ) {}

  static fit(
    attack: Pick<AttackKnowledge, 'techniques' | 'procedures' | 'revoked'>,
    options: FitOptions = {},
  ) {
    const passages = attackPassages(attack, options.extra ?? []);
    const model = TechniqueMapperModel.fit(passages, attack, options.params);
    return new TechniqueMapper(model, {
      passages: passages.length,
      extra_examples: options.extra?.length ?? 0,
      techniques: model.techniqueCount,
    });
  }

  /** Write to a snapshot (the knowledge index a worker builds). */
  writeTo(w: SnapshotWriter, prefix: string): void {
    w.meta(`${prefix}.trainedOn`, this.trainedOn);
    this.model.writeTo(w, `${prefix}.model`);
  }

  /** The mapper {@link writeTo} wrote. */
  static readFrom(r: SnapshotReader, prefix: string): TechniqueMapper {
    return new TechniqueMapper(
      TechniqueMapperModel.readFrom(r, `${prefix}.model`),
      r.meta<TechniqueMapper['trainedOn']>(`${prefix}.trainedOn`),
    );
  }

  get params(): MapperParams {
    return this.model.params;
  }

  /**
   * The techniques a text maps to, best first: those that pass the decision
   * threshold (at most `topK`), each with its score and the passages that
   * matched. Pass `threshold: 0` for the plain ranking.
   */
  map(text: string, options: MapOptions = {}): TechniqueMatch[] {
    const topK = Math.max(1, Math.min(options.topK ?? 5, 50));
    const ranked = this.model.rank(
      text,
      topK,
      this.model.params,
      options.domains ? new Set(options.domains) : undefined,
    );
    if (options.threshold === 0) return ranked;
    const threshold = options.threshold ?? this.model.params.threshold;
    return this.model.decide(ranked, { ...this.model.params, threshold });
  }

  /** The plain ranking, without the decision. */
  rank(text: string, topK = 10, domains?: readonly AttackDomain[]): TechniqueMatch[] {
    return this.model.rank(text, topK, this.model.params, domains ? new Set(domains) : undefined);
  }
}

/**
 * Tag a text with ATT&CK techniques using a fitted mapper (the knowledge
 * base holds one: `runtime.knowledge.mapTextToTechniques`).
 *
 * @example mapTextToTechniques(mapper, 'mimikatz sekurlsa::logonpasswords', { topK: 3 })[0]?.technique_id // 'T1003.001'
 */
export function mapTextToTechniques(
  mapper: TechniqueMapper,
  text: string,
  options: MapOptions = {},
): TechniqueMatch[] {
  return mapper.map(text, options);
}
