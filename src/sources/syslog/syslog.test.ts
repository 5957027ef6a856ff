import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventDraft } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { parseAuthMessage } from './auth.ts';
import { syslog } from './index.ts';
import { normaliseSyslog, sniffSyslog } from './parse.ts';
import { parseStructuredData } from './sd.ts';
import { inferYear, parseLeadingTime } from './time.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const SAMPLE =
  '<38>Mar  9 07:02:18 bastion-01 sshd[42103]: Failed password for invalid user oracle from 203.0.113.77 port 40112 ssh2';

// A fixed year keeps the expected fixtures stable; year inference is tested on its own below.
describeSourceConformance({ factory: syslog, config: { year: 2026 }, fixturesDir, sampleRecord: SAMPLE });

const NOW = new Date('2026-03-10T12:00:00Z');
const opts = { timezone: 'UTC', now: () => NOW };
const one = (record: unknown, o = opts): EventDraft => normaliseSyslog(record, o)[0]!;
const auth = (e: EventDraft) => (e.unmapped?.auth ?? {}) as Record<string, unknown>;

describe('syslog headers', () => {
  it('reads an RFC 3164 line: PRI, BSD time in the configured zone, host, tag and pid', () => {
    const e = one(SAMPLE);
    expect(e.time).toBe('2026-03-09T07:02:18.000Z');
    expect(e.device).toEqual({ hostname: 'bastion-01' });
    expect(e.process).toEqual({ name: 'sshd', pid: 42103 });
    expect(e.metadata).toEqual({ product: 'syslog', log_name: 'sshd' });
    expect(e.unmapped?.syslog).toMatchObject({
      format: 'rfc3164',
      pri: 38,
      facility: 4,
      facility_name: 'auth',
      severity: 6,
      severity_name: 'info',
      zone_assumed: true,
    });
    const berlin = one(SAMPLE, { ...opts, timezone: 'Europe/Berlin' });
    expect(berlin.time).toBe('2026-03-09T06:02:18.000Z');
    const summer = one(SAMPLE.replace('Mar  9', 'Jul  9'), { ...opts, timezone: 'Europe/Berlin' });
    expect(summer.time).toBe('2025-07-09T05:02:18.000Z');
    expect(one(SAMPLE, { ...opts, timezone: '-05:30' }).time).toBe('2026-03-09T12:32:18.000Z');
  });

  it('reads headerless /var/log lines and the timestamp variants daemons write', () => {
    const cases: Array<[string, string, string | undefined, string | undefined]> = [
      ['Mar  9 07:02:18 web sshd[1]: x', '2026-03-09T07:02:18.000Z', 'web', 'sshd'],
      ['2026-03-09T07:02:18.901728+01:00 web sshd[1]: x', '2026-03-09T06:02:18.901Z', 'web', 'sshd'],
      [
        '2020-03-23 06:47:42.801612-0700  localhost sshd[3186]: x',
        '2020-03-23T13:47:42.801Z',
        'localhost',
        'sshd',
      ],
      ['2015 Nov 13 13:40:01 ether rsyslogd-2177: x', '2015-11-13T13:40:01.000Z', 'ether', 'rsyslogd-2177'],
      [
        'Mar  9 2024 07:31:12 core-sw-01 %LINK-3-UPDOWN: x',
        '2024-03-09T07:31:12.000Z',
        'core-sw-01',
        '%LINK-3-UPDOWN',
      ],
      ['Mar  9 07:02:18 sshd[1]: no hostname', '2026-03-09T07:02:18.000Z', undefined, 'sshd'],
    ];
    for (const [line, time, host, program] of cases) {
      const e = one(line);
      expect(e.time, line).toBe(time);
      expect(e.device?.hostname, line).toBe(host);
      expect(e.process?.name, line).toBe(program);
      expect(e.unmapped?.syslog, line).toMatchObject({ format: 'file' });
    }
  });

  it('reads RFC 5424: header fields, nil values, and the message after structured data', () => {
    const e = one(
      '<165>1 2026-03-09T07:20:41.5Z fw-edge-2 policyd 7731 ALLOW [origin ip="192.0.2.1"] Allowed',
    );
    expect(e.time).toBe('2026-03-09T07:20:41.500Z');
    expect(e.device?.hostname).toBe('fw-edge-2');
    expect(e.process).toEqual({ name: 'policyd', pid: 7731 });
    expect(e.metadata?.event_code).toBe('ALLOW');
    expect(e.message).toBe('Allowed');
    expect(e.unmapped?.syslog).toMatchObject({
      format: 'rfc5424',
      facility_name: 'local4',
      severity_name: 'notice',
      msgid: 'ALLOW',
      structured_data: { origin: { ip: '192.0.2.1' } },
    });
    const nil = one('<38>1 - - - - - - only a message');
    expect(nil.time).toBe(NOW.toISOString());
    expect(nil.device).toBeUndefined();
    expect(nil.message).toBe('only a message');
    expect(nil.unmapped?.syslog).toMatchObject({ time_from: 'clock' });
  });

  it('drops a UTF-8 BOM at the start of an RFC 5424 MSG', () => {
    const withBom = Buffer.concat([
      Buffer.from('<13>1 2026-03-09T07:24:00Z host-a app - - - '),
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('message with a BOM'),
    ]).toString('utf8');
    expect(one(withBom).message).toBe('message with a BOM');
    expect(one(withBom.replace(' - \uFEFF', ' [a@1 b="c"] \uFEFF')).message).toBe('message with a BOM');
  });

  it('keeps a message whose structured data is malformed, saying why', () => {
    const e = one('<11>1 2026-03-09T07:22:10Z db-3 postgres 3307 ERR [bad sd without closing bracket');
    expect(e.message).toBe('[bad sd without closing bracket');
    expect(e.unmapped?.syslog).toMatchObject({ structured_data_error: 'expected ="value" after sd' });
  });

  it('maps syslog severity onto OCSF severity_id', () => {
    const sev = (pri: number) => one(`<${pri}>Mar  9 07:00:00 h app: x`).severity_id;
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((s) => sev(8 + s))).toEqual([6, 5, 5, 4, 3, 2, 1, 1]);
    expect(one('Mar  9 07:00:00 h app: x').severity_id).toBe(1);
    // A failed login logged at info is still raised to Low.
    expect(one(SAMPLE).severity_id).toBe(2);
  });

  it('treats <PRI> followed by no header as the message, timed by the receiver', () => {
    const e = one({ message: '<13>hello world', received_at: '2026-03-10T11:59:59Z', peer_ip: '192.0.2.9' });
    expect(e.message).toBe('hello world');
    expect(e.time).toBe('2026-03-10T11:59:59.000Z');
    expect(e.device).toEqual({ ip: '192.0.2.9' });
    expect(e.unmapped?.syslog).toMatchObject({
      format: 'unparsed',
      time_from: 'received_at',
      peer_ip: '192.0.2.9',
    });
  });

  it('keeps receiver details of an envelope and says when a message was truncated', () => {
    const e = one({
      message: SAMPLE,
      peer_ip: '10.0.0.5',
      peer_port: 51514,
      transport: 'tcp',
      truncated_from_bytes: 90000,
    });
    expect(e.device).toEqual({ hostname: 'bastion-01' });
    expect(e.unmapped?.syslog).toMatchObject({
      peer_ip: '10.0.0.5',
      peer_port: 51514,
      transport: 'tcp',
      truncated_from_bytes: 90000,
    });
    expect(e.raw).toMatchObject({ message: SAMPLE });
  });

  it('refuses what is not syslog with a reason naming the field', () => {
    expect(() => one('just some words')).toThrow(/neither <PRI> nor a timestamp/);
    expect(() => one(42)).toThrow(/text line/);
    expect(() => one({ message: 7 })).toThrow(/message must be a string/);
    const r = normaliseText(syslog.create({ timezone: 'UTC' }, { logger: silentLogger() }), 'nonsense\n');
    expect(r.deadLetters).toMatchObject([{ field: 'timestamp', code: 'AISOC_ERR_PARSE' }]);
  });
});

