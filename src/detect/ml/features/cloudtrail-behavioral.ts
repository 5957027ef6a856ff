/**
 * `cloudtrail-behavioral`: features of a CloudTrail call against what the
 * same identity did before — how rare the operation is for it, whether the
 * network, service or operation is new for it, error and call bursts, calls
 * to sensitive APIs, time since its last activity. Only rates and shares:
 * cumulative counts grow with time and would let a model learn the
 * timeline of its training data instead of behaviour. They need state: the
 * pipeline keeps a {@link BehaviourState} (bounded, persisted in the store),
 * and training replays the labelled events in time order through the same
 * code. No feature reads the user agent.
 */
import type { EventDraft } from '../../../schema/event.ts';
import {
  identityKey,
  isAwsService,
  isCloudTrailCall,
  isDeleteCall,
  isReadCall,
  isRfc1918,
  requestParamCount,
} from './cloudtrail-common.ts';
import { FeatureError, type FeatureSet, flag, numberCell } from './types.ts';

/**
 * CloudTrail calls MITRE ATT&CK names as evidence of an attack technique,
 * whoever makes them: derived from ATT&CK Enterprise v18.1 by
 * `scripts/attack-cloudtrail-apis.ts` (which states the rule in full): the
 * API names in the AWS CloudTrail log sources of ATT&CK's analytics, less
 * those ATT&CK also cites for Discovery or Collection (routine inventory
 * and data access), and less read calls (Get/List/Describe) unless they
 * serve Credential Access. Each entry cites the techniques whose analytics
 * name it. A test checks this list against the bundle when it is present.
 */
export const SENSITIVE_API_SOURCES: ReadonlyArray<readonly [api: string, techniques: string]> = [
  ['AssumeRoleWithSAML', 'T1199 T1606.002'],
  ['AssumeRoleWithWebIdentity', 'T1199 T1550.001 T1606.001'],
  ['AttachRolePolicy', 'T1199'],
  ['AttachUserPolicy', 'T1098.003 T1136 T1136.003'],
  ['AuthorizeSecurityGroupIngress', 'T1499.002'],
  ['CopySnapshot', 'T1537'],
  ['CreateAccessKey', 'T1098.001 T1199'],
  ['CreateBucket', 'T1535'],
  ['CreateFunction', 'T1546 T1648'],
  ['CreateImage', 'T1204'],
  ['CreateKeyPair', 'T1098.001'],
  ['CreateLoginProfile', 'T1098.001 T1199'],
  ['CreatePod', 'T1059.013'],
  ['CreatePolicyVersion', 'T1098.003 T1556.009'],
  ['CreateSnapshot', 'T1537 T1578 T1578.001'],
  ['CreateUser', 'T1059.009 T1078.004 T1136 T1136.003 T1199'],
  ['CreateVolume', 'T1578'],
  ['DeleteAlarms', 'T1562.001'],
  ['DeleteBucket', 'T1485 T1490'],
  ['DeleteDBCluster', 'T1485 T1490'],
  ['DeleteSnapshot', 'T1485 T1490 T1578'],
  ['DeleteTrail', 'T1211 T1562'],
  ['DeleteVolume', 'T1578'],
  ['DisableMFA', 'T1556.006'],
  ['DisableMonitoring', 'T1562.001'],
  ['DisableSecurityService', 'T1562'],
  ['ExecuteCommand', 'T1651'],
  ['GetFederationToken', 'T1550.001 T1606'],
  ['GetInstanceIdentityDocument', 'T1528 T1552.005'],
  ['GetSecretValue', 'T1552 T1555 T1555.006'],
  ['GetSessionToken', 'T1550.001 T1606.001'],
  ['ImportKeyPair', 'T1098.001'],
  ['InvokeCommand', 'T1059.009'],
  ['InvokeFunction', 'T1499.003 T1546 T1648'],
  ['LeaveOrganization', 'T1666'],
  ['ModifyImageAttribute', 'T1525'],
  ['ModifySnapshotAttribute', 'T1537 T1578'],
  ['ModifyVolume', 'T1578'],
  ['PassRole', 'T1548.005'],
  ['PutBucketLifecycle', 'T1485.001'],
  ['PutBucketPolicy', 'T1537'],
  ['PutGroupPolicy', 'T1556.009'],
  ['PutIdentityPolicy', 'T1496.004'],
  ['PutLifecycleConfiguration', 'T1485.001'],
  ['PutRolePolicy', 'T1059.009 T1098.003 T1556.009'],
  ['PutUserPolicy', 'T1556.009'],
  ['RegisterHybridConnector', 'T1556.007'],
  ['RegisterImage', 'T1525'],
  ['RequestServiceQuotaIncrease', 'T1578.005'],
  ['RevertSnapshot', 'T1578.004'],
  ['RunCommand', 'T1072'],
  ['RunInstances', 'T1059.009 T1204 T1204.003 T1496 T1496.001 T1525 T1535 T1578 T1578.002'],
  ['SendCommand', 'T1651'],
  ['SendEmail', 'T1496.004'],
  ['SendSSHPublicKey', 'T1021.008'],
  ['SetBucketLifecycle', 'T1485.001'],
  ['StartInstances', 'T1204 T1496.002 T1499 T1578.004'],
  ['StartSession', 'T1021 T1021.008 T1651'],
  ['StopInstances', 'T1578.004'],
  ['StopLogging', 'T1211 T1562 T1562.001'],
  ['TerminateInstances', 'T1485 T1490 T1499.004 T1578 T1578.003'],
  ['UpdateAccountPasswordPolicy', 'T1556'],
  ['UpdateAssumeRolePolicy', 'T1199'],
  ['UpdateFederationSettings', 'T1556.007'],
  ['UpdateFunctionConfiguration', 'T1648'],
  ['UpdateIdentityPolicy', 'T1556.006'],
  ['UpdateLoginProfile', 'T1556'],
  ['UpdateTrail', 'T1211'],
  ['UploadPart', 'T1486'],
];

