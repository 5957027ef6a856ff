import type { App } from 'aws-cdk-lib';
import type { DeployConfig } from './config.ts';
import { DetectionStack, FoundationStack, IngestionStack, OrchestrationStack } from './stacks.ts';

/** The four stacks, in dependency order, for a fixed account and region (no lookups). */
export function buildStacks(app: App, config: DeployConfig, layerDir: string) {
  const env = { account: config.account, region: config.region };
  const common = { env, config, layerDir };
  const foundation = new FoundationStack(app, 'AisocFoundation', common);
  const ingestion = new IngestionStack(app, 'AisocIngestion', { ...common, foundation });
  const detection = new DetectionStack(app, 'AisocDetection', { ...common, foundation, ingestion });
  const orchestration = new OrchestrationStack(app, 'AisocOrchestration', {
    ...common,
    foundation,
    detection,
  });
  return { foundation, ingestion, detection, orchestration };
}
