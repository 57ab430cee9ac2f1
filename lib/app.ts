import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { regionsFromContext, settingsFromContext } from './config';
import { WebhooksStack } from './webhooks-stack';

/** Stack name of one region: `Webhooks-<region>`, or `Webhooks-<stage>-<region>` with context `stage`. */
export function stackName(region: string, stage?: string): string {
  return stage === undefined || stage === '' ? `Webhooks-${region}` : `Webhooks-${stage}-${region}`;
}

/**
 * Adds one stack per region named in context `regions`, each configured from the other
 * context keys (lib/config.ts CONTEXT_KEYS), and runs cdk-nag's AwsSolutions checks on the
 * app. Stacks pin their region but not their account, so synthesis needs no credentials
 * and no context lookups; `cdk deploy` uses the account of the current credentials.
 */
export function buildApp(app: App, env: NodeJS.ProcessEnv = process.env): WebhooksStack[] {
  const read = (key: string): unknown => app.node.tryGetContext(key);
  const regions = regionsFromContext(read, env);
  const stageValue = read('stage');
  const stage = stageValue === undefined ? undefined : String(stageValue);
  if (stage !== undefined && !/^[A-Za-z0-9-]*$/.test(stage))
    throw new Error(`stage: "${stage}" may hold letters, digits and dashes only`);
  const stacks = regions.map(
    (region) =>
      new WebhooksStack(app, stackName(region, stage), {
        env: { region },
        description: `Webhook platform (${region}): ingestion, delivery from fixed IPs, retries, history`,
        settings: settingsFromContext(read, region, regions.length),
      }),
  );
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stacks;
}
