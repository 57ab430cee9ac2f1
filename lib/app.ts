import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { regionsFromContext, settingsFromContext } from './config';
import { WebhooksStack } from './webhooks-stack';

/** Stack name of one region: `Webhooks-<region>`, or `Webhooks-<stage>-<region>` with context `stage`. */
export function stackName(region: string, stage?: string): string {
  return stage === undefined || stage === '' ? `Webhooks-${region}` : `Webhooks-${stage}-${region}`;
}

/** The longest `stage`: every name made from a stack name stays within its limit (state machines: 80). */
export const MAX_STAGE_LENGTH = 32;

/** Context `stage`: none, or up to MAX_STAGE_LENGTH letters, digits and dashes. */
export function stageFromContext(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const stage = String(value);
  if (!/^[A-Za-z0-9-]*$/.test(stage))
    throw new Error(`stage: "${stage}" may hold letters, digits and dashes only`);
  if (stage.length > MAX_STAGE_LENGTH)
    throw new Error(
      `stage: "${stage}" is ${stage.length} characters; at most ${MAX_STAGE_LENGTH} (names made from the stack name have limits)`,
    );
  return stage;
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
  const stage = stageFromContext(read('stage'));
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
