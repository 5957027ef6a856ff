import { AisocError } from '../../errors.ts';
import { type JsonSchema, validateJson } from './json-schema.ts';
import type { LlmCompletion } from './types.ts';

/** How many `{` positions are tried before giving up on prose full of braces (bounds the work on hostile output). */
const MAX_CANDIDATES = 32;

export type Extraction =
  | { ok: true; value: unknown; source: 'whole' | 'fence' | 'embedded' }
  | { ok: false; reason: 'empty' | 'no_json' | 'malformed' | 'unbalanced'; detail: string };

/**
 * Find the JSON object in a model's text (after dropping `<think>…</think>`
 * reasoning): the whole text, else the first
 * Markdown fence that parses, else the first balanced `{…}` that parses
 * (prose before or after). An object that opens and never closes is
 * `unbalanced` (the answer was cut off); one that closes but does not parse
 * is `malformed`.
 *
 * @example
 * extractJson('Here is my verdict:\n```json\n{"severity": "high"}\n```')
 * // → { ok: true, value: { severity: 'high' }, source: 'fence' }
 */
export function extractJson(text: string): Extraction {
  // Reasoning models (DeepSeek-R1, Qwen3 through some servers) think aloud first; drafts in there are not the answer.
  const trimmed = text.replace(/<think>[\s\S]*?<\/think>/g, '').trim();
  if (trimmed === '') return { ok: false, reason: 'empty', detail: 'the answer is empty' };
  const whole = tryParse(trimmed);
  if (whole.ok && typeof whole.value === 'object' && whole.value !== null)
    return { ok: true, value: whole.value, source: 'whole' };

  for (const m of trimmed.matchAll(/```[A-Za-z0-9_-]*[^\S\n]*\n?([\s\S]*?)```/g)) {
    const inner = tryParse(m[1]!.trim());
    if (inner.ok && typeof inner.value === 'object' && inner.value !== null)
      return { ok: true, value: inner.value, source: 'fence' };
  }

  let firstFailure: string | undefined;
  let from = 0;
  for (let n = 0; n < MAX_CANDIDATES; n++) {
    const start = trimmed.indexOf('{', from);
    if (start < 0) break;
    const end = balancedEnd(trimmed, start);
    // An object that never closes means the model stopped mid-answer, even
    // when some brace-y prose before it failed to parse.
    if (end === 'unbalanced')
      return {
        ok: false,
        reason: 'unbalanced',
        detail: `the JSON object opened at character ${start} is never closed`,
      };
    if (end.mismatch) {
      firstFailure ??= `mismatched brackets at character ${end.index} in the object opened at character ${start}`;
    } else {
      const candidate = tryParse(trimmed.slice(start, end.index + 1));
      if (candidate.ok) return { ok: true, value: candidate.value, source: 'embedded' };
      firstFailure ??= candidate.error;
    }
    // Skip the whole failed object: an inner object of a malformed answer is not the answer.
    from = end.index + 1;
  }
  if (firstFailure !== undefined) return { ok: false, reason: 'malformed', detail: firstFailure };
  return { ok: false, reason: 'no_json', detail: 'the answer contains no JSON object' };
}

function tryParse(s: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * Index of the bracket that closes the object opened at `start`, skipping
 * strings and escapes; `mismatch` when a `]` closes a `{` (or the reverse);
 * `unbalanced` when the text ends first.
 */
function balancedEnd(s: string, start: number): { index: number; mismatch: boolean } | 'unbalanced' {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') stack.push('}');
    else if (c === '[') stack.push(']');
    else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return { index: i, mismatch: true };
      if (stack.length === 0) return { index: i, mismatch: false };
    }
  }
  return 'unbalanced';
}

/**
 * Turn one attempt's completion into a validated value, or throw the typed
 * error that says what is wrong: `AISOC_ERR_LLM_TRUNCATED` (the token limit
 * or an unclosed object), `AISOC_ERR_LLM_OUTPUT` (no JSON, malformed JSON, a
 * refusal, or a field that fails the schema — `field` names it).
 */
export function parseCompletion(completion: LlmCompletion, schema: JsonSchema, backend: string): unknown {
  const details = { backend, stop_reason: completion.stopDetail };
  if (completion.stop === 'length') {
    throw new AisocError(
      'AISOC_ERR_LLM_TRUNCATED',
      `The ${backend} answer was cut off by the token limit (stop reason ${completion.stopDetail}); raise max_tokens or shorten the prompt.`,
      { details: { ...details, reason: 'token_limit' } },
    );
  }
  if (completion.stop === 'refusal') {
    throw new AisocError(
      'AISOC_ERR_LLM_OUTPUT',
      `The ${backend} model refused or was filtered (stop reason ${completion.stopDetail}).`,
      { details: { ...details, reason: 'refusal', text: completion.text.slice(0, 200) } },
    );
  }
  let value: unknown;
  if (completion.structured !== undefined) value = completion.structured;
  else {
    const found = extractJson(completion.text);
    if (!found.ok) {
      const code = found.reason === 'unbalanced' ? 'AISOC_ERR_LLM_TRUNCATED' : 'AISOC_ERR_LLM_OUTPUT';
      throw new AisocError(code, `The ${backend} answer is not usable JSON: ${found.detail}.`, {
        details: { ...details, reason: found.reason },
      });
    }
    value = found.value;
  }
  const issues = validateJson(schema, value);
  if (issues.length > 0) {
    const first = issues[0]!;
    throw new AisocError(
      'AISOC_ERR_LLM_OUTPUT',
      `The ${backend} answer does not fit the schema: ${first.path} ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}.`,
      { field: first.path, details: { ...details, reason: 'schema', issues } },
    );
  }
  return value;
}
