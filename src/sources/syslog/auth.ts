/**
 * Linux authentication and account messages (sshd, PAM, sudo, su, login,
 * and the shadow-utils account tools) parsed into structured fields, so
 * detection rules match on a kind (`ssh_failed_password`) instead of
 * re-parsing text. Every pattern is anchored and linear; messages longer
 * than {@link MAX_AUTH_MESSAGE} are not parsed (no auth message is that long).
 */

export const MAX_AUTH_MESSAGE = 4096;

/** What an auth message is about; decides the OCSF class of the event. */
export type AuthCategory = 'authentication' | 'account' | 'group' | 'ssh_connection';

export type AuthStatus = 'success' | 'failure' | 'unknown';

export interface AuthInfo {
  /** Stable name of the message kind, e.g. `ssh_failed_password`, `sudo_command`, `user_created`. */
  kind: string;
  category: AuthCategory;
  status: AuthStatus;
  /** OCSF-style activity: Logon, Logoff, Create, Delete, Add User, … */
  activity: string;
  /** The user who acted or tried to (the account logging in, the sudo caller). */
  user?: string;
  /** The account acted on (sudo/su target, a created or deleted account). */
  target_user?: string;
  group?: string;
  src_ip?: string;
  src_port?: number;
  /** A remote host given by name rather than address. */
  src_host?: string;
  /** Further parsed fields: method, invalid_user, tty, pwd, command, attempts, uid, … */
  fields: Record<string, string | number | boolean>;
}

const IP = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+(?:%\w+)?)$/;

