import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag';
import { buildStacks } from '../lib/app.ts';
import { type DeployConfig, readConfig } from '../lib/config.ts';

const { AwsSolutionsChecks } = cdkNag;

const INFRA = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The context of infra/cdk.json: what `cdk synth` reads. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(INFRA, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

/**
 * CDK's own context key naming the stacks whose assets are bundled. An
 * empty list skips esbuild for every NodejsFunction (the function's
 * construct, role and properties are the same; only the code asset is a
 * placeholder hash): tests synthesise in about a second, not 7 bundles.
 * `cdk synth` (npm run synth --prefix infra) bundles for real.
 */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] } as const;

let placeholder: string | undefined;
/**
 * TEST ONLY: a placeholder content layer (one file), in place of the 38 MB
 * layer `stageContentLayer` builds (rules, models, knowledge index); the
 * layer's construct is the same.
 */
export function placeholderLayerForTests(): string {
  if (!placeholder) {
    placeholder = mkdtempSync(join(tmpdir(), 'aisoc-infra-test-layer-'));
    mkdirSync(join(placeholder, 'aisoc'));
    writeFileSync(join(placeholder, 'aisoc', 'PLACEHOLDER'), 'test-only content layer\n');
  }
  return placeholder;
}

export interface Synth {
  app: App;
  config: DeployConfig;
  stacks: ReturnType<typeof buildStacks>;
  templates: Record<'foundation' | 'ingestion' | 'detection' | 'orchestration', Template>;
}

/**
 * The app as `cdk synth` builds it (cdk.json's context, `overrides` on top,
 * as `-c key=value` would), without bundling and with the placeholder
 * layer; with cdk-nag's AwsSolutions checks when `nag` is set (synth then
 * throws on an unacknowledged finding).
 */
export function synthForTests(
  overrides: Record<string, unknown> = {},
  opts: { nag?: boolean; extra?: (app: App) => void } = {},
): Synth {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING, ...overrides } });
  const config = readConfig(app.node);
  const stacks = buildStacks(app, config, placeholderLayerForTests());
  opts.extra?.(app);
  if (opts.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  app.synth();
  return {
    app,
    config,
    stacks,
    templates: {
      foundation: Template.fromStack(stacks.foundation),
      ingestion: Template.fromStack(stacks.ingestion),
      detection: Template.fromStack(stacks.detection),
      orchestration: Template.fromStack(stacks.orchestration),
    },
  };
}

/** An Amazon States Language definition, as parsed from the template. */
export interface AslDefinition {
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
  TimeoutSeconds?: number;
}

/** Placeholders for the tokens in the definition: the function ARNs end in the function's logical id. */
export const FUNCTION_ARN_PREFIX = 'arn:aws:lambda:eu-west-1:111111111111:function:';
export const TOPIC_ARN = 'arn:aws:sns:eu-west-1:111111111111:aisoc-approvals';
export const TRIAGE_DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/111111111111/aisoc-triage-dead-letters';

function resolveToken(p: Record<string, unknown>): string {
  const getAtt = p['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt?.[1] === 'Arn') return `${FUNCTION_ARN_PREFIX}${getAtt[0]}`;
  if (p.Ref === 'AWS::Partition') return 'aws';
  const imported = p['Fn::ImportValue'];
  if (typeof imported === 'string' && imported.includes('Approvals')) return TOPIC_ARN;
  if (typeof imported === 'string' && imported.includes('TriageDeadLetters')) return TRIAGE_DLQ_URL;
  throw new Error(`unexpected token in the state machine definition: ${JSON.stringify(p)}`);
}

/** The synthesised state machine's definition, its tokens replaced by the placeholders above. */
export function stateMachineDefinition(t: Template): AslDefinition {
  const machines = Object.values(t.findResources('AWS::StepFunctions::StateMachine'));
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const body = machines[0]!.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1]
    .map((p) => (typeof p === 'string' ? p : resolveToken(p as Record<string, unknown>)))
    .join('');
  return JSON.parse(text) as AslDefinition;
}