describe('syslog structured data', () => {
  it('unescapes \\" \\\\ and \\] and keeps any other backslash as it is', () => {
    const r = parseStructuredData(
      '[rule@32473 name="allow \\"dns\\" out" path="C:\\\\rules" note="ends with \\] bracket" odd="a\\b"] rest',
    );
    expect(r.data).toEqual({
      'rule@32473': { name: 'allow "dns" out', path: 'C:\\rules', note: 'ends with ] bracket', odd: 'a\\b' },
    });
    expect(r.rest).toBe(' rest');
  });

  it('reads several elements, repeated parameter names and empty elements', () => {
    expect(parseStructuredData('[a@1 x="1" x="2"][b@2][c@3 y=""]').data).toEqual({
      'a@1': { x: ['1', '2'] },
      'b@2': {},
      'c@3': { y: '' },
    });
  });

  it('refuses malformed structured data', () => {
    expect(() => parseStructuredData('[a@1 x=1]')).toThrow(/="value"/);
    expect(() => parseStructuredData('[a@1 x="1"')).toThrow(/"]"/);
    expect(() => parseStructuredData('[a@1 x="unterminated')).toThrow(/unterminated/);
    expect(() => parseStructuredData('nope')).toThrow();
  });
});

describe('syslog year inference', () => {
  const w = (month: number, day: number) => ({ month, day, hour: 12, minute: 0, second: 0, millis: 0 });
  it('dates a December line read in January to the previous year', () => {
    expect(inferYear(w(12, 31), 'UTC', new Date('2027-01-02T00:00:00Z'))).toBe(2026);
  });
  it('dates a line a little ahead of the clock at new year to the next year', () => {
    const line = { month: 1, day: 1, hour: 0, minute: 0, second: 5, millis: 0 };
    expect(inferYear(line, 'UTC', new Date('2026-12-31T23:59:59Z'))).toBe(2027);
  });
  it('dates a line from earlier this year to this year, and one from later in the calendar to last year', () => {
    expect(inferYear(w(3, 1), 'UTC', new Date('2026-11-20T00:00:00Z'))).toBe(2026);
    expect(inferYear(w(11, 25), 'UTC', new Date('2026-03-01T00:00:00Z'))).toBe(2025);
  });
  it('finds the leap year for 29 February, and refuses dates that do not exist', () => {
    expect(inferYear(w(2, 29), 'UTC', new Date('2025-03-05T00:00:00Z'))).toBe(2024);
    expect(parseLeadingTime('Feb 30 12:00:00 h x', { timezone: 'UTC', now: NOW })).toBeUndefined();
  });
  it('uses the configured year instead, for replaying old files', () => {
    expect(one(SAMPLE, { ...opts, year: 2019 } as typeof opts).time).toBe('2019-03-09T07:02:18.000Z');
  });
});