function portOf(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

/** Put a remote peer into `src_ip` when it is an address, else `src_host`. */
function withPeer(info: AuthInfo, peer: string | undefined, port?: string): AuthInfo {
  if (peer && peer !== '-' && peer !== 'UNKNOWN') {
    if (IP.test(peer)) info.src_ip = peer;
    else info.src_host = peer;
  }
  const p = portOf(port);
  if (p !== undefined) info.src_port = p;
  return info;
}

function make(
  kind: string,
  category: AuthCategory,
  status: AuthStatus,
  activity: string,
  fields: AuthInfo['fields'] = {},
): AuthInfo {
  return { kind, category, status, activity, fields };
}

// ---------------------------------------------------------------- sshd

const SSH_METHOD_KIND: Record<string, string> = {
  password: 'password',
  'keyboard-interactive': 'password',
  'keyboard-interactive/pam': 'password',
  publickey: 'publickey',
};

const SSHD: Array<[RegExp, (m: RegExpExecArray) => AuthInfo]> = [
  [
    /^Accepted (\S+) for (.*?) from (\S+) port (\d+)(?: ssh\d?)?(?:: (\S+)(?: (\S+))?)?$/,
    (m) => {
      const info = make('ssh_accepted', 'authentication', 'success', 'Logon', { method: m[1]! });
      if (m[5]) info.fields.key_type = m[5];
      if (m[6]) info.fields.key_fingerprint = m[6];
      info.user = m[2]!;
      return withPeer(info, m[3], m[4]);
    },
  ],
  [
    /^Failed (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)(?: ssh\d?)?(?:: (\S+)(?: (\S+))?)?$/,
    (m) => {
      const method = m[1]!;
      const info = make(
        `ssh_failed_${SSH_METHOD_KIND[method] ?? 'auth'}`,
        'authentication',
        'failure',
        'Logon',
        {
          method,
          invalid_user: m[2] !== undefined,
        },
      );
      if (m[6]) info.fields.key_type = m[6];
      if (m[7]) info.fields.key_fingerprint = m[7];
      info.user = m[3]!;
      return withPeer(info, m[4], m[5]);
    },
  ],
  [
    /^[Ii]nvalid user (.*?) from (\S+)(?: port (\d+))?$/,
    (m) => {
      const info = make('ssh_invalid_user', 'authentication', 'failure', 'Logon', { invalid_user: true });
      info.user = m[1]!;
      return withPeer(info, m[2], m[3]);
    },
  ],
  [
    /^input_userauth_request: invalid user (.*?)(?: \[preauth\])?$/,
    (m) => {
      const info = make('ssh_invalid_user', 'authentication', 'failure', 'Logon', {
        invalid_user: true,
        preauth: true,
      });
      info.user = m[1]!;
      return info;
    },
  ],
  [
    /^User (\S+) from (\S+) not allowed because (.+)$/,
    (m) => {
      const info = make('ssh_user_denied', 'authentication', 'failure', 'Logon', { reason: m[3]! });
      info.user = m[1]!;
      return withPeer(info, m[2]);
    },
  ],
  [
    /^(?:error: )?maximum authentication attempts exceeded for (invalid user )?(.*?) from (\S+) port (\d+)(?: ssh\d?)?( \[preauth\])?$/,
    (m) => {
      const info = make('ssh_max_auth_attempts', 'authentication', 'failure', 'Logon', {
        invalid_user: m[1] !== undefined,
        preauth: m[5] !== undefined,
      });
      info.user = m[2]!;
      return withPeer(info, m[3], m[4]);
    },
  ],
  [
    /^Postponed (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)(?: ssh\d?)?( \[preauth\])?$/,
    (m) => {
      const info = make('ssh_auth_postponed', 'authentication', 'unknown', 'Logon', {
        method: m[1]!,
        invalid_user: m[2] !== undefined,
        preauth: m[6] !== undefined,
      });
      info.user = m[3]!;
      return withPeer(info, m[4], m[5]);
    },
  ],
  [
    /^error: PAM: (.+?) for (illegal user |invalid user )?(\S*) from (\S+)$/,
    (m) => {
      const info = make('ssh_pam_failure', 'authentication', 'failure', 'Logon', {
        reason: m[1]!,
        invalid_user: m[2] !== undefined,
      });
      info.user = m[3]!;
      return withPeer(info, m[4]);
    },
  ],
  [
    /^Connection (closed|reset) by (?:(authenticating|invalid) user (.*?) )?(\S+) port (\d+)( \[preauth\])?$/,
    (m) => {
      const info = make(`ssh_connection_${m[1]}`, 'authentication', 'unknown', m[6] ? 'Logon' : 'Logoff', {
        preauth: m[6] !== undefined,
      });
      if (m[2] === 'invalid') info.fields.invalid_user = true;
      if (m[3] !== undefined) info.user = m[3];
      return withPeer(info, m[4], m[5]);
    },
  ],
  [
    /^Disconnected from (?:(authenticating user|invalid user|user) (.*?) )?(\S+) port (\d+)( \[preauth\])?$/,
    (m) => {
      const info = make('ssh_disconnected', 'authentication', 'unknown', m[5] ? 'Logon' : 'Logoff', {
        preauth: m[5] !== undefined,
      });
      if (m[1] === 'invalid user') info.fields.invalid_user = true;
      if (m[2] !== undefined) info.user = m[2];
      return withPeer(info, m[3], m[4]);
    },
  ],
  [
    /^Disconnecting (?:(authenticating|invalid) user (.*?) )?(\S+) port (\d+)(?:: (.*?))?( \[preauth\])?$/,
    (m) => {
      const tooMany = m[5] !== undefined && /too many authentication failures/i.test(m[5]);
      const info = make(
        'ssh_disconnecting',
        'authentication',
        tooMany || m[1] ? 'failure' : 'unknown',
        'Logon',
        {
          preauth: m[6] !== undefined,
        },
      );
      if (m[5]) info.fields.reason = m[5];
      if (m[1] === 'invalid') info.fields.invalid_user = true;
      if (m[2] !== undefined) info.user = m[2];
      return withPeer(info, m[3], m[4]);
    },
  ],
  [
    /^Received disconnect from (\S+) port (\d+):(\d+): (.*?)( \[preauth\])?$/,
    (m) =>
      withPeer(
        make('ssh_received_disconnect', 'authentication', 'unknown', m[5] ? 'Logon' : 'Logoff', {
          reason_code: Number(m[3]),
          reason: m[4]!,
          preauth: m[5] !== undefined,
        }),
        m[1],
        m[2],
      ),
  ],
  [
    /^Authentication refused: (.+)$/,
    (m) => make('ssh_auth_refused', 'authentication', 'failure', 'Logon', { reason: m[1]! }),
  ],
  [
    /^Starting session: (.+?) for (\S+) from (\S+) port (\d+)(?: id \d+)?$/,
    (m) => {
      const info = make('ssh_session_started', 'authentication', 'success', 'Logon', { session: m[1]! });
      info.user = m[2]!;
      return withPeer(info, m[3], m[4]);
    },
  ],
  [
    /^Did not receive identification string from (\S+)(?: port (\d+))?$/,
    (m) => withPeer(make('ssh_no_identification', 'ssh_connection', 'failure', 'Open'), m[1], m[2]),
  ],
  [
    /^Bad protocol version identification '(.*)' from (\S+)(?: port (\d+))?$/,
    (m) =>
      withPeer(
        make('ssh_bad_protocol', 'ssh_connection', 'failure', 'Open', { identification: m[1]! }),
        m[2],
        m[3],
      ),
  ],
  [
    /^(?:fatal: )?Unable to negotiate with (\S+?)(?: port (\d+))?: (.*?)(?: \[preauth\])?$/,
    (m) =>
      withPeer(
        make('ssh_negotiation_failed', 'ssh_connection', 'failure', 'Open', { reason: m[3]! }),
        m[1],
        m[2],
      ),
  ],
  [
    /^banner exchange: Connection from (\S+) port (\d+): (.*)$/,
    (m) =>
      withPeer(
        make('ssh_banner_exchange_failed', 'ssh_connection', 'failure', 'Open', { reason: m[3]! }),
        m[1],
        m[2],
      ),
  ],
  [
    /^Timeout before authentication for (\S+) port (\d+)$/,
    (m) => withPeer(make('ssh_preauth_timeout', 'ssh_connection', 'failure', 'Open'), m[1], m[2]),
  ],
  [
    /^Address (\S+) maps to (\S+), but this does not map back to the address/,
    (m) =>
      withPeer(
        make('ssh_reverse_mapping_failed', 'ssh_connection', 'unknown', 'Open', { claimed_host: m[2]! }),
        m[1],
      ),
  ],
  [
    /^reverse mapping checking getaddrinfo for (\S+) \[(\S+)\] failed/,
    (m) =>
      withPeer(
        make('ssh_reverse_mapping_failed', 'ssh_connection', 'unknown', 'Open', { claimed_host: m[1]! }),
        m[2],
      ),
  ],
  [
    /^Connection from (\S+) port (\d+) on (\S+) port (\d+)/,
    (m) =>
      withPeer(
        make('ssh_connection', 'ssh_connection', 'unknown', 'Open', {
          local_ip: m[3]!,
          local_port: Number(m[4]),
        }),
        m[1],
        m[2],
      ),
  ],
];

// ----------------------------------------------------------------- PAM

/** `key=value` pairs of a PAM failure (`logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root`). */
function pamPairs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/(\w+)=(\S*)/g)) out[m[1]!] = m[2]!;
  return out;
}

