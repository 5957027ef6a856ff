/**
 * What a CloudTrail call grants, read from the resource policy it sets:
 * statements that allow another AWS account, or everyone, on any service.
 * A resource policy is found wherever the request carries one — a policy
 * document (an object, or a JSON string, with `Statement`) under any key
 * of `requestParameters` (S3 `bucketPolicy`, KMS `policy`, SQS and SNS
 * `Policy` attributes, ECR `policyText`, Secrets Manager `resourcePolicy`,
 * a role's `assumeRolePolicyDocument`, …) — or a single grant's `principal`
 * (Lambda and EventBridge `AddPermission`/`PutPermission`), a KMS grant's
 * `granteePrincipal`, an ACL grant to all users. The walk is bounded, so a
 * large or deep request costs little.
 */

/** Who a grant opens a resource to. */
export interface Grant {
  kind: 'everyone' | 'account';
  /** The other account (for `account`), or `*`. */
  principal: string;
  /** The actions allowed, as the statement lists them (at most 10). */
  actions: string[];
  /** Where in `requestParameters` the grant was found. */
  path: string;
}

/** Condition keys that confine a statement to known accounts, an organisation or a network: its `*` is not everyone. */
const CONFINING_CONDITION_KEYS = new Set(
  [
    'aws:PrincipalOrgID',
    'aws:PrincipalOrgPaths',
    'aws:PrincipalAccount',
    'aws:PrincipalArn',
    'aws:PrincipalServiceName',
    'aws:SourceAccount',
    'aws:SourceArn',
    'aws:SourceOwner',
    'aws:SourceOrgID',
    'aws:SourceOrgPaths',
    'aws:SourceVpc',
    'aws:SourceVpce',
    'aws:userid',
    'aws:username',
    'kms:CallerAccount',
    'kms:ViaService',
    'lambda:FunctionUrlAuthType',
    'sns:Endpoint',
  ].map((k) => k.toLowerCase()),
);

/** ACL grantees that mean every AWS user or anyone at all. */
const EVERYONE_GROUPS = new Set([
  'http://acs.amazonaws.com/groups/global/allusers',
  'http://acs.amazonaws.com/groups/global/authenticatedusers',
]);

const MAX_DEPTH = 8;
const MAX_NODES = 2_000;
const MAX_POLICY_TEXT = 128 * 1024;
const ACCOUNT = /^\d{12}$/;
const ARN_ACCOUNT = /^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):/i;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/** The account an AWS principal names (a bare id or an IAM/STS ARN), or `*`; undefined for anything else. */
export function principalAccount(p: string): string | undefined {
  const s = p.trim();
  if (s === '*') return '*';
  if (ACCOUNT.test(s)) return s;
  return ARN_ACCOUNT.exec(s)?.[1];
}

/** A policy document in a value: the object itself, or a JSON string holding one. */
function policyOf(v: unknown): Record<string, unknown> | undefined {
  if (isObj(v)) return 'Statement' in v ? v : undefined;
  if (typeof v !== 'string' || v.length > MAX_POLICY_TEXT) return undefined;
  const s = v.trim();
  if (!s.startsWith('{') || !s.includes('Statement')) return undefined;
  try {
    const parsed: unknown = JSON.parse(s);
    return isObj(parsed) && 'Statement' in parsed ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function confined(condition: unknown): boolean {
  if (!isObj(condition)) return false;
  for (const op of Object.values(condition)) {
    if (!isObj(op)) continue;
    for (const key of Object.keys(op)) if (CONFINING_CONDITION_KEYS.has(key.toLowerCase())) return true;
  }
  return false;
}

function actionsOf(statement: Record<string, unknown>): string[] {
  return list(statement.Action)
    .filter((a): a is string => typeof a === 'string')
    .slice(0, 10);
}

/** The grants of one policy document's Allow statements, to principals outside `own` (and `trusted`). */
function policyGrants(
  policy: Record<string, unknown>,
  path: string,
  own: string | undefined,
  trusted: ReadonlySet<string>,
): Grant[] {
  const out: Grant[] = [];
  for (const st of list(policy.Statement)) {
    if (!isObj(st) || String(st.Effect).toLowerCase() !== 'allow' || st.NotPrincipal !== undefined) continue;
    const principal = st.Principal;
    const aws = principal === '*' ? ['*'] : isObj(principal) ? list(principal.AWS) : [];
    for (const p of aws) {
      if (typeof p !== 'string') continue;
      const account = principalAccount(p);
      if (account === '*') {
        if (!confined(st.Condition))
          out.push({ kind: 'everyone', principal: '*', actions: actionsOf(st), path });
      } else if (account && account !== own && !trusted.has(account)) {
        out.push({ kind: 'account', principal: account, actions: actionsOf(st), path });
      }
    }
  }
  return out;
}

/**
 * The grants to another account or everyone in a call's request.
 *
 * @param own the account that owns the resource (`recipientAccountId`)
 * @param trusted accounts whose grants are expected (the organisation's own)
 * @example
 * resourceGrants({ bucketPolicy: { Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::193672423079:root' }, Action: 's3:*' }] } }, '123837392027')
 * // [{ kind: 'account', principal: '193672423079', actions: ['s3:*'], path: 'bucketPolicy' }]
 */
export function resourceGrants(
  requestParameters: unknown,
  own: string | undefined,
  trusted: ReadonlySet<string> = new Set(),
): Grant[] {
  if (!isObj(requestParameters)) return [];
  const out: Grant[] = [];
  let nodes = 0;
  const outside = (account: string | undefined) => account && account !== own && !trusted.has(account);
  const walk = (v: unknown, path: string, depth: number): void => {
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) return;
    const policy = policyOf(v);
    if (policy) {
      out.push(...policyGrants(policy, path, own, trusted));
      return;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], `${path}[${i}]`, depth + 1);
      return;
    }
    if (!isObj(v)) return;
    for (const [key, value] of Object.entries(v)) {
      const at = path ? `${path}.${key}` : key;
      const k = key.toLowerCase();
      // A single grant (Lambda AddPermission, EventBridge PutPermission, KMS CreateGrant): the principal is a field.
      if ((k === 'principal' || k === 'granteeprincipal') && typeof value === 'string') {
        const account = principalAccount(value);
        const conditioned =
          v.sourceAccount !== undefined || v.sourceArn !== undefined || v.principalOrgID !== undefined;
        const action = typeof v.action === 'string' ? [v.action] : [];
        if (account === '*' && !conditioned)
          out.push({ kind: 'everyone', principal: '*', actions: action, path: at });
        else if (account !== '*' && outside(account))
          out.push({ kind: 'account', principal: account!, actions: action, path: at });
        continue;
      }
      // An ACL grant to all (authenticated) AWS users.
      if (k === 'uri' && typeof value === 'string' && EVERYONE_GROUPS.has(value.toLowerCase())) {
        out.push({ kind: 'everyone', principal: '*', actions: [], path: at });
        continue;
      }
      walk(value, at, depth + 1);
    }
  };
  walk(requestParameters, '', 0);
  return out;
}
