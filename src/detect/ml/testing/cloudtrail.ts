/**
 * Small CloudTrail worlds of our own making for tests: benign reads by a
 * known user from an internal address, and attack-like writes to sensitive
 * APIs from an outside address at night. Enough structure for a model to
 * learn; no real data.
 */
import { Rng } from '../rng.ts';

const BENIGN_OPS = [
  ['ec2.amazonaws.com', 'DescribeInstances'],
  ['s3.amazonaws.com', 'ListBuckets'],
  ['iam.amazonaws.com', 'GetUser'],
  ['kms.amazonaws.com', 'Decrypt'],
] as const;
const ATTACK_OPS = [
  ['iam.amazonaws.com', 'CreateAccessKey'],
  ['cloudtrail.amazonaws.com', 'StopLogging'],
  ['ec2.amazonaws.com', 'GetPasswordData'],
  ['iam.amazonaws.com', 'AttachUserPolicy'],
] as const;

/** One CloudTrail record. */
export function ctRecord(i: number, attack: boolean, rng: Rng): Record<string, unknown> {
  const [source, name] = (attack ? ATTACK_OPS : BENIGN_OPS)[rng.int(4)]!;
  const hour = attack ? 1 + rng.int(3) : 9 + rng.int(8);
  const minute = String(rng.int(60)).padStart(2, '0');
  return {
    eventVersion: '1.08',
    eventID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    eventTime: `2024-05-${String(6 + (i % 5)).padStart(2, '0')}T${String(hour).padStart(2, '0')}:${minute}:00Z`,
    eventSource: source,
    eventName: name,
    awsRegion: 'eu-west-1',
    sourceIPAddress: attack ? `198.51.100.${rng.int(200)}` : `10.1.2.${rng.int(200)}`,
    userAgent: attack ? 'stratus-red-team_test' : 'aws-cli/2.15',
    userIdentity: attack
      ? { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/mallory', userName: 'mallory' }
      : { type: 'AssumedRole', arn: 'arn:aws:sts::111122223333:assumed-role/ops/alice' },
    requestParameters: attack ? { userName: 'x', policyArn: 'y' } : null,
    readOnly: !attack,
  };
}

/**
 * `n` labelled records as `aisoc label` writes them (JSON lines), a quarter attacks.
 *
 * @example
 * writeFileSync('labels.jsonl', labelledLines(400, 1));
 */
export function labelledLines(n: number, seed: number): string {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const attack = i % 4 === 0;
    lines.push(
      JSON.stringify({
        label: attack ? 'attack' : 'benign',
        labeller: 'test',
        record: ctRecord(i, attack, rng),
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}