function pamFailure(kind: string, pairs: string, extra: AuthInfo['fields'] = {}): AuthInfo {
  const kv = pamPairs(pairs);
  const info = make(kind, 'authentication', 'failure', 'Logon', { ...extra });
  if (kv.user) info.user = kv.user;
  if (kv.ruser) info.fields.ruser = kv.ruser;
  if (kv.logname) info.fields.logname = kv.logname;
  if (kv.tty) info.fields.tty = kv.tty;
  if (kv.uid) info.fields.uid = kv.uid;
  return withPeer(info, kv.rhost || undefined);
}

// `pam_unix(sshd:auth): ` — module, service and management group.
const PAM_PREFIX = /^(pam_[\w-]+)\(([^:()\s]+):(\w+)\): /;

function parsePam(msg: string): AuthInfo | undefined {
  let body = msg;
  const fields: AuthInfo['fields'] = {};
  const prefix = PAM_PREFIX.exec(msg);
  if (prefix) {
    fields.pam_module = prefix[1]!;
    fields.pam_service = prefix[2]!;
    fields.pam_type = prefix[3]!;
    body = msg.slice(prefix[0].length);
  }
  let m = /^authentication failure; (.*)$/.exec(body);
  if (m) return pamFailure('pam_auth_failure', m[1]!, fields);
  m = /^(?:PAM )?(\d+) more authentication failures?; (.*)$/.exec(body);
  if (m) return pamFailure('pam_auth_failure', m[2]!, { ...fields, more_failures: Number(m[1]) });
  m = /^check pass; user unknown$/.exec(body);
  if (m) return make('pam_user_unknown', 'authentication', 'failure', 'Logon', fields);
  m = /^session opened for user (.+?)(?:\(uid=(\d+)\))?(?: by (.*?)(?:\(uid=(\d+)\))?)?$/.exec(body);
  if (m) {
    const info = make('session_opened', 'authentication', 'success', 'Logon', fields);
    info.user = m[1]!;
    if (m[2]) info.fields.uid = m[2];
    if (m[3]) info.fields.by = m[3];
    return info;
  }
  m = /^session closed for user (\S+)$/.exec(body);
  if (m) {
    const info = make('session_closed', 'authentication', 'success', 'Logoff', fields);
    info.user = m[1]!;
    return info;
  }
  m = /^password changed for (\S+)$/.exec(body);
  if (m) {
    const info = make('password_changed', 'account', 'success', 'Password Change', fields);
    info.target_user = m[1]!;
    return info;
  }
  return undefined;
}

