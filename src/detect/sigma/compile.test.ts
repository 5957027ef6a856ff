import { describe, expect, it } from 'vitest';
import { engineFromText, matchingRules, ruleSetFromText, testEvent } from './testing.ts';

/** A one-rule engine over the test pipeline from a detection section written as YAML. */
function rule(detection: string, extra = ''): ReturnType<typeof engineFromText> {
  const text = `title: t\nid: r1\nlogsource: {product: test}\n${extra}detection:\n${detection
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
  const set = ruleSetFromText(text);
  const errors = set.issues.filter((i) => i.kind !== 'warning');
  if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
  return engineFromText(text);
}

const hits = (engine: ReturnType<typeof engineFromText>, raw: Record<string, unknown>) =>
  matchingRules(engine, testEvent(raw)).length > 0;

describe('Sigma values', () => {
  it('matches plain values case-insensitively and exactly', () => {
    const e = rule('sel:\n  Image: C:\\Windows\\System32\\cmd.exe\ncondition: sel');
    expect(hits(e, { Image: 'c:\\windows\\system32\\CMD.EXE' })).toBe(true);
    expect(hits(e, { Image: 'c:\\windows\\system32\\cmd.exe.bak' })).toBe(false);
    expect(hits(e, {})).toBe(false);
  });

  it('applies wildcards and their escapes as the specification says', () => {
    const e = rule("sel:\n  A: 'ab*cd?'\n  B: 'x\\*y'\n  C: 'p\\\\*'\ncondition: sel");
    expect(hits(e, { A: 'abZZZcdE', B: 'x*y', C: 'p\\anything' })).toBe(true);
    expect(hits(e, { A: 'abZZZcd', B: 'x*y', C: 'p\\anything' })).toBe(false);
    expect(hits(e, { A: 'abcdE', B: 'xzy', C: 'p\\' })).toBe(false);
    expect(hits(e, { A: 'abcdE', B: 'x*y', C: 'p*' })).toBe(false);
  });

  it('compares numbers and strings by their text', () => {
    const e = rule('sel:\n  EventID: 4688\n  Port: "22"\ncondition: sel');
    expect(hits(e, { EventID: '4688', Port: 22 })).toBe(true);
    expect(hits(e, { EventID: 46880, Port: 22 })).toBe(false);
  });

  it('treats lists as OR and maps as AND, and matches any element of an array field', () => {
    const e = rule('sel:\n  A: [x, y]\n  B: z\ncondition: sel');
    expect(hits(e, { A: 'y', B: 'z' })).toBe(true);
    expect(hits(e, { A: 'y', B: 'q' })).toBe(false);
    expect(hits(e, { A: ['q', 'x'], B: 'Z' })).toBe(true);
  });

  it('matches null as a missing or null field', () => {
    const e = rule('sel:\n  A: x\nfilter:\n  B: null\ncondition: sel and not filter');
    expect(hits(e, { A: 'x', B: 'present' })).toBe(true);
    expect(hits(e, { A: 'x' })).toBe(false);
    expect(hits(e, { A: 'x', B: null })).toBe(false);
  });
});

describe('Sigma modifiers', () => {
  it('contains, startswith, endswith and all', () => {
    const e = rule(
      "sel:\n  CommandLine|contains|all: [' -enc ', 'hidden']\n  Image|endswith: '\\powershell.exe'\n  User|startswith: 'NT AUTH'\ncondition: sel",
    );
    const base = { Image: 'C:\\x\\PowerShell.exe', User: 'nt authority\\system' };
    expect(hits(e, { ...base, CommandLine: 'powershell -w HIDDEN -enc AAA' })).toBe(true);
    expect(hits(e, { ...base, CommandLine: 'powershell -enc AAA' })).toBe(false);
    expect(hits(e, { ...base, Image: 'C:\\x\\powershell.exe.exe', CommandLine: ' -enc hidden' })).toBe(false);
  });

  it('windash matches flag dashes written as any dash, but not dashes inside words', () => {
    const e = rule("sel:\n  CommandLine|windash|contains: ' -urlcache '\ncondition: sel");
    for (const d of ['-', '/', '\u2013', '\u2014', '\u2015']) {
      expect(hits(e, { CommandLine: `certutil ${d}urlcache -f http://x` })).toBe(true);
    }
    expect(hits(e, { CommandLine: 'certutil +urlcache ' })).toBe(false);
    const inner = rule("sel:\n  CommandLine|windash|contains: 'a-b'\ncondition: sel");
    expect(hits(inner, { CommandLine: 'xa-by' })).toBe(true);
    expect(hits(inner, { CommandLine: 'xa/by' })).toBe(false);
  });

  it('base64 and base64offset find encoded text at any offset', () => {
    const plain = 'Invoke-Mimikatz';
    const e = rule(`sel:\n  CommandLine|base64offset|contains: '${plain}'\ncondition: sel`);
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const encoded = Buffer.from(`${prefix}${plain} -x`).toString('base64');
      expect(hits(e, { CommandLine: `powershell -enc ${encoded}` })).toBe(true);
    }
    expect(
      hits(e, { CommandLine: `powershell -enc ${Buffer.from('Invoke-Other').toString('base64')}` }),
    ).toBe(false);
    const exact = rule(`sel:\n  Data|base64: 'secret'\ncondition: sel`);
    expect(hits(exact, { Data: Buffer.from('secret').toString('base64') })).toBe(true);
  });

  it('wide|base64offset encodes UTF-16LE before base64', () => {
    const e = rule("sel:\n  CommandLine|wide|base64offset|contains: 'IEX'\ncondition: sel");
    const enc = Buffer.from('xIEX (New-Object)', 'utf16le').toString('base64');
    expect(hits(e, { CommandLine: `powershell -e ${enc}` })).toBe(true);
    expect(hits(e, { CommandLine: `powershell -e ${Buffer.from('xIEX', 'utf8').toString('base64')}x` })).toBe(
      false,
    );
  });

  it('re is case-sensitive unless re|i, and supports m and s', () => {
    const e = rule("sel:\n  A|re: '^ab+c$'\ncondition: sel");
    expect(hits(e, { A: 'abbbc' })).toBe(true);
    expect(hits(e, { A: 'ABBBC' })).toBe(false);
    const ci = rule("sel:\n  A|re|i: '^ab+c$'\ncondition: sel");
    expect(hits(ci, { A: 'ABBBC' })).toBe(true);
    const inline = rule("sel:\n  A|re: '(?i)evil\\.exe'\ncondition: sel");
    expect(hits(inline, { A: 'C:\\EVIL.EXE' })).toBe(true);
    const ml = rule("sel:\n  A|re|m: '^second$'\ncondition: sel");
    expect(hits(ml, { A: 'first\nsecond\nthird' })).toBe(true);
    const dot = rule("sel:\n  A|re|s: 'a.b'\ncondition: sel");
    expect(hits(dot, { A: 'a\nb' })).toBe(true);
    const nodot = rule("sel:\n  A|re: 'a.b'\ncondition: sel");
    expect(hits(nodot, { A: 'a\nb' })).toBe(false);
  });

  it('cidr matches IPv4 and IPv6 ranges', () => {
    const e = rule("sel:\n  DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\ncondition: sel");
    expect(hits(e, { DestinationIp: '10.20.30.40' })).toBe(true);
    expect(hits(e, { DestinationIp: 'FE80::1' })).toBe(true);
    expect(hits(e, { DestinationIp: '11.0.0.1' })).toBe(false);
    expect(hits(e, { DestinationIp: 'not an ip' })).toBe(false);
  });

  it('exists checks presence only', () => {
    const e = rule('sel:\n  A|exists: true\n  B|exists: false\ncondition: sel');
    expect(hits(e, { A: '' })).toBe(true);
    expect(hits(e, { A: null })).toBe(true);
    expect(hits(e, { A: 'x', B: 'y' })).toBe(false);
    expect(hits(e, {})).toBe(false);
  });

  it('lt, lte, gt and gte compare numbers, numeric strings included', () => {
    const e = rule('sel:\n  Size|gte: 100\n  Size|lt: 200\ncondition: sel');
    expect(hits(e, { Size: 100 })).toBe(true);
    expect(hits(e, { Size: '199' })).toBe(true);
    expect(hits(e, { Size: 200 })).toBe(false);
    expect(hits(e, { Size: 'big' })).toBe(false);
  });

  it('fieldref compares two fields of the event', () => {
    const e = rule('sel:\n  TargetFilename|fieldref: Image\ncondition: sel');
    expect(hits(e, { TargetFilename: 'C:\\a.exe', Image: 'c:\\A.exe' })).toBe(true);
    expect(hits(e, { TargetFilename: 'C:\\a.exe', Image: 'c:\\b.exe' })).toBe(false);
    expect(hits(e, { TargetFilename: 'C:\\a.exe' })).toBe(false);
    const sw = rule('sel:\n  Child|fieldref|startswith: Parent\ncondition: sel');
    expect(hits(sw, { Child: 'C:\\dir\\x.exe', Parent: 'c:\\DIR' })).toBe(true);
  });

  it('cased makes a value case-sensitive', () => {
    const e = rule("sel:\n  A|cased: 'MiXeD'\ncondition: sel");
    expect(hits(e, { A: 'MiXeD' })).toBe(true);
    expect(hits(e, { A: 'mixed' })).toBe(false);
  });

  it('neq excludes values but needs the field', () => {
    const e = rule("sel:\n  A|neq: ['x', 'y']\ncondition: sel");
    expect(hits(e, { A: 'z' })).toBe(true);
    expect(hits(e, { A: 'X' })).toBe(false);
    expect(hits(e, {})).toBe(false);
  });

  it('expand replaces placeholders with configured values', () => {
    const text =
      "title: t\nid: r1\nlogsource: {product: test}\ndetection:\n  sel:\n    User|expand: '%admins%'\n  condition: sel\n";
    const e = engineFromText(text, { placeholders: { admins: ['root', 'adm_*'] } });
    expect(matchingRules(e, testEvent({ User: 'ADM_jane' }))).toEqual(['r1']);
    expect(matchingRules(e, testEvent({ User: 'jane' }))).toEqual([]);
    const unknown = ruleSetFromText(text);
    expect(unknown.rules).toHaveLength(1);
    expect(unknown.issues.some((i) => i.kind === 'warning' && i.message.includes('%admins%'))).toBe(true);
    const strict = ruleSetFromText(text, { unknownPlaceholder: 'reject' });
    expect(strict.rules).toHaveLength(0);
    expect(strict.issues[0]?.kind).toBe('unsupported');
  });

  it('hour and other time modifiers read a timestamp field', () => {
    const e = rule('sel:\n  Time|hour|gte: 22\ncondition: sel');
    expect(hits(e, { Time: '2024-05-01T23:10:00Z' })).toBe(true);
    expect(hits(e, { Time: '2024-05-01T12:10:00Z' })).toBe(false);
  });
});

