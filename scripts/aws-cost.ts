/**
 * The cost per million events of the AWS deployment (infra/), at the
 * prices the issue quotes from the original design, under stated
 * assumptions. Prints the markdown table docs/aws.md shows:
 *
 *   node --import tsx scripts/aws-cost.ts
 *
 * Every assumption is a constant below; change one and run it again.
 */

/** Prices (USD): the original design's figures (issue 16). */
const PRICE = {
  lambdaPerMillionRequests: 0.2,
  kinesisPerShardMonth: 15,
  opensearchServerlessMonth: [200, 400] as const,
  stepFunctionsPerThousandTransitions: 0.025,
  bedrockPerAnalysedAlert: 0.009,
  /** AWS's published Lambda arm64 duration price, first tier (not in the issue). */
  lambdaArmPerGbSecond: 0.0000133334,
};

/** Assumptions. */
const A = {
  events: 1_000_000,
  /** Events per detection invocation: the mapping's batch size is 100; at a low rate the 1-s window sends fewer. */
  eventsPerBatch: [100, 10] as const,
  /** Triage executions (new or grown incidents) per event. */
  executionsPerEvent: 0.01,
  /** Share of executions at or above the threshold (analysed by Bedrock). */
  analysedShare: 0.1,
  /** State transitions of one execution: below the threshold Score, Choice, Store, Index, Done. */
  transitionsLow: 5,
  /** Above: Score, Choice, Analyse, Map, Policy, RequestApproval, Approved?, Remediate, Store, Index, Done. */
  transitionsHigh: 11,
  /** Average duration (s) and memory (GB) of each function (memory as infra/lib/stacks.ts sets it). */
  normalise: { seconds: 0.05, gb: 0.5 },
  detect: { seconds: 2, gb: 1 },
  triage: { seconds: 0.3, gb: 0.5, perExecution: 3 }, // score, store, index
  analyse: { seconds: 10, gb: 1 },
};

const usd = (n: number) => `$${n < 10 ? n.toFixed(2) : n.toFixed(0)}`;

function rows(eventsPerBatch: number) {
  const executions = A.events * A.executionsPerEvent;
  const analysed = executions * A.analysedShare;
  const detectInvocations = A.events / eventsPerBatch;
  const requests = A.events + detectInvocations + executions * A.triage.perExecution + analysed * 2; // + analyse, remediate
  const gbSeconds =
    A.events * A.normalise.seconds * A.normalise.gb +
    detectInvocations * A.detect.seconds * A.detect.gb +
    executions * A.triage.perExecution * A.triage.seconds * A.triage.gb +
    analysed * A.analyse.seconds * A.analyse.gb;
  const transitions = (executions - analysed) * A.transitionsLow + analysed * A.transitionsHigh;
  return [
    [
      'Lambda requests',
      `${A.events.toLocaleString('en')} normalise + ${detectInvocations.toLocaleString('en')} detect + ${(executions * A.triage.perExecution).toLocaleString('en')} score/store/index + ${(analysed * 2).toLocaleString('en')} analyse/remediate = ${requests.toLocaleString('en')} × $0.20/1M`,
      (requests / 1e6) * PRICE.lambdaPerMillionRequests,
    ],
    [
      'Lambda duration (arm64)',
      `${Math.round(gbSeconds).toLocaleString('en')} GB-s × $0.0000133334`,
      gbSeconds * PRICE.lambdaArmPerGbSecond,
    ],
    [
      'Step Functions',
      `${transitions.toLocaleString('en')} transitions × $0.025/1k`,
      (transitions / 1000) * PRICE.stepFunctionsPerThousandTransitions,
    ],
    [
      'Bedrock',
      `${analysed.toLocaleString('en')} analysed × $0.009`,
      analysed * PRICE.bedrockPerAnalysedAlert,
    ],
  ] as Array<[string, string, number]>;
}

const lines: string[] = [];
lines.push(
  `Per ${A.events.toLocaleString('en')} events; ${A.executionsPerEvent * 100}% of events start a triage execution; ${A.analysedShare * 100}% of those are analysed.`,
  '',
);
for (const batch of A.eventsPerBatch) {
  const r = rows(batch);
  const variable = r.reduce((s, [, , c]) => s + c, 0);
  lines.push(`**${batch} events per detection batch**`, '', '| item | arithmetic | cost |', '|---|---|---|');
  for (const [item, how, cost] of r) lines.push(`| ${item} | ${how} | ${usd(cost)} |`);
  lines.push(`| **per-event items** | | **${usd(variable)}** |`, '');
}
lines.push(
  '**Fixed, per month (whatever the volume)**',
  '',
  '| item | cost |',
  '|---|---|',
  `| Kinesis, 1 shard (1,000 records/s, 1 MB/s in: about 2.6 billion records a month) | ${usd(PRICE.kinesisPerShardMonth)} |`,
  `| OpenSearch Serverless, 2 OCU | ${usd(PRICE.opensearchServerlessMonth[0])}–${usd(PRICE.opensearchServerlessMonth[1])} |`,
);
console.log(lines.join('\n'));