// ---------------------------------------------------------------- sudo

const SUDO_FAILURES: Array<[RegExp, string]> = [
  [/^(\d+) incorrect password attempts?$/, 'sudo_auth_failure'],
  [/^user NOT in sudoers$/, 'sudo_not_in_sudoers'],
  [/^user NOT authorized on host$/, 'sudo_not_in_sudoers'],
  [/^command not allowed$/, 'sudo_command_denied'],
  [/^a password is required$/, 'sudo_auth_failure'],
];

function parseSudo(msg: string): AuthInfo | undefined {
  const head = /^\s*(\S+) : (.*)$/.exec(msg);
  if (!head) return undefined;
  const user = head[1]!;
  let body = head[2]!;
  // COMMAND is last and may itself contain " ; ", so it is cut off first.
  let command: string | undefined;
  const cmdAt = body.indexOf('COMMAND=');
  if (cmdAt >= 0) {
    command = body.slice(cmdAt + 'COMMAND='.length);
    body = body.slice(0, cmdAt).replace(/ ?; ?$/, '');
  }
  const parts = body === '' ? [] : body.split(' ; ');
  const kv: Record<string, string> = {};
  let problem: string | undefined;
  for (const p of parts) {
    const eq = /^([A-Z_]+)=(.*)$/.exec(p);
    if (eq) kv[eq[1]!] = eq[2]!;
    else problem ??= p;
  }
  let info: AuthInfo;
  if (problem === undefined) info = make('sudo_command', 'authentication', 'success', 'Elevate');
  else {
    const known = SUDO_FAILURES.find(([re]) => re.test(problem));
    info = make(known?.[1] ?? 'sudo_error', 'authentication', 'failure', 'Elevate', { reason: problem });
    const attempts = /^(\d+) incorrect/.exec(problem);
    if (attempts) info.fields.attempts = Number(attempts[1]);
  }
  info.user = user;
  if (kv.USER) info.target_user = kv.USER;
  if (kv.GROUP) info.group = kv.GROUP;
  if (kv.TTY) info.fields.tty = kv.TTY;
  if (kv.PWD) info.fields.pwd = kv.PWD;
  if (kv.TSID) info.fields.tsid = kv.TSID;
  if (kv.ENV) info.fields.env = kv.ENV;
  if (command !== undefined) info.fields.command = command;
  return info;
}

// ------------------------------------------------------------------ su

function su(kind: 'su_success' | 'su_failure', user?: string, target?: string, tty?: string): AuthInfo {
  const info = make(kind, 'authentication', kind === 'su_success' ? 'success' : 'failure', 'Elevate');
  if (user) info.user = user;
  if (target) info.target_user = target;
  if (tty) info.fields.tty = tty;
  return info;
}

const SU: Array<[RegExp, (m: RegExpExecArray) => AuthInfo]> = [
  [/^\(to (\S+)\) (\S+) on (\S+)$/, (m) => su('su_success', m[2], m[1], m[3])],
  [/^FAILED SU \(to (\S+)\) (\S+) on (\S+)$/, (m) => su('su_failure', m[2], m[1], m[3])],
  [/^Successful su for (\S+) by (\S+)$/, (m) => su('su_success', m[2], m[1])],
  [/^FAILED su for (\S+) by (\S+)$/, (m) => su('su_failure', m[2], m[1])],
  [/^([+-]) (\S+) (\S+?):(\S+)$/, (m) => su(m[1] === '+' ? 'su_success' : 'su_failure', m[3], m[4], m[2])],
  [/^BAD SU (\S+) to (\S+)(?: on (\S+))?$/, (m) => su('su_failure', m[1], m[2], m[3])],
  [/^failed: (\S+) changing from (\S+) to (\S+)$/, (m) => su('su_failure', m[2], m[3], m[1])],
  [
    /^'su (\S+)' (failed|succeeded) for (\S+) on (\S+)$/,
    (m) => su(m[2] === 'failed' ? 'su_failure' : 'su_success', m[3], m[1], m[4]),
  ],
  [/^pam_authenticate: (.+)$/, (m) => ({ ...su('su_failure'), fields: { reason: m[1]! } })],
  [/^(\S+) to (\S+) on (\S+)$/, (m) => su('su_success', m[1], m[2], m[3])],
];

