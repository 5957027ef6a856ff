import type { Node } from 'constructs';

/**
 * The deployment's settings, from CDK context (`cdk.json`, or `-c
 * aisoc:threshold=90` on the command line). Synth needs no AWS credentials
 * and makes no lookups: account and region are given.
 */
export interface DeployConfig {
  account: string;
  region: string;
  bedrockModelId: string;
  /** Priority at or above which the analyst runs (the product's respond.threshold). */
  threshold: number;
  /** Action types that run without a person when their playbook step allows it (approval: auto). */
  remediationAllowList: string[];
  /** Action types this deployment can run at all (respond.actions). */
  actions: string[];
  /** Every remediation runs as a dry run (reads only) while this is true. */
  dryRun: boolean;
  /** Optional e-mail address subscribed to the approval topic. */
  approverEmail?: string;
  /** ATT&CK Enterprise bundle the knowledge index is built from (default: as `aisoc serve` finds it). */
  attackBundle?: string;
  /** Settings of each action beside its region (docs/actions.md), e.g. the WAF IP set of aws.wafv2.block_ip. */
  actionSettings: Record<string, Record<string, unknown>>;
}

/** The AWS response actions the remediation function can run (src/respond/actions/aws). */
export const AWS_ACTIONS = [
  'aws.iam.disable_access_key',
  'aws.ec2.revoke_security_group_ingress',
  'aws.ec2.quarantine_instance',
  'aws.secretsmanager.rotate_secret',
  'aws.wafv2.block_ip',
] as const;

function fail(key: string, why: string): never {
  throw new Error(`CDK context aisoc:${key}: ${why}`);
}

function list(node: Node, key: string, fallback: string[]): string[] {
  const v = node.tryGetContext(`aisoc:${key}`);
  if (v === undefined) return fallback;
  const arr = typeof v === 'string' ? (v.trim() === '' ? [] : v.split(',').map((s) => s.trim())) : v;
  if (!Array.isArray(arr) || !arr.every((s) => typeof s === 'string')) fail(key, 'must be a list of strings');
  return arr as string[];
}

export function readConfig(node: Node): DeployConfig {
  const get = (k: string) => node.tryGetContext(`aisoc:${k}`) as unknown;
  const account = String(get('account') ?? '');
  if (!/^\d{12}$/.test(account)) fail('account', 'must be a 12-digit account id');
  const region = String(get('region') ?? '');
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) fail('region', 'must be a region such as eu-west-1');
  const threshold = Number(get('threshold') ?? 80);
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 100) fail('threshold', 'must be 0–100');
  const actions = list(node, 'actions', [...AWS_ACTIONS]);
  for (const a of actions)
    if (!(AWS_ACTIONS as readonly string[]).includes(a)) fail('actions', `${a} is not an AWS action`);
  const remediationAllowList = list(node, 'remediationAllowList', []);
  for (const a of remediationAllowList)
    if (!actions.includes(a)) fail('remediationAllowList', `${a} is not among aisoc:actions`);
  const dry = get('dryRun') ?? true;
  const bedrockModelId = String(get('bedrockModelId') ?? 'anthropic.claude-3-5-haiku-20241022-v1:0');
  if (!/^[\w.:-]{3,200}$/.test(bedrockModelId))
    fail('bedrockModelId', 'must be a Bedrock model or inference profile id');
  const approverEmail = String(get('approverEmail') ?? '');
  const attackBundle = get('attackBundle');
  const settings = get('actionSettings') ?? {};
  const actionSettings = (typeof settings === 'string' ? JSON.parse(settings) : settings) as Record<
    string,
    Record<string, unknown>
  >;
  if (typeof actionSettings !== 'object' || actionSettings === null || Array.isArray(actionSettings))
    fail('actionSettings', 'must be an object of action type to settings');
  return {
    actionSettings,
    account,
    region,
    bedrockModelId,
    threshold,
    remediationAllowList,
    actions,
    dryRun: dry === true || dry === 'true',
    ...(approverEmail ? { approverEmail } : {}),
    ...(typeof attackBundle === 'string' && attackBundle ? { attackBundle } : {}),
  };
}

/**
 * The product configuration the functions read (`AISOC_CONFIG`): the same
 * schema as `aisoc serve`'s file (docs/CONFIG.md), written from context.
 */
export function productConfig(c: DeployConfig): Record<string, unknown> {
  return {
    log_level: 'info',
    // A DynamoDB item holds 400 KB: raw records are cut well below it (the container keeps 1 MiB).
    pipeline: { max_raw_bytes: 256 * 1024 },
    knowledge: { load: 'lazy', cache_index: false, persist: false },
    analyst: { backend: 'bedrock', bedrock: { region: c.region, model: c.bedrockModelId } },
    respond: {
      threshold: c.threshold,
      dry_run: c.dryRun,
      actions: Object.fromEntries(c.actions.map((a) => [a, { region: c.region, ...c.actionSettings[a] }])),
    },
  };
}
