import type { AttackDomain } from '../attack/model.ts';
import { splitSentences } from '../text/sentences.ts';
import type { TechniqueMapper } from './index.ts';

/**
 * How a whole report becomes a set of techniques: each sentence is ranked
 * by the sentence mapper; a sentence *supports* a technique when its score
 * there reaches `floor` and `relative` × the sentence's best score; a
 * technique's report score is the noisy-OR of its supporting scores,
 * `1 − Π(1 − sᵢ)`, so one strong sentence or several weaker ones can carry
 * it; the report shows it when that score reaches `threshold`.
 */
export interface ReportParams {
  /** Techniques ranked per sentence. */
  per_sentence: number;
  /** Least sentence score that supports a technique. */
  floor: number;
  /** A sentence supports only techniques within this share of its best score (0–1). */
  relative: number;
  /** Report score at or above which the report shows a technique. */
  threshold: number;
}

/**
 * Calibrated on the **train** split of TRAM2's reports only (92 reports,
 * each the text fragments TRAM2 labelled in it; the mapper fitted on
 * ATT&CK's three domains alone, so it saw none of them), by report-level
 * micro-F1: 0.621 there (`aisoc eval attack-mapping --data
 * tram2-single-label.jsonl --reports --split train --tune`,
 * docs/knowledge.md). Micro-F1 is flat (0.60–0.62) over floors 0.02–0.1 and
 * relatives 0.7–0.9; higher thresholds trade it for macro-F1. The dev and
 * test splits, AnnoCTR and CTI-ATE were never used for a choice.
 */
export const DEFAULT_REPORT_PARAMS: ReportParams = {
  per_sentence: 10,
  floor: 0.06,
  relative: 0.8,
  threshold: 0.14,
};

/** A sentence that supports a technique. */
export interface SentenceEvidence {
  /** Index of the sentence in the report (0-based). */
  sentence: number;
  text: string;
  score: number;
}

export interface ReportTechnique {
  technique_id: string;
  name: string;
  domain: AttackDomain;
  /** Report score (noisy-OR of the supporting sentences' scores), 0–1. */
  score: number;
  /** How many sentences support it. */
  support: number;
  /** The best supporting sentences, best first (at most 3). */
  evidence: SentenceEvidence[];
}

export interface ReportMapping {
  /** Sentences the report was cut into. */
  sentences: number;
  /** Techniques at or above the report threshold, best first. */
  techniques: ReportTechnique[];
  /** Every supported technique, best first (at most `candidates`): what an LLM chooses from. */
  candidates: ReportTechnique[];
  params: ReportParams;
}

export interface ReportOptions {
  /** Only techniques of these domains (default: every domain loaded). */
  domains?: readonly AttackDomain[];
  params?: Partial<ReportParams>;
  /** Most candidates kept (default 30). */
  candidates?: number;
  /** Called between slices of sentences (a long report must not hold the event loop). */
  pause?: () => Promise<void>;
}

// Ten sentences between two turns of the event loop: about 8 ms at the median and 26 ms at most on the 2-core
// development machine at load average 8 (`npm run bench -- report-map`: a 200,000-character report).
const SLICE = 10;
const EVIDENCE = 3;

/** One sentence's ranking, as report aggregation and calibration need it. */
export interface SentenceRanking {
  text: string;
  ranked: ReadonlyArray<{ technique_id: string; name: string; score: number }>;
}

/**
 * The sentences of a report and each one's ranked techniques. Sentences of
 * more than 2,000 characters (tables, dumps) are cut, so one cell of noise
 * cannot swamp the ranking.
 */
export async function rankSentences(
  mapper: TechniqueMapper,
  text: string,
  options: Pick<ReportOptions, 'domains' | 'pause'> & { perSentence?: number } = {},
): Promise<SentenceRanking[]> {
  const sentences = splitSentences(text).flatMap((s) => chunk(s, 2000));
  const out: SentenceRanking[] = [];
  for (let i = 0; i < sentences.length; i++) {
    if (options.pause && i > 0 && i % SLICE === 0) await options.pause();
    const s = sentences[i]!;
    const ranked = mapper
      .rank(s, options.perSentence ?? DEFAULT_REPORT_PARAMS.per_sentence, options.domains)
      .map((r) => ({ technique_id: r.technique_id, name: r.name, score: r.score }));
    out.push({ text: s, ranked });
  }
  return out;
}

function chunk(s: string, n: number): string[] {
  if (s.length <= n) return [s];
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

/**
 * Aggregate sentence rankings into report techniques (see
 * {@link ReportParams}); every supported technique, best first.
 */
export function aggregateReport(
  rankings: readonly SentenceRanking[],
  params: ReportParams,
  domainOf: (id: string) => AttackDomain = () => 'enterprise',
): ReportTechnique[] {
  const by = new Map<string, { name: string; miss: number; evidence: SentenceEvidence[] }>();
  rankings.forEach((r, i) => {
    const best = r.ranked[0]?.score ?? 0;
    for (const m of r.ranked.slice(0, params.per_sentence)) {
      if (m.score < params.floor || m.score < params.relative * best) continue;
      const t = by.get(m.technique_id) ?? { name: m.name, miss: 1, evidence: [] };
      by.set(m.technique_id, t);
      t.miss *= 1 - Math.min(1, m.score);
      t.evidence.push({ sentence: i, text: r.text, score: m.score });
    }
  });
  return [...by.entries()]
    .map(([id, t]) => ({
      technique_id: id,
      name: t.name,
      domain: domainOf(id),
      score: round(1 - t.miss),
      support: t.evidence.length,
      evidence: t.evidence
        .sort((a, b) => b.score - a.score || a.sentence - b.sentence)
        .slice(0, EVIDENCE)
        .map((e) => ({ ...e, score: round(e.score) })),
    }))
    .sort(
      (a, b) => b.score - a.score || b.support - a.support || a.technique_id.localeCompare(b.technique_id),
    );
}

/**
 * The techniques a whole threat report shows: sentence-level mapping,
 * aggregated over the report with calibrated thresholds (see
 * {@link ReportParams}). No LLM; `candidates` is what a model may choose
 * from (`analyst/report-mapping.ts`).
 *
 * @example (await mapReport(mapper, reportText)).techniques.map((t) => t.technique_id)
 */
export async function mapReport(
  mapper: TechniqueMapper,
  text: string,
  options: ReportOptions = {},
): Promise<ReportMapping> {
  const params = { ...DEFAULT_REPORT_PARAMS, ...options.params };
  const rankings = await rankSentences(mapper, text, { ...options, perSentence: params.per_sentence });
  const all = aggregateReport(rankings, params, (id) => mapper.model.domainOf(id) ?? 'enterprise');
  return {
    sentences: rankings.length,
    techniques: all.filter((t) => t.score >= params.threshold),
    candidates: all.slice(0, options.candidates ?? 30),
    params,
  };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
