import { describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../test/helpers/builders.ts';
import { builtinVerdict, categoryOf, retrieveContext, TACTIC_CATEGORY } from './builtin.ts';
import { checkVerdict } from './checker.ts';
import { evidenceContext, gatherFacts } from './facts.ts';
import { inputFromAlert, inputFromSecurityAlert } from './subject.ts';
import type { AnalystKnowledge } from './types.ts';

const assets = {
  critical_hosts: ['bastion-01'],
  privileged_users: ['root'],
  crown_jewel_accounts: ['111122223333'],
};

/** A two-technique knowledge base, enough to see retrieval reach the verdict. */
const knowledge: AnalystKnowledge = {
  technique: (id) =>
    ({
      T1098: {
        id: 'T1098',
        name: 'Account Manipulation',
        tactics: ['persistence', 'privilege-escalation'],
        url: 'https://attack.mitre.org/techniques/T1098',
        mitigations: [
          {
            id: 'M1032',
            name: 'Multi-factor Authentication',
            text: 'Use MFA for user and privileged accounts. More text.',
          },
        ],
      },
      T1110: {
        id: 'T1110',
        name: 'Brute Force',
        tactics: ['credential-access'],
        url: 'https://attack.mitre.org/techniques/T1110',
        mitigations: [
          { id: 'M1036', name: 'Account Use Policies', text: 'Lock accounts after failed attempts.' },
        ],
      },
    })[id],
  mapText: async (text) =>
    /password|ssh|brute/i.test(text) ? [{ technique_id: 'T1110', name: 'Brute Force', score: 0.4 }] : [],
  retrieve: async (query, collection) => [
    {
      id: `${collection}-1`,
      title: `${collection} passage for ${query.slice(0, 20)}`,
      text: 'Step one. Step two.',
      score: 0.9,
      collection,
    },
  ],
  label: () => 'ATT&CK test',
  version: () => 'test-kb-1',
};

function cloudtrailCase() {
  const who = {
    actor: { user: { name: 'dev-alice', credential_uid: 'AKIAEXAMPLEALICE0001', type: 'IAMUser' } },
    src_endpoint: { ip: '203.0.113.45' },
  };
  const events = [
    makeEvent({
      ...who,
      activity_name: 'AttachUserPolicy',
      cloud: {
        provider: 'aws',
        operation: 'AttachUserPolicy',
        service: 'iam.amazonaws.com',
        account_uid: '111122223333',
      },
    }),
    makeEvent({
      ...who,
      activity_name: 'StopLogging',
      status: 'failure',
      cloud: {
        provider: 'aws',
        operation: 'StopLogging',
        service: 'cloudtrail.amazonaws.com',
        account_uid: '111122223333',
      },
    }),
  ];
  const incident = makeIncident({ alert_count: 3 });
  const alert = makeAlert({
    title: 'Administrator policy attached to an IAM user',
    event_ids: events.map((e) => e.id),
    detections: [
      {
        engine: 'sigma',
        rule_id: 'aws-admin-policy',
        rule_title: 'Admin policy attached',
        level: 'high',
        tags: ['attack.t1098', 'attack.persistence'],
        event_ids: events.map((e) => e.id),
      },
    ],
    mitre_techniques: ['T1098'],
    mitre_tactics: ['persistence'],
    entities: [
      { type: 'user', value: 'dev-alice' },
      { type: 'account', value: '111122223333' },
    ],
    incident_id: incident.id,
  });
  return inputFromAlert(alert, events, incident, assets);
}

describe('built-in analyst', () => {
  it('judges corroborated admin-policy abuse a true positive, with checked evidence and grounded recommendations', async () => {
    const input = cloudtrailCase();
    const ctx = await retrieveContext(input, knowledge);
    const v = builtinVerdict(input, ctx);
    expect(v.is_true_positive).toBe(true);
    expect(['high', 'critical']).toContain(v.severity);
    expect(v.category).toBe('privilege_escalation');
    expect(v.mitre_techniques).toEqual(['T1098']);
    expect(v.mitre_tactics).toEqual(expect.arrayContaining(['persistence', 'privilege-escalation']));
    expect(v.recommendations[0]).toMatchObject({
      priority: 1,
      action: expect.stringContaining('AKIAEXAMPLEALICE0001'),
    });
    expect(v.recommendations.some((r) => r.action.includes('M1032'))).toBe(true);
    expect(v.recommendations.some((r) => r.action.includes('runbook'))).toBe(true);
    expect(v.knowledge_base_references).toContain('https://attack.mitre.org/techniques/T1098');
    expect(v.iocs.map((i) => i.value)).toEqual(
      expect.arrayContaining(['203.0.113.45', 'AKIAEXAMPLEALICE0001']),
    );
    expect(v.evidence.length).toBeGreaterThanOrEqual(4);
    const check = checkVerdict(v, evidenceContext(input, gatherFacts(input.records)));
    expect(check.findings).toEqual([]);
  });

  it('judges a lone low-level alert from inside a likely false positive, and says why', async () => {
    const input = inputFromSecurityAlert(
      {
        alert_id: 'wazuh-1700000000.1',
        timestamp: '2026-11-19T08:00:00Z',
        rule_id: '5501',
        rule_description: 'PAM: Login session opened.',
        rule_level: 3,
        source_ip: '10.0.0.5',
        user: 'backup',
      },
      assets,
    );
    const v = builtinVerdict(input, await retrieveContext(input, undefined));
    expect(v.is_true_positive).toBe(false);
    expect(v.false_positive_reason).toMatch(/single low-severity detection/);
    expect(v.severity).toBe('informational');
    expect(v.investigation_priority).toBe(5);
    const check = checkVerdict(v, evidenceContext(input, gatherFacts(input.records)));
    expect(check.findings).toEqual([]);
    expect(v.evidence.find((e) => e.claim.includes('backup'))).toMatchObject({
      event_ids: ['wazuh-1700000000.1'],
      fields: ['user'],
    });
  });

  it('infers techniques from the text when the rule carries none', async () => {
    const input = inputFromSecurityAlert(
      {
        alert_id: 'a2',
        timestamp: '2026-11-19T08:00:00Z',
        rule_description: 'sshd: brute force trying to get access to the system',
        rule_level: 10,
        source_ip: '203.0.113.45',
      },
      assets,
    );
    const ctx = await retrieveContext(input, knowledge);
    expect(ctx.techniques).toEqual([expect.objectContaining({ id: 'T1110', source: 'mapper' })]);
    const v = builtinVerdict(input, ctx);
    expect(v.mitre_techniques).toEqual(['T1110']);
    expect(v.category).toBe('credential_access');
  });

  it('is deterministic', async () => {
    const input = cloudtrailCase();
    const ctx = await retrieveContext(input, knowledge);
    const strip = (v: ReturnType<typeof builtinVerdict>) => ({
      ...v,
      analysis_timestamp: '',
      processing_time_ms: 0,
    });
    expect(strip(builtinVerdict(input, ctx))).toEqual(strip(builtinVerdict(input, ctx)));
  });
});

describe('the category of a verdict', () => {
  it('follows the tactic, not a word of the description (the pack rule that said "backdoor")', async () => {
    const input = cloudtrailCase();
    // The pack rule's own title, description and tags (content/rules/cloudtrail/aws_iam_admin_policy_attached.yml).
    input.alert.title = 'Administrator policy attached to an IAM identity';
    input.alert.description =
      'The AWS-managed AdministratorAccess policy was attached to a user, role or group, or an inline policy granting every action was put on one. Attackers grant themselves or a backdoor identity full control this way.';
    input.alert.detections[0]!.tags = [
      'attack.privilege_escalation',
      'attack.persistence',
      'attack.t1098.003',
    ];
    input.alert.mitre_tactics = ['privilege-escalation', 'persistence'];
    input.alert.mitre_techniques = ['T1098.003'];
    const v = builtinVerdict(input, await retrieveContext(input, undefined));
    expect(v.category).toBe('privilege_escalation');
  });

  it.each([
    // [tactics, techniques, text, engines, expected]
    [['credential-access'], ['T1003.001'], 'Mimikatz malware dumped LSASS', ['sigma'], 'credential_access'],
    [['persistence'], ['T1136.003'], 'A backdoor user was created', ['sigma'], 'persistence'],
    [
      ['defense-evasion'],
      ['T1562.008'],
      'Trojan-like tampering: CloudTrail stopped',
      ['sigma'],
      'policy_violation',
    ],
    [['command-and-control'], ['T1071'], 'beacon to a known virus host', ['sigma'], 'command_and_control'],
    [['impact'], ['T1486'], 'Files encrypted', ['sigma'], 'malware'],
    [['impact'], ['T1499.002'], 'Service exhaustion flood', ['sigma'], 'denial_of_service'],
    [[], [], 'Ransomware note found on share', ['upstream'], 'malware'],
    [[], [], 'Port scan from one host', ['upstream'], 'reconnaissance'],
    [[], [], 'Rare sequence of API calls for this identity', ['sigma'], 'anomaly'],
    [[], [], 'Score 0.97 for the event', ['ml'], 'anomaly'],
    [[], [], 'Something happened', ['sigma'], 'other'],
  ] as const)('%j %j "%s" %j → %s', (tactics, techniques, text, engines, expected) => {
    expect(categoryOf(tactics, techniques, text, engines)).toBe(expected);
  });

  it('takes the latest tactic of the kill chain when an alert has several', () => {
    expect(categoryOf(['discovery', 'exfiltration', 'persistence'], [], 'malware', ['sigma'])).toBe(
      'data_exfiltration',
    );
    expect(categoryOf(['persistence', 'privilege-escalation'], [], '', ['sigma'])).toBe(
      'privilege_escalation',
    );
  });

  it('maps every ATT&CK Enterprise tactic but resource development to a category other than other', () => {
    const mapped = new Set(TACTIC_CATEGORY.map(([t]) => t));
    for (const t of [
      'reconnaissance',
      'initial-access',
      'execution',
      'persistence',
      'privilege-escalation',
      'defense-evasion',
      'credential-access',
      'discovery',
      'lateral-movement',
      'collection',
      'command-and-control',
      'exfiltration',
      'impact',
    ])
      expect(mapped.has(t as never)).toBe(true);
  });
});
