import type { ReportMapping, ReportTechnique } from '../knowledge/mapper/report.ts';
import { createSpotlight } from './guards/spotlight.ts';
import type { JsonSchema, LlmBackend } from './llm/types.ts';

/**
 * The model's part in mapping a threat report to ATT&CK: the mapper
 * proposes candidates (techniques its sentences support, with the sentences
 * as evidence) and the model chooses which the report really shows. The
 * model never proposes: its answer is constrained to the candidates' ids
 * (a JSON Schema `enum`, which strict backends enforce while decoding and
 * the wrapper checks again), and whatever it returns is filtered to the
 * candidate set once more here. The report's sentences are untrusted data,
 * spotlighted like event fields (`guards/spotlight.ts`).
 */

const RULES = [
  'You map a cyber threat report to MITRE ATT&CK techniques.',
  'A text-matching mapper read the report sentence by sentence and proposes candidate techniques, each with the sentences that made it propose the technique and a score (0–1; higher means the wording is closer to ATT&CK’s description of the technique).',
  'Choose the candidates the report actually shows the adversary (or its malware) using. Leave out a candidate whose sentences only mention a related idea, describe a defender’s action, or fit another candidate better (prefer the sub-technique the sentences describe over its parent when the sub-technique is a candidate).',
  'Answer only with ids from the candidate list, in JSON matching the schema: {"techniques": ["T1059.001", …]}. An empty list is a valid answer.',
].join('\n');

/** Most sentences quoted as evidence (each candidate brings at most three). */
const MAX_SENTENCES = 80;
/** Longest quoted sentence. */
const MAX_SENTENCE_CHARS = 600;

/** The answer schema: a list of candidate ids, nothing else. */
export function selectionSchema(candidates: readonly ReportTechnique[]): JsonSchema {
  return {
    type: 'object',
    properties: {
      techniques: {
        type: 'array',
        items: { type: 'string', enum: candidates.map((c) => c.technique_id) },
        maxItems: candidates.length,
      },
    },
    required: ['techniques'],
    additionalProperties: false,
  };
}

/** The prompt: the candidates (ours) and the evidence sentences (the report's, spotlighted). */
export function selectionPrompt(mapping: Pick<ReportMapping, 'sentences' | 'candidates'>): {
  system: string;
  user: string;
} {
  const spotlight = createSpotlight();
  const quoted = new Map<number, string>();
  for (const c of mapping.candidates)
    for (const e of c.evidence)
      if (!quoted.has(e.sentence) && quoted.size < MAX_SENTENCES)
        quoted.set(e.sentence, e.text.slice(0, MAX_SENTENCE_CHARS));
  const sentences = [...quoted.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, text]) => `S${i + 1}: ${spotlight.mark(text)}`);
  const candidates = mapping.candidates.map((c) => {
    const cited = c.evidence
      .filter((e) => quoted.has(e.sentence))
      .map((e) => `S${e.sentence + 1}`)
      .join(', ');
    return `- ${c.technique_id} ${c.name} (ATT&CK ${c.domain}; score ${c.score.toFixed(2)}; ${c.support} sentence${c.support === 1 ? '' : 's'}${cited ? `: ${cited}` : ''})`;
  });
  return {
    system: `${RULES}\n\n${spotlight.systemPrompt}`,
    user: [
      `The report has ${mapping.sentences} sentences. The sentences the candidates rest on:`,
      sentences.join('\n'),
      'Candidates:',
      candidates.join('\n'),
    ].join('\n\n'),
  };
}

/**
 * Let the model choose among the mapper's candidates. Returns ids of
 * candidates only, in the candidates' order; throws (`AISOC_ERR_LLM`) when
 * the model fails, so the caller can fall back to the mapper's decision.
 *
 * @example await selectReportTechniques(llm, reportText, await kb.mapReport(reportText)) // ['T1566.001', 'T1204.002']
 */
export async function selectReportTechniques(
  llm: LlmBackend,
  _report: string,
  mapping: Pick<ReportMapping, 'sentences' | 'candidates'>,
  options: { signal?: AbortSignal } = {},
): Promise<string[]> {
  if (mapping.candidates.length === 0) return [];
  const { system, user } = selectionPrompt(mapping);
  const result = await llm.complete({
    system,
    messages: [{ role: 'user', content: user }],
    schema: selectionSchema(mapping.candidates),
    schemaName: 'report_techniques',
    temperature: 0,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const chosen = new Set(
    (((result.json as { techniques?: unknown }).techniques ?? []) as unknown[]).filter(
      (t): t is string => typeof t === 'string',
    ),
  );
  // The schema constrains the answer; this is the guarantee: only ids the mapper proposed come back.
  return mapping.candidates.map((c) => c.technique_id).filter((id) => chosen.has(id));
}
