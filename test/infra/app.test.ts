import { type App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV } from '../../lambdas/config';
import { buildApp } from '../../lib/app';
import type { WebhooksStack } from '../../lib/webhooks-stack';
import {
  type Built,
  envOf,
  logicalId,
  propsOf,
  references,
  resourcesOf,
  SKIP_BUNDLING,
  testApp,
} from './support';

// Two regions from context, as `cdk synth -c regions=eu-central-1,us-east-1 -c ...` does;
// eu-central-1 imports its EIPs and changes every tunable, us-east-1 keeps the defaults.
const EIPS = ['eipalloc-0aaa1111', 'eipalloc-0bbb2222'];
const context = {
  ...SKIP_BUNDLING,
  regions: 'eu-central-1,us-east-1',
  eipAllocationIds: JSON.stringify({ 'eu-central-1': EIPS }),
  retrySchedule: '[10,20,40,80,160]',
  retentionDays: '30',
  removalPolicy: 'destroy',
  alarmEmail: 'ops@example.com',
  deliveryMemoryMb: '1024',
  deliveryConcurrency: '13',
  deliveryBatchSize: '25',
  deliveryBatchingWindowSeconds: '3',
  deliveryMaxConcurrency: '20',
  apiThrottleRateLimit: '200',
  apiThrottleBurstLimit: '100',
};

let app: App;
let stacks: WebhooksStack[];
let eu: Built;
let us: Built;

beforeAll(() => {
  app = testApp({ context });
  stacks = buildApp(app, {});
  // buildApp attached cdk-nag to the app: synthesizing fails on any unacknowledged finding.
  const [euStack, usStack] = stacks as [WebhooksStack, WebhooksStack];
  const built = (stack: WebhooksStack): Built => {
    const template = Template.fromStack(stack);
    return { app, stack, template, json: template.toJSON() as Built['json'] };
  };
  eu = built(euStack);
  us = built(usStack);
});

describe('CDK app', () => {
  it('adds one stack per region, named after it and pinned to it', () => {
    expect(stacks.map((s) => s.stackName)).toEqual(['Webhooks-eu-central-1', 'Webhooks-us-east-1']);
    expect(stacks.map((s) => s.region)).toEqual(['eu-central-1', 'us-east-1']);
    // No account: synthesis needs no credentials and no lookups.
    expect(
      stacks.every((s) => s.account === Stack.of(s).account && s.account.startsWith('${Token')),
    ).toBe(true);
  });

  it('passes cdk-nag AwsSolutions for the whole app', () => {
    expect(() => app.synth()).not.toThrow();
  });

  it('uses imported EIPs without creating any, and reads their addresses for SENDER_IPS', () => {
    expect(resourcesOf(eu, 'AWS::EC2::EIP')).toHaveLength(0);
    const allocations = resourcesOf(eu, 'AWS::EC2::NatGateway').map(([, p]) => p.AllocationId);
    expect(allocations.sort()).toEqual([...EIPS].sort());
    const [[lookupId, lookup]] = resourcesOf(eu, 'Custom::AWS') as [
      [string, Record<string, unknown>],
    ];
    expect(JSON.stringify(lookup.Update)).toContain('describeAddresses');
    for (const fn of [eu.stack.api.apiFunction, eu.stack.delivery.deliveryFunction]) {
      expect(references(envOf(eu, logicalId(fn))[ENV.SENDER_IPS], lookupId)).toBe(true);
    }
    expect(references(eu.template.toJSON().Outputs.SenderIps.Value, lookupId)).toBe(true);
    // The other region creates its own.
    expect(resourcesOf(us, 'AWS::EC2::EIP')).toHaveLength(2);
  });

  it('applies the tunables from context', () => {
    const delivery = logicalId(eu.stack.delivery.deliveryFunction);
    expect(propsOf(eu, delivery).MemorySize).toBe(1024);
    expect(envOf(eu, delivery)).toMatchObject({
      [ENV.DELIVERY_CONCURRENCY]: '13',
      [ENV.RETENTION_DAYS]: '30',
      [ENV.RETRY_SCHEDULE_SECONDS]: '[10,20,40,80,160]',
    });
    expect(
      envOf(eu, logicalId(eu.stack.delivery.attemptFunction))[ENV.RETRY_SCHEDULE_SECONDS],
    ).toBe('[10,20,40,80,160]');
    eu.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 25,
      MaximumBatchingWindowInSeconds: 3,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    eu.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 100 },
    });
    eu.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    for (const table of [
      eu.stack.tables.webhooks,
      eu.stack.tables.notifications,
      eu.stack.tables.payloads,
    ]) {
      expect(eu.json.Resources[logicalId(table)]!.DeletionPolicy).toBe('Delete');
    }
    expect(us.json.Resources[logicalId(us.stack.tables.payloads)]!.DeletionPolicy).toBe('Delete');
  });
});

describe('cdk-nag in the tests', () => {
  it('fails synthesis on an unacknowledged finding', () => {
    const other = testApp();
    const stack = new Stack(other, 'Bad');
    new sqs.Queue(stack, 'PlainQueue');
    Validations.of(other).addPlugins(new AwsSolutionsChecks(other));
    const silence = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => other.synth()).toThrow(/AwsSolutions-SQS4/);
    } finally {
      silence.mockRestore();
    }
  });
});