describe('keywords', () => {
  it('search the event text anywhere, case-insensitively', () => {
    const e = rule("keywords:\n  - 'event::clear'\n  - 'sekurlsa'\ncondition: keywords");
    expect(hits(e, { Payload: 'mimikatz # SEKURLSA::logonpasswords' })).toBe(true);
    expect(hits(e, { Payload: 'nothing here' })).toBe(false);
    expect(matchingRules(e, testEvent({}, { message: 'ran event::clear' }))).toEqual(['r1']);
  });

  it("'|all' requires every keyword", () => {
    const e = rule(
      "keywords:\n  '|all':\n    - 'OabVirtualDirectory'\n    - ' -ExternalUrl '\ncondition: keywords",
    );
    expect(hits(e, { a: 'Set-OabVirtualDirectory', b: 'x -externalurl y' })).toBe(true);
    expect(hits(e, { a: 'Set-OabVirtualDirectory' })).toBe(false);
  });
});

describe('conditions', () => {
  const sels = 'sel_a:\n  A: 1\nsel_b:\n  B: 1\nsel_c:\n  C: 1\n_private:\n  D: 1\n';

  it('1 of, all of and N of quantify over identifier patterns', () => {
    const one = rule(`${sels}condition: 1 of sel_*`);
    expect(hits(one, { B: 1 })).toBe(true);
    expect(hits(one, { D: 1 })).toBe(false);
    const all = rule(`${sels}condition: all of sel_*`);
    expect(hits(all, { A: 1, B: 1 })).toBe(false);
    expect(hits(all, { A: 1, B: 1, C: 1 })).toBe(true);
    const two = rule(`${sels}condition: 2 of sel_*`);
    expect(hits(two, { A: 1 })).toBe(false);
    expect(hits(two, { A: 1, C: 1 })).toBe(true);
  });

  it('them excludes identifiers starting with an underscore', () => {
    const e = rule(`${sels}condition: all of them`);
    expect(hits(e, { A: 1, B: 1, C: 1 })).toBe(true);
    const any = rule(`${sels}condition: 1 of them`);
    expect(hits(any, { D: 1 })).toBe(false);
  });

  it('binds not tighter than and, and tighter than or', () => {
    const e = rule(`${sels}condition: sel_a or sel_b and not sel_c`);
    expect(hits(e, { A: 1, C: 1 })).toBe(true);
    expect(hits(e, { B: 1, C: 1 })).toBe(false);
    expect(hits(e, { B: 1 })).toBe(true);
    const paren = rule(`${sels}condition: (sel_a or sel_b) and not sel_c`);
    expect(hits(paren, { A: 1, C: 1 })).toBe(false);
  });

  it('a list of conditions is an OR', () => {
    const text =
      'title: t\nid: r1\nlogsource: {product: test}\ndetection:\n  a: {A: 1}\n  b: {B: 1}\n  condition: [a, b]\n';
    const e = engineFromText(text);
    expect(matchingRules(e, testEvent({ B: 1 }))).toEqual(['r1']);
  });
});