export const SENSITIVE_APIS: ReadonlySet<string> = new Set(SENSITIVE_API_SOURCES.map(([api]) => api));

export const BEHAVIOURAL_COLUMNS = [
  'has_error',
  'is_read',
  'is_delete',
  'is_root',
  'is_assumed_role',
  'is_aws_service',
  'is_internal_ip',
  'request_param_count',
  'sensitive_api',
  'identity_first_seen',
  'operation_first_seen',
  'operation_share',
  'service_first_seen',
  'network_first_seen',
  'log_seconds_since_last',
  'calls_5m',
  'errors_5m',
  'distinct_operations_5m',
  'sensitive_60m',
] as const;

/** Limits that keep the state's memory bounded whatever the traffic. */
export const STATE_LIMITS = {
  identities: 5_000,
  operationsPerIdentity: 512,
  networksPerIdentity: 64,
  servicesPerIdentity: 128,
  recentPerIdentity: 256,
} as const;

const FIVE_MIN = 5 * 60_000;
const HOUR = 60 * 60_000;

interface Recent {
  t: number;
  op: string;
  error: boolean;
  sensitive: boolean;
}

interface IdentityState {
  last: number;
  total: number;
  ops: Record<string, number>;
  nOps: number;
  services: string[];
  networks: string[];
  recent: Recent[];
}

/** Serialised form, for the store's kv table. */
export interface BehaviourSnapshot {
  version: 1;
  identities: Array<[string, IdentityState]>;
}

/**
 * What the behavioural features remember, per identity, in event time. An
 * LRU bound on identities and caps per identity keep it small; evicting an
 * identity only makes its next call look new.
 *
 * @example
 * const state = new BehaviourState();
 * const v = cloudtrailBehavioral.fromEvent(event, state);
 */
export class BehaviourState {
  private readonly ids = new Map<string, IdentityState>();

  get size(): number {
    return this.ids.size;
  }

  /** The identity's state, most recently used last (Map order is the LRU order). */
  take(key: string): IdentityState | undefined {
    const s = this.ids.get(key);
    if (s) {
      this.ids.delete(key);
      this.ids.set(key, s);
    }
    return s;
  }

  /** The identity's state without touching the LRU order (read-only callers). */
  peek(key: string): IdentityState | undefined {
    return this.ids.get(key);
  }

  put(key: string, s: IdentityState): void {
    this.ids.delete(key);
    this.ids.set(key, s);
    while (this.ids.size > STATE_LIMITS.identities) this.ids.delete(this.ids.keys().next().value!);
  }

  snapshot(): BehaviourSnapshot {
    return { version: 1, identities: [...this.ids.entries()] };
  }

  static restore(snap: unknown): BehaviourState {
    const st = new BehaviourState();
    const s = snap as Partial<BehaviourSnapshot> | undefined;
    if (s?.version !== 1 || !Array.isArray(s.identities)) return st;
    for (const entry of s.identities.slice(-STATE_LIMITS.identities)) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && entry[1] && typeof entry[1] === 'object')
        st.ids.set(entry[0], entry[1]);
    }
    return st;
  }
}

