import { RE2JS } from 're2js';

/**
 * Regular expressions of `|re` values. A rule is untrusted content: a
 * pattern such as `(a+)+b` makes a backtracking engine (V8's) take
 * exponential time on a crafted event, which would hang the pipeline.
 *
 * - `re2` (default): every pattern runs on re2js, a linear-time engine (an
 *   automaton, no backtracking). The specification's regex flavour (a PCRE
 *   subset: classes, anchors, quantifiers, groups, alternation) is within
 *   RE2 syntax; lookarounds and back-references are not, and such rules are
 *   reported as unsupported.
 * - `guarded`: patterns the static guard ({@link backtrackingRisk}) finds
 *   safe run on V8's RegExp (faster per call); risky ones on re2js.
 *
 * `bench/sigma.ts` measures both on the SigmaHQ rule set.
 */
export type RegexEngine = 're2' | 'guarded';

export interface RegexFlags {
  i?: boolean;
  m?: boolean;
  s?: boolean;
}

export interface CompiledRegex {
  test(s: string): boolean;
  /** Which engine runs it. */
  engine: 're2' | 'native';
  source: string;
}

/** Why a pattern could not be compiled. */
export class RegexError extends Error {}

/**
 * Compile a Sigma regular expression.
 *
 * @example compileRegex('(?i)\\\\evil\\.exe$', {}, 're2').test('C:\\EVIL.exe') // true
 */
export function compileRegex(source: string, flags: RegexFlags, engine: RegexEngine): CompiledRegex {
  let re2: RE2JS;
  try {
    let f = 0;
    if (flags.i) f |= RE2JS.CASE_INSENSITIVE;
    if (flags.m) f |= RE2JS.MULTILINE;
    if (flags.s) f |= RE2JS.DOTALL;
    re2 = RE2JS.compile(source, f);
  } catch (err) {
    throw new RegexError(
      `regular expression ${JSON.stringify(source)} is not supported: ${(err as Error).message}`,
    );
  }
  if (engine === 'guarded' && !backtrackingRisk(source)) {
    const native = toNative(source, flags);
    if (native) return { test: (s) => native.test(s), engine: 'native', source };
  }
  return { test: (s) => re2.test(s), engine: 're2', source };
}

/** A V8 RegExp equivalent to the pattern, or undefined when the syntax differs (inline flags mid-pattern). */
function toNative(source: string, flags: RegexFlags): RegExp | undefined {
  let src = source;
  let f = '';
  const lead = /^\(\?([ims]+)\)/.exec(src);
  const all = { ...flags };
  if (lead) {
    for (const c of lead[1]!) all[c as 'i' | 'm' | 's'] = true;
    src = src.slice(lead[0].length);
  }
  if (/\(\?[a-zA-Z]/.test(src.replace(/\\./g, '')) || /\\[AzZQEpP]/.test(src)) return undefined;
  if (all.i) f += 'i';
  if (all.m) f += 'm';
  if (all.s) f += 's';
  try {
    return new RegExp(src, f);
  } catch {
    return undefined;
  }
}

/**
 * Static guard against catastrophic backtracking. Returns a reason when the
 * pattern has a shape known to blow up a backtracking engine:
 * - a quantified group whose body itself contains an unbounded quantifier
 *   or an alternation (`(a+)+`, `(a|aa)*`, `(.*,){20}`) — exponential;
 * - more than one unbounded quantifier over overlapping input (`.*a.*b`)
 *   — polynomial, which on a 32 KB command line is as bad;
 * - back-references.
 * Conservative: it may flag a safe pattern (which then runs on re2js), it
 * must never pass a dangerous one.
 */
export function backtrackingRisk(source: string): string | undefined {
  if (/\\[1-9]|\\k</.test(source)) return 'back-reference';
  let unbounded = 0;
  // Stack of groups: whether the group body holds an unbounded quantifier or an alternation.
  const stack: Array<{ risky: boolean }> = [{ risky: false }];
  let i = 0;
  let inClass = false;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      i++;
      continue;
    }
    if (c === '(') {
      stack.push({ risky: false });
      i++;
      continue;
    }
    if (c === '|') {
      stack[stack.length - 1]!.risky = true;
      i++;
      continue;
    }
    if (c === ')') {
      const group = stack.pop() ?? { risky: false };
      i++;
      const q = quantifierAt(source, i);
      if (q) {
        if (group.risky && q.repeats) return 'quantified group containing a quantifier or an alternation';
        if (q.unbounded) unbounded++;
        i += q.length;
        stack[stack.length - 1]!.risky = true;
      } else if (group.risky) stack[stack.length - 1]!.risky = true;
      continue;
    }
    const q = quantifierAt(source, i);
    if (q) {
      if (q.unbounded) {
        unbounded++;
        stack[stack.length - 1]!.risky = true;
      } else if (q.repeats) stack[stack.length - 1]!.risky = true;
      i += q.length;
      continue;
    }
    i++;
  }
  if (unbounded > 1) return 'more than one unbounded quantifier';
  return undefined;
}

