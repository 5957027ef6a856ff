import { describe, expect, it } from 'vitest';
import { isAisocError } from '../../errors.ts';
import { extractJson, parseCompletion } from './output.ts';
import { TEST_VERDICT_SCHEMA, VALID_VERDICT } from './testing/schema.ts';
import type { LlmCompletion } from './types.ts';

const json = JSON.stringify(VALID_VERDICT);

function completion(text: string, over: Partial<LlmCompletion> = {}): LlmCompletion {
  return { text, stop: 'stop', stopDetail: 'stop', usage: { input_tokens: 1, output_tokens: 1 }, ...over };
}

function errorOf(f: () => unknown) {
  try {
    f();
  } catch (err) {
    if (isAisocError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('extractJson', () => {
  it.each([
    ['the whole text', json, 'whole'],
    ['a json fence', `Verdict:\n\`\`\`json\n${json}\n\`\`\``, 'fence'],
    ['a bare fence', `\`\`\`\n${json}\n\`\`\` done`, 'fence'],
    ['prose on both sides', `I looked at it. ${json} Hope this helps!`, 'embedded'],
    ['brace-y prose first', `The {alert} said {nothing useful}. ${json}`, 'embedded'],
    ['strings holding braces', `{"summary": "a } and a { inside", "n": 1}`, 'whole'],
  ])('finds JSON in %s', (_name, text, source) => {
    const r = extractJson(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.source).toBe(source);
  });

  it('ignores drafts inside <think> reasoning', () => {
    const r = extractJson('<think>maybe {"severity": "low"}? no.</think>\n{"severity": "high"}');
    expect(r).toEqual({ ok: true, value: { severity: 'high' }, source: 'whole' });
  });

  it('prefers a fence that parses over one that does not', () => {
    const r = extractJson('```json\n{broken\n```\n```json\n{"a": 1}\n```');
    expect(r).toEqual({ ok: true, value: { a: 1 }, source: 'fence' });
  });

  it.each([
    ['', 'empty'],
    ['   \n', 'empty'],
    ['no json here at all', 'no_json'],
    ['{"a": 1, "b": tru}', 'malformed'],
    ['{"a": [1, 2}', 'malformed'],
    [`Here: ${json.slice(0, 50)}`, 'unbalanced'],
    ['{"summary": "an open string', 'unbalanced'],
  ])('classifies %j as %s', (text, reason) => {
    const r = extractJson(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('does not return an inner object of a malformed answer', () => {
    const r = extractJson('{"outer": {"inner": 1}, "broken": tru}');
    expect(r.ok).toBe(false);
  });
});

describe('parseCompletion', () => {
  it('returns the validated value, from text or from structured output', () => {
    expect(parseCompletion(completion(json), TEST_VERDICT_SCHEMA, 'x')).toEqual(VALID_VERDICT);
    expect(parseCompletion(completion('', { structured: VALID_VERDICT }), TEST_VERDICT_SCHEMA, 'x')).toEqual(
      VALID_VERDICT,
    );
  });

  it('reports a length stop as truncated even when the JSON happens to parse', () => {
    const err = errorOf(() =>
      parseCompletion(
        completion(json, { stop: 'length', stopDetail: 'length' }),
        TEST_VERDICT_SCHEMA,
        'ollama',
      ),
    );
    expect(err.code).toBe('AISOC_ERR_LLM_TRUNCATED');
    expect(err.message).toContain('ollama');
  });

  it('reports a refusal', () => {
    const err = errorOf(() =>
      parseCompletion(
        completion('no', { stop: 'refusal', stopDetail: 'content_filter' }),
        TEST_VERDICT_SCHEMA,
        'x',
      ),
    );
    expect(err.code).toBe('AISOC_ERR_LLM_OUTPUT');
    expect(err.details?.reason).toBe('refusal');
  });

  it('names the first failing field and lists all issues', () => {
    const bad = { ...VALID_VERDICT, confidence: 3, iocs: [{ ioc_type: 'ip' }] };
    const err = errorOf(() => parseCompletion(completion(JSON.stringify(bad)), TEST_VERDICT_SCHEMA, 'x'));
    expect(err.code).toBe('AISOC_ERR_LLM_OUTPUT');
    expect(err.field).toBe('confidence');
    expect(err.details?.issues).toEqual([
      { path: 'confidence', message: 'must be ≤ 1' },
      { path: 'iocs[0].value', message: 'is required' },
    ]);
  });
});