// --------------------------------------------------------------- login

const LOGIN: Array<[RegExp, (m: RegExpExecArray) => AuthInfo]> = [
  [
    /^FAILED LOGIN \((\d+)\)(?: on '([^']*)')?(?: FROM '([^']*)')? FOR '([^']*)', (.*)$/,
    (m) => {
      const info = make('login_failed', 'authentication', 'failure', 'Logon', {
        attempts: Number(m[1]),
        reason: m[5]!,
      });
      if (m[2]) info.fields.tty = m[2];
      info.user = m[4]!;
      return withPeer(info, m[3]);
    },
  ],
  [
    /^ROOT LOGIN {1,2}on '([^']*)'(?: FROM '([^']*)')?$/,
    (m) => {
      const info = make('login_success', 'authentication', 'success', 'Logon', { tty: m[1]! });
      info.user = 'root';
      return withPeer(info, m[2]);
    },
  ],
  [
    /^LOGIN ON (\S+) BY (\S+)(?: FROM (\S+))?$/,
    (m) => {
      const info = make('login_success', 'authentication', 'success', 'Logon', { tty: m[1]! });
      info.user = m[2]!;
      return withPeer(info, m[3]);
    },
  ],
];

// ------------------------------------------------ shadow-utils account tools

function account(kind: string, activity: string, target?: string, status: AuthStatus = 'success'): AuthInfo {
  const info = make(kind, 'account', status, activity);
  if (target) info.target_user = target;
  return info;
}

function group(kind: string, activity: string, name: string, member?: string): AuthInfo {
  const info = make(kind, 'group', 'success', activity);
  info.group = name;
  if (member) info.target_user = member;
  return info;
}

const ACCOUNT: Array<[RegExp, (m: RegExpExecArray) => AuthInfo]> = [
  [
    /^new user: name=([^,]+), UID=(\d+), GID=(\d+), home=([^,]*), shell=([^,]*)(?:, from=(\S+))?$/,
    (m) => {
      const info = account('user_created', 'Create', m[1]);
      Object.assign(info.fields, { uid: m[2]!, gid: m[3]!, home: m[4]!, shell: m[5]! });
      if (m[6]) info.fields.from = m[6];
      return info;
    },
  ],
  [
    /^failed adding user '([^']+)', data deleted$/,
    (m) => account('user_create_failed', 'Create', m[1], 'failure'),
  ],
  [/^delete user '([^']+)'$/, (m) => account('user_deleted', 'Delete', m[1])],
  [/^change user '([^']+)' password$/, (m) => account('password_changed', 'Password Change', m[1])],
  [
    /^password for '([^']+)' changed by '([^']+)'$/,
    (m) => {
      const info = account('password_changed', 'Password Change', m[1]);
      info.user = m[2]!;
      return info;
    },
  ],
  [/^lock user '([^']+)' password$/, (m) => account('user_locked', 'Lock', m[1])],
  [/^unlock user '([^']+)' password$/, (m) => account('user_unlocked', 'Unlock', m[1])],
  [
    /^change user name '([^']+)' to '([^']+)'$/,
    (m) => {
      const info = account('user_renamed', 'Rename', m[2]);
      info.fields.old_name = m[1]!;
      return info;
    },
  ],
  [
    /^change user '([^']+)' (\S+) from '([^']*)' to '([^']*)'$/,
    (m) => {
      const info = account('user_modified', 'Other', m[1]);
      Object.assign(info.fields, { attribute: m[2]!, from: m[3]!, to: m[4]! });
      return info;
    },
  ],
  [/^changed password expiry for (\S+)$/, (m) => account('user_modified', 'Other', m[1])],
  [
    /^(?:new group|group added to \S+): name=([^,]+), GID=(\d+)$/,
    (m) => {
      const info = group('group_created', 'Create', m[1]!);
      info.fields.gid = m[2]!;
      return info;
    },
  ],
  [
    /^add '([^']+)' to (shadow )?group '([^']+)'$/,
    (m) => withShadow(group('group_member_added', 'Add User', m[3]!, m[1]), m[2]),
  ],
  [
    /^delete '([^']+)' from (shadow )?group '([^']+)'$/,
    (m) => withShadow(group('group_member_removed', 'Remove User', m[3]!, m[1]), m[2]),
  ],
  [
    /^removed (shadow )?group '([^']+)' owned by '([^']+)'$/,
    (m) => withShadow(group('group_deleted', 'Delete', m[2]!), m[1]),
  ],
  [/^group '([^']+)' removed(?: from \S+)?$/, (m) => group('group_deleted', 'Delete', m[1]!)],
  [/^removed group '([^']+)'$/, (m) => group('group_deleted', 'Delete', m[1]!)],
  [
    /^group changed in \S+ \((.*)\)$/,
    (m) => {
      const info = make('group_modified', 'group', 'success', 'Other', { change: m[1]! });
      return info;
    },
  ],
  [
    /^user (\S+) added by (\S+) to group (\S+)$/,
    (m) => {
      const info = group('group_member_added', 'Add User', m[3]!, m[1]);
      info.user = m[2]!;
      return info;
    },
  ],
  [
    /^user (\S+) removed by (\S+) from group (\S+)$/,
    (m) => {
      const info = group('group_member_removed', 'Remove User', m[3]!, m[1]);
      info.user = m[2]!;
      return info;
    },
  ],
  [
    /^members of group (\S+) set by (\S+) to (.*)$/,
    (m) => {
      const info = group('group_modified', 'Other', m[1]!);
      info.user = m[2]!;
      info.fields.members = m[3]!;
      return info;
    },
  ],
];