function quantifierAt(
  s: string,
  i: number,
): { unbounded: boolean; repeats: boolean; length: number } | undefined {
  const c = s[i];
  let len = 0;
  let unbounded = false;
  let repeats = false;
  if (c === '*' || c === '+') {
    len = 1;
    unbounded = true;
    repeats = true;
  } else if (c === '?') {
    len = 1;
  } else if (c === '{') {
    const m = /^\{(\d*)(,?)(\d*)\}/.exec(s.slice(i));
    if (!m) return undefined;
    len = m[0].length;
    unbounded = m[2] === ',' && m[3] === '';
    repeats = unbounded || Number(m[3] || m[1] || '0') > 1;
  } else return undefined;
  if (s[i + len] === '?' || s[i + len] === '+') len++;
  return { unbounded, repeats, length: len };
}

/**
 * A literal every match must contain (lowercased), when one can be read off
 * the pattern cheaply; used to skip the regex with a substring test. Only
 * top-level literal runs outside groups, classes and optional items count.
 */
export function requiredLiteral(
  source: string,
  caseInsensitive: boolean,
): { text: string; caseInsensitive: boolean } | undefined {
  let ci = caseInsensitive;
  let src = source;
  const lead = /^\(\?([ims]+)\)/.exec(src);
  if (lead) {
    if (lead[1]!.includes('i')) ci = true;
    src = src.slice(lead[0].length);
  }
  if (/\(\?[a-zA-Z-]/.test(src) || src.includes('\\Q')) return undefined;
  let best = '';
  let cur = '';
  let depth = 0;
  let inClass = false;
  const end = () => {
    if (cur.length > best.length) best = cur;
    cur = '';
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (inClass) {
      if (c === '\\') i++;
      else if (c === ']') inClass = false;
      continue;
    }
    if (c === '|' && depth === 0) return undefined;
    if (c === '[') {
      end();
      inClass = true;
      continue;
    }
    if (c === '(') {
      end();
      depth++;
      continue;
    }
    if (c === ')') {
      depth--;
      continue;
    }
    if (depth > 0) continue;
    let ch: string | undefined;
    if (c === '\\') {
      const n = src[i + 1];
      i++;
      if (n !== undefined && /[^\w\s]/.test(n)) ch = n;
      else {
        end();
        continue;
      }
    } else if ('.^$'.includes(c)) {
      end();
      continue;
    } else if ('*+?{'.includes(c)) {
      // The previous character is quantified: drop it from the run.
      cur = cur.slice(0, -1);
      end();
      if (c === '{') while (i < src.length && src[i] !== '}') i++;
      continue;
    } else ch = c;
    const next = src[i + 1];
    if (next === '*' || next === '?' || next === '{') {
      end();
      continue;
    }
    cur += ch;
  }
  end();
  if (best.length < 3) return undefined;
  return { text: ci ? best.toLowerCase() : best, caseInsensitive: ci };
}
