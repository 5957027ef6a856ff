import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { RecordingPort } from '../testing/fake-port.ts';
import { evaluate, lookup } from './conditions.ts';
import { type ActionInfo, loadPlaybooks } from './load.ts';
import { render } from './template.ts';

const port = new RecordingPort();
const actions = new Map<string, ActionInfo>(port.types().map((t) => [t, port.info(t)!]));

describe('playbook loading and linting', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('loads a valid playbook', () => {
    const d = join(dir, 'good');
    mkdirSync(d);
    writeFileSync(
      join(d, 'a.yaml'),
      `id: contain-keys
name: Contain leaked keys
trigger:
  on: alert
  when: { alert.severity: { in: [high, critical] } }
steps:
  - id: score
    uses: core.score
  - id: disable
    uses: test.disable_key
    with: { access_key_id: "{{ entities.access_key | first }}" }
`,
    );
    const r = loadPlaybooks([d], actions);
    expect(r.issues).toEqual([]);
    expect(r.playbooks.map((p) => p.id)).toEqual(['contain-keys']);
    expect(r.playbooks[0]!.steps[1]!.approval).toBe('auto');
  });

  it('reports every problem of every file in one run, with lines', () => {
    const d = join(dir, 'bad');
    mkdirSync(d);
    writeFileSync(
      join(d, 'one.yaml'),
      `id: one
name: One
trigger: { on: alert }
steps:
  - id: a
    uses: test.disable_key
    with:
      access_key_id: not-a-key
  - id: b
    uses: test.delete_user
    with: { username: x }
  - id: c
    uses: no.such.action
  - id: d
    uses: test.notify
    with: { message: "{{ secrets.token }} {{ steps.later.x | shout }}" }
  - id: later
    uses: core.stop
policies:
  - action: test.delete_user
    when: { verdict.is_true_positive: true }
    reason: the model said so
`,
    );
    writeFileSync(join(d, 'two.yaml'), 'id: Two\nname: 2\ntrigger: { on: email }\nsteps: []\nextra: 1\n');
    writeFileSync(join(d, 'three.yaml'), 'id: three\n  name: [broken');
    const r = loadPlaybooks([d], actions);
    expect(r.playbooks).toEqual([]);
    const one = r.issues.filter((i) => i.file.endsWith('one.yaml'));
    const messages = one.map((i) => `${i.line}: ${i.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^8: test\.disable_key input access_key_id/),
      expect.stringMatching(/^11: test\.delete_user has no input username/),
      expect.stringMatching(/^11: test\.delete_user needs the input user/),
      expect.stringMatching(/^13: unknown step or action no\.such\.action/),
      expect.stringMatching(/^16: placeholder \{\{ secrets\.token \}\} must start with/),
      expect.stringMatching(/^16: unknown filter shout/),
      expect.stringMatching(
        /^16: \{\{ steps\.later\.x \}\} refers to step later, which does not run before this one/,
      ),
      expect.stringMatching(/^21: policies cannot read verdict\.is_true_positive/),
    ]);
    const two = r.issues.filter((i) => i.file.endsWith('two.yaml')).map((i) => i.message);
    expect(two.join('\n')).toMatch(/^id: must be lower-case/m);
    expect(two.join('\n')).toMatch(/trigger\.on/);
    expect(two.join('\n')).toMatch(/steps/);
    expect(two.join('\n')).toMatch(/extra/);
    expect(r.issues.some((i) => i.file.endsWith('three.yaml') && i.message.startsWith('YAML'))).toBe(true);
  });
});

describe('conditions and templates', () => {
  const ctx = {
    priority: 82,
    alert: {
      severity: 'high',
      mitre_tactics: ['credential-access'],
      detections: [{ rule_id: 'r1' }, { rule_id: 'r2' }],
      title: 'T',
    },
    entities: { ip: ['203.0.113.45', '198.51.100.1'], access_key: ['AKIA1'] },
    verdict: { is_true_positive: true },
  };

  it('evaluates comparisons, lists, severities and combinators', () => {
    expect(evaluate({ priority: { gte: 80 } }, ctx)).toBe(true);
    expect(evaluate({ 'alert.severity': { gte: 3 } }, ctx)).toBe(true);
    expect(evaluate({ 'alert.severity': 'HIGH' }, ctx)).toBe(true);
    expect(evaluate({ 'alert.detections.rule_id': 'r2' }, ctx)).toBe(true);
    expect(evaluate({ 'alert.mitre_tactics': { contains: 'impact' } }, ctx)).toBe(false);
    expect(
      evaluate(
        { any: [{ 'entities.ip': { contains: '10.0.0.1' } }, { 'entities.ip': { matches: '^203\\.' } }] },
        ctx,
      ),
    ).toBe(true);
    expect(evaluate({ not: { 'verdict.is_true_positive': true } }, ctx)).toBe(false);
    expect(evaluate({ 'alert.owner': { exists: false } }, ctx)).toBe(true);
    expect(
      evaluate({ all: [{ priority: { lt: 90 } }, { 'alert.severity': { in: ['critical'] } }] }, ctx),
    ).toBe(false);
    expect(lookup(ctx, 'alert.detections.rule_id')).toEqual(['r1', 'r2']);
  });

  it('renders placeholders, keeping types for whole-value placeholders', () => {
    expect(
      render(
        {
          ip: '{{ entities.ip | first }}',
          n: '{{ priority }}',
          text: 'P={{ priority }} ips={{ entities.ip | join }}',
          missing: '{{ alert.nope }}',
        },
        ctx,
      ),
    ).toEqual({
      ip: '203.0.113.45',
      n: 82,
      text: 'P=82 ips=203.0.113.45, 198.51.100.1',
    });
  });
});