/** The network a call came from: an IPv4 /24, an IPv6 /48, or the service name AWS records instead. */
export function networkOf(e: EventDraft): string {
  const ip = e.src_endpoint?.ip;
  if (ip) {
    if (ip.includes(':')) return ip.split(':').slice(0, 3).join(':');
    return ip.split('.').slice(0, 3).join('.');
  }
  return e.src_endpoint?.hostname ?? 'none';
}

function pushCapped<T>(list: T[], v: T, cap: number): void {
  list.push(v);
  if (list.length > cap) list.splice(0, list.length - cap);
}

/**
 * The behavioural vector of one call, then the call is remembered.
 *
 * @example
 * behaviouralVector(event, state);
 */
export function behaviouralVector(e: EventDraft, state: BehaviourState): number[] {
  const key = identityKey(e);
  const t = Date.parse(e.time);
  const op = e.cloud?.operation ?? '';
  const service = e.cloud?.service ?? '';
  const network = networkOf(e);
  const error = e.cloud?.error_code !== undefined || e.status === 'failure';
  const sensitive = SENSITIVE_APIS.has(op);
  const type = e.actor?.user?.type;
  const s = state.take(key);

  let calls5 = 0;
  let errors5 = 0;
  let sensitive60 = 0;
  const ops5 = new Set<string>();
  if (s) {
    for (const r of s.recent) {
      const age = t - r.t;
      if (age < 0 || age > HOUR) continue;
      if (r.sensitive) sensitive60++;
      if (age <= FIVE_MIN) {
        calls5++;
        if (r.error) errors5++;
        ops5.add(r.op);
      }
    }
  }
  const opCount = s?.ops[op] ?? 0;
  const vector = [
    flag(error),
    flag(isReadCall(e)),
    flag(isDeleteCall(e)),
    flag(type === 'Root'),
    flag(type === 'AssumedRole'),
    flag(isAwsService(e)),
    flag(isRfc1918(e.src_endpoint?.ip)),
    requestParamCount(e),
    flag(sensitive),
    flag(!s),
    flag(opCount === 0),
    s && s.total > 0 ? opCount / s.total : 0,
    flag(!s?.services.includes(service)),
    flag(!s?.networks.includes(network)),
    s ? Math.log1p(Math.max(0, t - s.last) / 1000) : -1,
    calls5,
    errors5,
    ops5.size,
    sensitive60,
  ];

  const next: IdentityState = s ?? {
    last: t,
    total: 0,
    ops: {},
    nOps: 0,
    services: [],
    networks: [],
    recent: [],
  };
  next.last = Math.max(next.last, t);
  next.total++;
  if (op in next.ops) next.ops[op]!++;
  else if (next.nOps < STATE_LIMITS.operationsPerIdentity) {
    next.ops[op] = 1;
    next.nOps++;
  }
  if (!next.services.includes(service)) pushCapped(next.services, service, STATE_LIMITS.servicesPerIdentity);
  if (!next.networks.includes(network)) pushCapped(next.networks, network, STATE_LIMITS.networksPerIdentity);
  pushCapped(next.recent, { t, op, error, sensitive }, STATE_LIMITS.recentPerIdentity);
  state.put(key, next);
  return vector;
}

export const cloudtrailBehavioral: FeatureSet<BehaviourState> = {
  name: 'cloudtrail-behavioral',
  // v2: no cumulative call count — it grows with time, so a model learns when an attack ran, not what it did.
  // v3: the sensitive-API list comes from ATT&CK's CloudTrail analytics, not from a test data set's catalogue.
  version: 3,
  description:
    'CloudTrail calls against the identity history: operation rarity, first-seen network/service/operation, error and call bursts, sensitive APIs, idle time',
  columns: BEHAVIOURAL_COLUMNS,
  input: 'events',
  negativeLabel: 'benign',
  requiredColumns(header) {
    return BEHAVIOURAL_COLUMNS.filter((c) => !header.has(c));
  },
  fromRow(row) {
    return BEHAVIOURAL_COLUMNS.map((c) => {
      const v = numberCell(row, c);
      if (!Number.isFinite(v)) throw new FeatureError(c, `${v} is not a finite number`);
      return v;
    });
  },
  fromEvent(event, state) {
    if (!isCloudTrailCall(event)) return undefined;
    return behaviouralVector(event, state ?? new BehaviourState());
  },
  newState: () => new BehaviourState(),
};