describe('linux authentication messages', () => {
  const cases: Array<{
    line: string;
    kind: string;
    cls: number;
    status: string;
    user?: string;
    ip?: string;
    port?: number;
    extra?: Record<string, unknown>;
  }> = [
    {
      line: 'Mar  9 07:02:18 h sshd[1]: Failed password for root from 203.0.113.77 port 40388 ssh2',
      kind: 'ssh_failed_password',
      cls: 3002,
      status: 'failure',
      user: 'root',
      ip: '203.0.113.77',
      port: 40388,
      extra: { method: 'password', invalid_user: false },
    },
    {
      line: 'Mar  9 07:02:18 h sshd[1]: Failed password for invalid user oracle from 203.0.113.77 port 40112 ssh2',
      kind: 'ssh_failed_password',
      cls: 3002,
      status: 'failure',
      user: 'oracle',
      ip: '203.0.113.77',
      port: 40112,
      extra: { invalid_user: true },
    },
    {
      line: 'Mar  9 07:02:18 h sshd[1]: Failed publickey for git from 2001:db8::5 port 2222 ssh2: RSA SHA256:abc',
      kind: 'ssh_failed_publickey',
      cls: 3002,
      status: 'failure',
      user: 'git',
      ip: '2001:db8::5',
      port: 2222,
      extra: { key_type: 'RSA', key_fingerprint: 'SHA256:abc' },
    },
    {
      line: 'Mar  9 08:15:33 h sshd[1]: Accepted password for alice from 10.20.4.18 port 50322 ssh2',
      kind: 'ssh_accepted',
      cls: 3002,
      status: 'success',
      user: 'alice',
      ip: '10.20.4.18',
      port: 50322,
      extra: { method: 'password' },
    },
    {
      line: 'Mar  9 08:15:33 h sshd-session[1]: Accepted publickey for deploy from 10.20.4.18 port 50322 ssh2: ED25519 SHA256:q3mV',
      kind: 'ssh_accepted',
      cls: 3002,
      status: 'success',
      user: 'deploy',
      ip: '10.20.4.18',
      port: 50322,
      extra: { method: 'publickey', key_type: 'ED25519' },
    },
    {
      line: 'Mar  9 07:02:14 h sshd[1]: Invalid user oracle from 203.0.113.77 port 40112',
      kind: 'ssh_invalid_user',
      cls: 3002,
      status: 'failure',
      user: 'oracle',
      ip: '203.0.113.77',
      port: 40112,
    },
    {
      line: 'Mar  9 07:02:14 h sshd[1]: Invalid user  from 203.0.113.77',
      kind: 'ssh_invalid_user',
      cls: 3002,
      status: 'failure',
      ip: '203.0.113.77',
    },
    {
      line: 'Mar  9 07:11:15 h sshd[1]: Connection closed by authenticating user ubuntu 192.0.2.140 port 51716 [preauth]',
      kind: 'ssh_connection_closed',
      cls: 3002,
      status: 'unknown',
      user: 'ubuntu',
      ip: '192.0.2.140',
      port: 51716,
      extra: { preauth: true },
    },
    {
      line: 'Mar  9 07:11:15 h sshd[1]: Connection closed by 192.0.2.140 port 51716',
      kind: 'ssh_connection_closed',
      cls: 3002,
      status: 'unknown',
      ip: '192.0.2.140',
      extra: { preauth: false },
    },
    {
      line: 'Mar  9 08:40:00 h sshd[1]: Disconnected from user deploy 10.20.4.18 port 50322',
      kind: 'ssh_disconnected',
      cls: 3002,
      status: 'unknown',
      user: 'deploy',
      ip: '10.20.4.18',
    },
    {
      line: 'Mar  9 08:40:00 h sshd[1]: Disconnected from invalid user root 172.18.1.100 port 43042 [preauth]',
      kind: 'ssh_disconnected',
      cls: 3002,
      status: 'failure',
      user: 'root',
      extra: { invalid_user: true, preauth: true },
    },
    {
      line: 'Mar  9 07:03:49 h sshd[1]: error: maximum authentication attempts exceeded for root from 203.0.113.77 port 40388 ssh2 [preauth]',
      kind: 'ssh_max_auth_attempts',
      cls: 3002,
      status: 'failure',
      user: 'root',
      ip: '203.0.113.77',
      port: 40388,
    },
    {
      line: 'Mar  9 07:03:49 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.77  user=root',
      kind: 'pam_auth_failure',
      cls: 3002,
      status: 'failure',
      user: 'root',
      ip: '203.0.113.77',
      extra: { pam_module: 'pam_unix', pam_service: 'sshd', pam_type: 'auth', tty: 'ssh' },
    },
    {
      line: 'Mar  9 07:03:49 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=scanner.example.net',
      kind: 'pam_auth_failure',
      cls: 3002,
      status: 'failure',
    },
    {
      line: 'Mar  9 08:16:02 h sudo:   deploy : TTY=pts/2 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx',
      kind: 'sudo_command',
      cls: 3002,
      status: 'success',
      user: 'deploy',
      extra: {
        target_user: 'root',
        tty: 'pts/2',
        pwd: '/home/deploy',
        command: '/usr/bin/systemctl restart nginx',
      },
    },
    {
      line: 'Mar  9 08:17:40 h sudo:   deploy : 3 incorrect password attempts ; TTY=pts/2 ; PWD=/home/deploy ; USER=root ; COMMAND=/bin/sh -c id ; whoami',
      kind: 'sudo_auth_failure',
      cls: 3002,
      status: 'failure',
      user: 'deploy',
      extra: { attempts: 3, command: '/bin/sh -c id ; whoami', target_user: 'root' },
    },
    {
      line: 'Mar  9 08:17:40 h sudo:   mallory : user NOT in sudoers ; TTY=pts/3 ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash',
      kind: 'sudo_not_in_sudoers',
      cls: 3002,
      status: 'failure',
      user: 'mallory',
    },
    {
      line: 'Mar  9 08:19:05 h su: (to root) deploy on pts/2',
      kind: 'su_success',
      cls: 3002,
      status: 'success',
      user: 'deploy',
      extra: { target_user: 'root', tty: 'pts/2' },
    },
    {
      line: 'Mar  9 08:20:11 h su[77]: FAILED SU (to postgres) deploy on pts/2',
      kind: 'su_failure',
      cls: 3002,
      status: 'failure',
      user: 'deploy',
      extra: { target_user: 'postgres' },
    },
    {
      line: 'Mar  9 08:15:33 h sshd[1]: pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)',
      kind: 'session_opened',
      cls: 3002,
      status: 'success',
      user: 'deploy',
      extra: { uid: '1001' },
    },
    {
      line: 'Mar  9 08:22:47 h useradd[42690]: new user: name=svc-backup, UID=1005, GID=1005, home=/home/svc-backup, shell=/bin/bash, from=/dev/pts/2',
      kind: 'user_created',
      cls: 3001,
      status: 'success',
      extra: {
        target_user: 'svc-backup',
        uid: '1005',
        gid: '1005',
        home: '/home/svc-backup',
        shell: '/bin/bash',
      },
    },
    {
      line: "Mar  9 08:31:55 h userdel[42801]: delete user 'svc-backup'",
      kind: 'user_deleted',
      cls: 3001,
      status: 'success',
      extra: { target_user: 'svc-backup' },
    },
    {
      line: "Mar  9 08:23:02 h usermod[42702]: add 'svc-backup' to group 'sudo'",
      kind: 'group_member_added',
      cls: 3006,
      status: 'success',
      extra: { target_user: 'svc-backup', group: 'sudo' },
    },
    {
      line: "Mar  9 08:23:02 h usermod[42702]: change user 'svc-backup' shell from '/bin/sh' to '/bin/bash'",
      kind: 'user_modified',
      cls: 3001,
      status: 'success',
      extra: { attribute: 'shell', from: '/bin/sh', to: '/bin/bash' },
    },
    {
      line: 'Mar  9 08:24:12 h groupadd[42720]: group added to /etc/group: name=dbadmins, GID=1006',
      kind: 'group_created',
      cls: 3006,
      status: 'success',
      extra: { group: 'dbadmins', gid: '1006' },
    },
    {
      line: 'Mar  9 08:23:30 h passwd[42711]: pam_unix(passwd:chauthtok): password changed for svc-backup',
      kind: 'password_changed',
      cls: 3001,
      status: 'success',
      extra: { target_user: 'svc-backup' },
    },
    {
      line: 'Mar  9 07:10:02 h sshd[1]: Did not receive identification string from 198.51.100.23 port 58220',
      kind: 'ssh_no_identification',
      cls: 4007,
      status: 'failure',
      ip: '198.51.100.23',
      port: 58220,
    },
    {
      line: "Mar  9 07:30:00 h login[900]: FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure",
      kind: 'login_failed',
      cls: 3002,
      status: 'failure',
      user: 'root',
    },
  ];

  for (const c of cases) {
    it(`parses ${c.kind}: ${c.line.slice(c.line.indexOf(': ') + 2, c.line.indexOf(': ') + 60)}`, () => {
      const e = one(c.line);
      expect(auth(e).kind).toBe(c.kind);
      expect(e.class_uid).toBe(c.cls);
      expect(e.status).toBe(c.status);
      expect(e.actor?.user?.name).toBe(c.user);
      if (c.ip) expect(e.src_endpoint?.ip).toBe(c.ip);
      if (c.port !== undefined) expect(e.src_endpoint?.port).toBe(c.port);
      if (c.extra) expect(auth(e)).toMatchObject(c.extra);
      expect(e.device?.hostname).toBe('h');
      expect(e.process?.name).toBeDefined();
      if (c.ip) expect(e.observables).toContainEqual({ type: 'ip', value: c.ip, name: 'src_endpoint.ip' });
    });
  }

  it('names the sshd service for OpenSSH 9.8 sshd-session while keeping the program as logged', () => {
    const e = one('Mar  9 08:15:33 h sshd-session[9]: Accepted password for a from 10.0.0.1 port 1 ssh2');
    expect(e.metadata?.log_name).toBe('sshd');
    expect(e.process?.name).toBe('sshd-session');
  });

  it('leaves lines that are no known auth message as Base Events with their message', () => {
    const e = one('Mar  9 08:15:33 h systemd-logind[812]: New session 311 of user deploy.');
    expect(e.class_uid).toBe(0);
    expect(e.unmapped?.auth).toBeUndefined();
    expect(e.message).toBe('New session 311 of user deploy.');
    expect(e.metadata?.log_name).toBe('systemd-logind');
  });

  it('does not parse auth from a very long message (bounded work per line)', () => {
    const long = `Failed password for ${'x'.repeat(5000)} from 203.0.113.1 port 1 ssh2`;
    expect(parseAuthMessage('sshd', long)).toBeUndefined();
  });
});

