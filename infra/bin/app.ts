import { App, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';

const { AwsSolutionsChecks } = cdkNag;

import { buildStacks } from '../lib/app.ts';
import { readConfig } from '../lib/config.ts';
import { stageContentLayer } from '../lib/content.ts';

const app = new App();
const config = readConfig(app.node);
buildStacks(app, config, stageContentLayer(config));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
