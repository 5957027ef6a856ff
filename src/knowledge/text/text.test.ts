import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { citationNames, stripCitations } from './citations.ts';
import { splitSentences } from './sentences.ts';
import { stem } from './stem.ts';
import { termCounts, tokenize } from './tokenize.ts';

describe('stripCitations', () => {
  it('drops citations, keeps link labels and removes inline tags', () => {
    expect(
      stripCitations(
        '[Mimikatz](https://attack.mitre.org/software/S0002) dumps <code>lsass.exe</code>.(Citation: Deply 2014)(Citation: Other)  Done.',
      ),
    ).toBe('Mimikatz dumps lsass.exe. Done.');
  });

  it('handles links whose URL holds parentheses', () => {
    expect(stripCitations('See [the docs](https://example.org/a_(b)) now')).toBe('See the docs now');
  });

  it('lists cited sources once, in order', () => {
    expect(citationNames('a (Citation: X) b (Citation: Y)(Citation: X)')).toEqual(['X', 'Y']);
  });
});

describe('stem', () => {
  it('merges inflections security text uses', () => {
    expect(stem('dumping')).toBe(stem('dumped'));
    expect(stem('credentials')).toBe('credential');
    expect(stem('scheduled')).toBe(stem('schedule'));
    expect(stem('policies')).toBe(stem('policy'));
    expect(stem('logging')).toBe(stem('logged'));
  });

  it('leaves words the plural rule would damage, and short or numeric words', () => {
    for (const w of ['process', 'access', 'analysis', 'virus', 'macos', 'alias', 'aws', 'dns', 'ec2', 's3'])
      expect(stem(w)).toBe(w);
  });
});

describe('tokenize', () => {
  it('keeps joined words whole and split, and splits camelCase', () => {
    const t = tokenize('Mimikatz dumped LSASS via lsass.exe after StopLogging');
    expect(t).toEqual(['mimikatz', 'dump', 'lsass', 'lsass', 'exe', 'lsass.exe', 'stop', 'log', 'stoplog']);
  });

  it('gives a camelCase word every token of its lower-case spelling', () => {
    for (const w of ['PowerShell', 'StopLogging', 'CloudTrail', 'IAMUser']) {
      const camel = new Set(tokenize(w));
      for (const t of tokenize(w.toLowerCase())) expect(camel).toContain(t);
    }
  });

  it('keeps technique ids, event codes and addresses, drops stop words and short numbers', () => {
    const t = tokenize('The T1059.001 event 4624 from 203.0.113.5 on port 22');
    expect(t).toContain('t1059.001');
    expect(t).toContain('4624');
    expect(t).toContain('203.0.113.5');
    expect(t).not.toContain('the');
    expect(t).not.toContain('22');
    expect(t).not.toContain('203');
  });

  it('skips giant words and survives any input', () => {
    expect(tokenize('a'.repeat(65))).toEqual([]);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const t = tokenize(s);
        expect(t.every((x) => x.length > 0 && x.length <= 64)).toBe(true);
      }),
    );
  });

  it('counts terms', () => {
    expect(termCounts('dump dumps dumped')).toEqual(new Map([['dump', 3]]));
  });
});

describe('splitSentences', () => {
  it('splits prose but not abbreviations or file names', () => {
    expect(splitSentences('It runs cmd.exe, e.g. on boot. Then it stops!\n\nNew paragraph')).toEqual([
      'It runs cmd.exe, e.g. on boot.',
      'Then it stops!',
      'New paragraph',
    ]);
  });
});