describe('syslog fixtures', () => {
  const source = syslog.create({ timezone: 'UTC', year: 2026 }, { logger: silentLogger() });
  const text = readFileSync(join(fixturesDir, 'auth-log.log'), 'utf8');

  it('turns an auth.log excerpt into events and dead-letters only the line that is not syslog', () => {
    const r = normaliseText(source, text);
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    expect(r.events.length + r.deadLetters.length).toBe(lines.length);
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0]!.record).toBe('this line was written by something that is not syslog');
    const kinds = r.events.map((e) => (e.unmapped?.auth as { kind?: string } | undefined)?.kind);
    expect(kinds.filter((k) => k === 'ssh_failed_password')).toHaveLength(2);
    expect(r.events.filter((e) => e.class_uid === 3001).length).toBeGreaterThanOrEqual(3);
  });
});

describe('syslog sniffing', () => {
  it('claims syslog lines and nothing else', () => {
    expect(sniffSyslog(SAMPLE)).toBeGreaterThan(0.5);
    expect(sniffSyslog('<165>1 2026-03-09T07:20:41.5Z fw policyd 7731 ALLOW - x')).toBeGreaterThan(0.5);
    expect(
      sniffSyslog('Mar  9 07:02:18 bastion-01 sshd[42103]: Invalid user x from 1.2.3.4'),
    ).toBeGreaterThan(0.5);
    expect(sniffSyslog('2026-03-09T07:32:00.123+01:00 app-07 CRON[5521]: (root) CMD (x)')).toBeGreaterThan(
      0.5,
    );
    for (const other of [
      { eventName: 'x', eventSource: 'y' },
      '#separator \\x09',
      '1700000000.1\tCabc\t10.0.0.1\t5353',
      'Flow ID,Src IP,Dst IP',
      '{"EventID": 4624}',
      '2026-03-09,12:00:00,foo',
    ]) {
      expect(sniffSyslog(other), JSON.stringify(other)).toBe(0);
    }
  });

  it('refuses an unknown config key and a zone that does not exist', () => {
    expect(syslog.configSchema.safeParse({ zone: 'UTC' }).success).toBe(false);
    expect(syslog.configSchema.safeParse({ timezone: 'Mars/Olympus' }).success).toBe(false);
    expect(syslog.configSchema.parse({})).toEqual({ timezone: 'UTC' });
  });
});
