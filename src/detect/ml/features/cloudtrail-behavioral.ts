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
 * Operations an attacker uses to steal credentials, persist, evade logging,
 * move laterally or exfiltrate (from ATT&CK's cloud techniques and the
 * Stratus Red Team catalogue), whose calls deserve attention whoever makes them.
 */
export const SENSITIVE_APIS: ReadonlySet<string> = new Set([
  // credential access
  'GetPasswordData',
  'GetSecretValue',
  'BatchGetSecretValue',
  'GetParameter',
  'GetParameters',
  'GetParametersByPath',
  'GetSessionToken',
  'GetFederationToken',
  'CreateAccessKey',
  'UpdateAccessKey',
  'GetCredentialReport',
  // persistence and privilege escalation
  'CreateUser',
  'CreateLoginProfile',
  'UpdateLoginProfile',
  'AttachUserPolicy',
  'AttachRolePolicy',
  'PutUserPolicy',
  'PutRolePolicy',
  'AddUserToGroup',
  'CreateRole',
  'UpdateAssumeRolePolicy',
  'CreatePolicyVersion',
  'SetDefaultPolicyVersion',
  'CreateTrustAnchor',
  'CreateProfile',
  'UpdateFunctionCode',
  'UpdateFunctionConfiguration',
  'AddPermission',
  'PublishLayerVersion',
  'CreateFunction',
  // defense evasion
  'StopLogging',
  'DeleteTrail',
  'UpdateTrail',
  'PutEventSelectors',
  'DeleteFlowLogs',
  'DeleteQueryLoggingConfig',
  'DeleteResolverQueryLogConfig',
  'DisassociateResolverQueryLogConfig',
  'LeaveOrganization',
  'DeleteDetector',
  'DisableSecurityHub',
  'DeleteConfigurationRecorder',
  'StopConfigurationRecorder',
  // execution and lateral movement
  'SendCommand',
  'StartSession',
  'SendSSHPublicKey',
  'SendSerialConsoleSSHPublicKey',
  'ModifyInstanceAttribute',
  'RunInstances',
  'InvokeModel',
  // exfiltration and exposure
  'ModifySnapshotAttribute',
  'ModifyImageAttribute',
  'ModifyDBSnapshotAttribute',
  'PutBucketPolicy',
  'PutBucketAcl',
  'DeleteBucketPolicy',
  'PutBucketPublicAccessBlock',
  'DeletePublicAccessBlock',
  'AuthorizeSecurityGroupIngress',
  'CreateSnapshot',
]);

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
  version: 2,
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