function withShadow(info: AuthInfo, shadow: string | undefined): AuthInfo {
  if (shadow) info.fields.shadow = true;
  return info;
}

function firstMatch(
  table: Array<[RegExp, (m: RegExpExecArray) => AuthInfo]>,
  msg: string,
): AuthInfo | undefined {
  for (const [re, build] of table) {
    const m = re.exec(msg);
    if (m) return build(m);
  }
  return undefined;
}

const ACCOUNT_TOOLS = new Set([
  'useradd',
  'userdel',
  'usermod',
  'groupadd',
  'groupdel',
  'groupmod',
  'gpasswd',
  'passwd',
  'chpasswd',
  'chage',
  'adduser',
  'deluser',
  'addgroup',
  'delgroup',
  'newusers',
]);

/**
 * The service a program logs as, for `metadata.log_name`: OpenSSH 9.8+
 * logs authentication from `sshd-session` (and `sshd-auth`), which is still
 * the sshd service.
 */
export function serviceOf(program: string): string {
  const p = program.toLowerCase();
  if (p === 'sshd-session' || p === 'sshd-auth') return 'sshd';
  return program;
}

/**
 * Parse an authentication or account message of `program`, or undefined
 * when it is none of the kinds known (the line still becomes an event).
 *
 * @example
 * parseAuthMessage('sshd', 'Failed password for invalid user admin from 203.0.113.9 port 52113 ssh2')
 * // { kind: 'ssh_failed_password', status: 'failure', user: 'admin', src_ip: '203.0.113.9', src_port: 52113, … }
 */
export function parseAuthMessage(program: string | undefined, message: string): AuthInfo | undefined {
  if (message.length > MAX_AUTH_MESSAGE) return undefined;
  const prog = serviceOf(program ?? '').toLowerCase();
  const msg = message.trim();
  let info: AuthInfo | undefined;
  if (prog === 'sshd') info = firstMatch(SSHD, msg);
  else if (prog === 'sudo') info = parseSudo(msg);
  else if (prog === 'su') info = firstMatch(SU, msg);
  else if (prog === 'login') info = firstMatch(LOGIN, msg);
  else if (ACCOUNT_TOOLS.has(prog)) info = firstMatch(ACCOUNT, msg);
  info ??= parsePam(msg);
  // An attempt for an account that does not exist cannot succeed, whatever stage it ended at.
  if (info?.fields.invalid_user === true && info.status === 'unknown') info.status = 'failure';
  return info;
}
