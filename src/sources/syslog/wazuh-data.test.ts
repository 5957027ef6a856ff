import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import type { EventDraft } from '../../schema/event.ts';
import { normaliseSyslog } from './parse.ts';

/**
 * Real log lines from the Wazuh 4.14 ruleset tests (`testing/tests/*.ini`):
 * each case gives raw lines, the decoder Wazuh uses and the rule they must
 * fire. A rule whose groups say authentication (Wazuh's own judgement,
 * read from `rules/*.xml`) must get a parsed auth kind from us, with the
 * same outcome.
 */

const root = sharedData('wazuh', 'ruleset');

interface Case {
  file: string;
  title: string;
  decoder: string;
  rule: string;
  line: string;
}

function readCases(dir: string): Case[] {
  const out: Case[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ini'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const block of text.split(/^\[/m).slice(1)) {
      const title = block.slice(0, block.indexOf(']'));
      const rule = /^rule = (\d+)/m.exec(block)?.[1];
      const decoder = /^decoder = (\S*)/m.exec(block)?.[1] ?? '';
      if (!rule) continue;
      // `pass` lines must fire the rule; `fail` lines must not, so they say nothing about it.
      for (const m of block.matchAll(/^log \d+ pass = (.*)$/gm)) {
        out.push({ file, title, decoder, rule, line: m[1]! });
      }
    }
  }
  return out;
}

/** Rule id → the groups of that rule element, from every rules file. */
function readRuleGroups(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.xml'))) {
    const xml = readFileSync(join(dir, file), 'utf8');
    for (const m of xml.matchAll(/<rule id="(\d+)"[^>]*>([\s\S]*?)<\/rule>/g)) {
      const groups = /<group>([^<]*)<\/group>/.exec(m[2]!)?.[1] ?? '';
      out.set(
        m[1]!,
        groups
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean),
      );
    }
  }
  return out;
}

const SUCCESS_GROUPS = ['authentication_success'];
const FAILURE_GROUPS = ['authentication_failed', 'authentication_failures', 'invalid_login'];
const LINUX_AUTH_DECODERS = new Set(['sshd', 'sudo', 'su', 'pam']);

describe.skipIf(!root)('syslog on the Wazuh ruleset test lines', () => {
  const cases = root ? readCases(join(root, 'testing', 'tests')) : [];
  const groups = root ? readRuleGroups(join(root, 'rules')) : new Map<string, string[]>();
  const linux = cases.filter((c) => LINUX_AUTH_DECODERS.has(c.decoder));
  const opts = { timezone: 'UTC', now: () => new Date('2026-06-01T00:00:00Z') };
  const parse = (c: Case): EventDraft => normaliseSyslog(c.line, opts)[0]!;
  const kind = (e: EventDraft) => (e.unmapped?.auth as { kind?: string } | undefined)?.kind;

  it('reads every sshd, sudo, su and PAM line as syslog (none is dead-lettered)', () => {
    expect(linux.length).toBeGreaterThan(0);
    const refused: string[] = [];
    for (const c of linux) {
      try {
        const e = parse(c);
        expect(e.process?.name, c.line).toBeDefined();
        expect(e.device?.hostname ?? e.device?.ip, c.line).toBeDefined();
      } catch (err) {
        refused.push(`${c.file} [${c.title}] ${(err as Error).message}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it('gives every line of an authentication rule a parsed auth kind with the same outcome', () => {
    const checked: string[] = [];
    const wrong: string[] = [];
    for (const c of linux) {
      const g = groups.get(c.rule) ?? [];
      const success = g.some((x) => SUCCESS_GROUPS.includes(x));
      const failure = g.some((x) => FAILURE_GROUPS.includes(x));
      if (!success && !failure) continue;
      checked.push(c.line);
      const e = parse(c);
      // Wazuh's malicious-IP rules carry both groups; their outcome is then not checked.
      const expected = success && failure ? e.status : success ? 'success' : 'failure';
      if (!kind(e) || e.status !== expected || e.class_uid !== 3002) {
        wrong.push(
          `${c.file} rule ${c.rule} [${c.title}]: kind=${kind(e)} status=${e.status} class=${e.class_uid}: ${c.line}`,
        );
      }
    }
    expect(checked.length).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });

  it('finds user and source address in sshd authentication lines that name them', () => {
    const missing: string[] = [];
    for (const c of linux.filter((x) => x.decoder === 'sshd')) {
      const m = / for (?:invalid user |illegal user )?(\S+) from (\d{1,3}(?:\.\d{1,3}){3})\b/.exec(c.line);
      if (!m) continue;
      const e = parse(c);
      if (e.actor?.user?.name !== m[1] || e.src_endpoint?.ip !== m[2]) missing.push(c.line);
    }
    expect(missing).toEqual([]);
  });

  it('parses the sshd lines of other Wazuh tests (malicious IP rules) as well', () => {
    const other = cases.filter((c) => c.decoder === 'sshd' && c.file !== 'sshd.ini');
    for (const c of other) {
      const e = parse(c);
      expect(kind(e), c.line).toMatch(/^ssh_/);
      expect(e.src_endpoint?.ip, c.line).toBeDefined();
    }
  });
});
