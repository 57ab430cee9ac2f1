import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  NOTIFICATION_INDEX_PROJECTION,
  NOTIFICATIONS_TABLE,
  PAYLOADS_TABLE,
  WEBHOOKS_TABLE,
} from '../../lambdas/adapters/dynamo-schema';
import {
  DELIVERY_LOG_SAMPLE_RATE,
  ENV,
  loadDeliveryConfig,
  METRIC_NAMES,
  METRICS_NAMESPACE,
} from '../../lambdas/config';
import { MAX_CONCURRENCY } from '../../lambdas/core/model';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/core/retry-schedule';
import { DEFAULTS, RANGES } from '../../lambdas/defaults';
import { loadHttpLambdaConfig } from '../../lambdas/handlers/http/env';
import { API_ROUTES } from '../../lib/constructs/api';
import { worstBatchSeconds } from '../../lib/constructs/delivery';
import { EgressNetwork } from '../../lib/constructs/egress-network';
import { synthesizeHealthDefinition, synthesizeRetryDefinition } from '../../lib/retry-definition';
import {
  actionsOf,
  actionsOn,
  allStatements,
  type Built,
  buildStack,
  definitionOf,
  envOf,
  type Json,
  logicalId,
  payloadWriteViolations,
  propsOf,
  references,
  resourcesOf,
  testApp,
} from './support';

/** The Allow statements of `role` on `resource` whose condition (as JSON, `{}` if none) passes `condition`. */
function allowedOn(role: string, resource: string, condition: (json: string) => boolean) {
  return allStatements(built).filter(
    ({ roles: r, statement }) =>
      statement.Effect === 'Allow' &&
      references(r, role) &&
      references(statement.Resource, resource) &&
      condition(JSON.stringify(statement.Condition ?? {})),
  );
}

/**
 * Statements that allow the tables' key to any principal outside its two conditioned uses:
 * through DynamoDB in this stack's region and account, or the envelope's encryption context.
 */
function keyGrantViolations(b: Built, key: string): string[] {
  const isThroughDynamo = (condition: Json | undefined) => {
    const equals = (condition?.StringEquals ?? {}) as Json;
    return (
      Object.keys(condition ?? {}).join() === 'StringEquals' &&
      Object.keys(equals).sort().join() === 'kms:CallerAccount,kms:ViaService' &&
      /"dynamodb\.(eu-central-1|",\{"Ref":"AWS::Region"\},")/.test(
        JSON.stringify(equals['kms:ViaService']),
      )
    );
  };
  const isEnvelope = (condition: Json | undefined) =>
    JSON.stringify(condition ?? {}).includes('kms:EncryptionContext:purpose');
  return allStatements(b)
    .filter(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        references(statement.Resource, key) &&
        !isThroughDynamo(statement.Condition as Json | undefined) &&
        !isEnvelope(statement.Condition as Json | undefined),
    )
    .map(({ policy, statement }) => `${policy}: ${actionsOf(statement).join(',')}`);
}

/** Deploy-time values (Refs, joins) stand in as strings. */
function runtimeStrings(env: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : `deployed-${k}`]),
  );
}

// One synthesis for the whole file (cdk-nag attached: building it at all means AwsSolutions passed).
let built: Built;
let ids: {
  ingest: string;
  api: string;
  delivery: string;
  attempt: string;
  queue: string;
  dlq: string;
  machine: string;
  healthMachine: string;
  webhooks: string;
  notifications: string;
  payloads: string;
  key: string;
};
let roles: { ingest: string; api: string; delivery: string; attempt: string };

beforeAll(() => {
  built = buildStack();
  const { stack } = built;
  ids = {
    ingest: logicalId(stack.api.ingestFunction),
    api: logicalId(stack.api.apiFunction),
    delivery: logicalId(stack.delivery.deliveryFunction),
    attempt: logicalId(stack.delivery.attemptFunction),
    queue: logicalId(stack.delivery.queue),
    dlq: logicalId(stack.delivery.deadLetterQueue),
    machine: logicalId(stack.delivery.retryMachine.stateMachine),
    healthMachine: logicalId(stack.delivery.healthMachine.stateMachine),
    webhooks: logicalId(stack.tables.webhooks),
    notifications: logicalId(stack.tables.notifications),
    payloads: logicalId(stack.tables.payloads),
    key: logicalId(stack.tables.key),
  };
  roles = {
    ingest: logicalId(stack.api.ingestFunction.role!),
    api: logicalId(stack.api.apiFunction.role!),
    delivery: logicalId(stack.delivery.deliveryFunction.role!),
    attempt: logicalId(stack.delivery.attemptFunction.role!),
  };
});

describe('egress network', () => {
  it('spreads private subnets over two AZs, each routed to the internet only through its own NAT gateway', () => {
    const privateSubnets = built.stack.network.vpc.privateSubnets.map((s) => logicalId(s));
    expect(privateSubnets).toHaveLength(2);
    const azs = privateSubnets.map((id) => JSON.stringify(propsOf(built, id).AvailabilityZone));
    expect(new Set(azs).size).toBe(2);

    const nats = resourcesOf(built, 'AWS::EC2::NatGateway').map(([id]) => id);
    expect(nats).toHaveLength(2);
    const natTargets = new Set<string>();
    for (const subnet of privateSubnets) {
      const association = resourcesOf(built, 'AWS::EC2::SubnetRouteTableAssociation').find(
        ([, p]) => references(p.SubnetId, subnet),
      );
      expect(association).toBeDefined();
      const routeTable = (association![1].RouteTableId as { Ref: string }).Ref;
      const routes = resourcesOf(built, 'AWS::EC2::Route').filter(([, p]) =>
        references(p.RouteTableId, routeTable),
      );
      // The only route out: default route to a NAT gateway, never an internet gateway.
      expect(routes).toHaveLength(1);
      expect(routes[0]![1].DestinationCidrBlock).toBe('0.0.0.0/0');
      expect(routes[0]![1].GatewayId).toBeUndefined();
      const nat = nats.find((n) => references(routes[0]![1].NatGatewayId, n));
      expect(nat).toBeDefined();
      natTargets.add(nat!);
    }
    expect(natTargets.size).toBe(2);
  });

  it('gives every NAT gateway an Elastic IP created by the stack, and outputs those IPs', () => {
    const eips = resourcesOf(built, 'AWS::EC2::EIP').map(([id]) => id);
    expect(eips).toHaveLength(2);
    const allocations = resourcesOf(built, 'AWS::EC2::NatGateway').map(([, p]) => p.AllocationId);
    for (const eip of eips) {
      expect(
        allocations.filter(
          (a) => JSON.stringify(a) === JSON.stringify({ 'Fn::GetAtt': [eip, 'AllocationId'] }),
        ),
      ).toHaveLength(1);
    }
    const senderIps = {
      'Fn::Join': [',', eips.map((eip) => ({ 'Fn::GetAtt': [eip, 'PublicIp'] }))],
    };
    built.template.hasOutput('SenderIps', { Value: senderIps });
    // GET /sender-ips is served by the api Lambda; the senders know their IPs too.
    for (const fn of [ids.api, ids.delivery, ids.attempt])
      expect(envOf(built, fn)[ENV.SENDER_IPS]).toEqual(senderIps);
  });

  it('runs delivery and attempt Lambdas in the private subnets and ingestion and API outside the VPC', () => {
    const privateSubnets = built.stack.network.vpc.privateSubnets.map((s) => ({
      Ref: logicalId(s),
    }));
    for (const fn of [ids.delivery, ids.attempt]) {
      const vpcConfig = propsOf(built, fn).VpcConfig as { SubnetIds: unknown[] };
      expect(vpcConfig.SubnetIds).toEqual(privateSubnets);
    }
    for (const fn of [ids.ingest, ids.api]) expect(propsOf(built, fn).VpcConfig).toBeUndefined();
  });

  it('refuses more AZs than the stack can name, rather than publish a sender IP nothing sends from', () => {
    // The app pins a stack's region, not its account: CDK then names two AZs per region.
    for (const natProvider of ['gateway', 'instance'] as const) {
      const stack = new Stack(testApp(), 'Net', { env: { region: 'eu-central-1' } });
      expect(() => new EgressNetwork(stack, 'EgressNetwork', { maxAzs: 3, natProvider })).toThrow(
        /maxAzs is 3, but this stack can place its network in only 2 availability zones/,
      );
    }
    // With its account pinned, a stack looks the AZs up and may use three.
    const account = '123456789012';
    const region = 'eu-central-1';
    const app = testApp({
      context: {
        [`availability-zones:account=${account}:region=${region}`]: [
          'eu-central-1a',
          'eu-central-1b',
          'eu-central-1c',
        ],
      },
    });
    const pinned = new Stack(app, 'Pinned', { env: { account, region } });
    const network = new EgressNetwork(pinned, 'EgressNetwork', { maxAzs: 3 });
    expect(network.vpc.privateSubnets).toHaveLength(3);
    expect(network.senderIps).toHaveLength(3);
  });
});

describe('Lambda functions', () => {
  it('all run Node.js 22 on arm64 with source maps, Powertools service and namespace', () => {
    for (const fn of [ids.ingest, ids.api, ids.delivery, ids.attempt]) {
      const p = propsOf(built, fn);
      expect(p.Runtime).toBe('nodejs22.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(envOf(built, fn)).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'webhooks',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      });
    }
  });

  it('configures the delivery Lambda with its defaults: 512 MB, 60 s, 16 at once, definition cache 30 s', () => {
    const p = propsOf(built, ids.delivery);
    expect(p.MemorySize).toBe(512);
    expect(p.Timeout).toBe(60);
    expect(envOf(built, ids.delivery)).toMatchObject({
      [ENV.DELIVERY_CONCURRENCY]: '16',
      [ENV.DEFINITION_CACHE_TTL_SECONDS]: '30',
      [ENV.RETENTION_DAYS]: '90',
      [ENV.ALLOW_HTTP]: 'false',
      [ENV.RETRY_STATE_MACHINE_ARN]: { Ref: ids.machine },
      [ENV.HEALTH_STATE_MACHINE_ARN]: { Ref: ids.healthMachine },
      [ENV.DELIVERY_QUEUE_URL]: { Ref: ids.queue },
    });
    for (const fn of [ids.ingest, ids.attempt])
      expect(envOf(built, fn)[ENV.DEFINITION_CACHE_TTL_SECONDS]).toBe('30');
    for (const fn of [ids.delivery, ids.attempt, ids.api]) {
      expect(envOf(built, fn)).toMatchObject({
        [ENV.WEBHOOKS_TABLE]: { Ref: ids.webhooks },
        [ENV.NOTIFICATIONS_TABLE]: { Ref: ids.notifications },
        [ENV.PAYLOADS_TABLE]: { Ref: ids.payloads },
      });
    }
    expect(envOf(built, ids.ingest)).toMatchObject({
      [ENV.WEBHOOKS_TABLE]: { Ref: ids.webhooks },
      [ENV.DELIVERY_QUEUE_URL]: { Ref: ids.queue },
    });
  });

  it('has the delivery and attempt Lambdas log successes only in a sample of invocations', () => {
    for (const fn of [ids.delivery, ids.attempt])
      expect(envOf(built, fn).POWERTOOLS_LOGGER_SAMPLE_RATE).toBe(String(DELIVERY_LOG_SAMPLE_RATE));
    expect(DELIVERY_LOG_SAMPLE_RATE).toBeLessThan(1);
  });

  it("sets every variable each handler's config loader requires, so no cold start fails on a missing one", () => {
    // Deploy-time values (Refs, joins) stand in as strings; AWS_REGION is set by Lambda itself.
    const runtimeEnv = (fn: string) => ({
      AWS_REGION: 'eu-central-1',
      ...Object.fromEntries(
        Object.entries(envOf(built, fn)).map(([k, v]) => [
          k,
          typeof v === 'string' ? v : `deployed-${k}`,
        ]),
      ),
    });
    for (const fn of [ids.ingest, ids.api])
      expect(() => loadHttpLambdaConfig(runtimeEnv(fn))).not.toThrow();
    for (const fn of [ids.delivery, ids.attempt]) {
      expect(loadDeliveryConfig(runtimeEnv(fn), DEFAULT_RETRY_SCHEDULE_SECONDS)).toMatchObject({
        retrySchedule: [...DEFAULT_RETRY_SCHEDULE_SECONDS],
        allowHttp: false,
        egressAllowCidrs: [],
      });
    }
  });

  it('gives the delivery and attempt Lambdas the circuit breaker settings, defaults or the ones deployed', () => {
    const configOf = (b: Built, fn: string) =>
      loadDeliveryConfig(
        { AWS_REGION: 'eu-central-1', ...runtimeStrings(envOf(b, fn)) },
        DEFAULT_RETRY_SCHEDULE_SECONDS,
      ).health.circuitBreaker;
    for (const fn of [ids.delivery, ids.attempt])
      expect(configOf(built, fn)).toEqual(DEFAULTS.circuitBreaker);

    const tuned = buildStack({
      circuitBreaker: { openAfterConsecutiveFailures: 3, maxCooldownSeconds: 600 },
    });
    for (const fn of [tuned.stack.delivery.deliveryFunction, tuned.stack.delivery.attemptFunction])
      expect(configOf(tuned, logicalId(fn))).toEqual({
        ...DEFAULTS.circuitBreaker,
        openAfterConsecutiveFailures: 3,
        maxCooldownSeconds: 600,
      });
  });

  it('synthesizes only settings the Lambdas accept: the most of each range loads at cold start, above it synth refuses', () => {
    const most = {
      retentionDays: RANGES.retentionDays.max,
      definitionCacheTtlSeconds: RANGES.definitionCacheTtlSeconds.max,
      deliveryConcurrency: RANGES.deliveryConcurrency.max,
      autoDisableAfterHours: RANGES.autoDisableAfterHours.max,
    };
    const widest = buildStack(most);
    const configOf = (fn: string) =>
      loadDeliveryConfig(
        { AWS_REGION: 'eu-central-1', ...runtimeStrings(envOf(widest, fn)) },
        DEFAULT_RETRY_SCHEDULE_SECONDS,
      );
    const delivery = configOf(logicalId(widest.stack.delivery.deliveryFunction));
    expect([
      delivery.retentionDays,
      delivery.definitionCacheTtlMs,
      delivery.deliveryConcurrency,
      delivery.health.autoDisableAfterHours,
    ]).toEqual([
      most.retentionDays,
      most.definitionCacheTtlSeconds * 1000,
      most.deliveryConcurrency,
      most.autoDisableAfterHours,
    ]);
    // The attempt Lambda sends one notification per invocation: it has no DELIVERY_CONCURRENCY.
    const attempt = configOf(logicalId(widest.stack.delivery.attemptFunction));
    expect([
      attempt.retentionDays,
      attempt.definitionCacheTtlMs,
      attempt.health.autoDisableAfterHours,
    ]).toEqual([
      most.retentionDays,
      most.definitionCacheTtlSeconds * 1000,
      most.autoDisableAfterHours,
    ]);
    for (const [name, value] of Object.entries(most))
      expect(() => buildStack({ [name]: value + 1 })).toThrow(new RegExp(`${name} must be within`));
  });

  it('gives both senders the TLS key exchange: hybrid by default, the others when deployed so', () => {
    const exchangeOf = (b: Built, fn: string) =>
      loadDeliveryConfig(
        { AWS_REGION: 'eu-central-1', ...runtimeStrings(envOf(b, fn)) },
        DEFAULT_RETRY_SCHEDULE_SECONDS,
      ).tlsKeyExchange;
    for (const fn of [ids.delivery, ids.attempt]) {
      expect(envOf(built, fn)[ENV.TLS_KEY_EXCHANGE]).toBe('hybrid');
      expect(exchangeOf(built, fn)).toBe('hybrid');
    }
    for (const exchange of ['classical', 'hybridEveryHandshake'] as const) {
      const deployed = buildStack({ tlsKeyExchange: exchange });
      for (const fn of [
        deployed.stack.delivery.deliveryFunction,
        deployed.stack.delivery.attemptFunction,
      ])
        expect(exchangeOf(deployed, logicalId(fn))).toBe(exchange);
    }
    expect(() => buildStack({ tlsKeyExchange: 'quantum' as never })).toThrow(
      /tlsKeyExchange: "quantum" must be one of hybrid, hybridEveryHandshake, classical/,
    );
    // A value changed by hand in the console fails the cold start, not silently.
    expect(() =>
      loadDeliveryConfig(
        {
          AWS_REGION: 'eu-central-1',
          ...runtimeStrings(envOf(built, ids.delivery)),
          [ENV.TLS_KEY_EXCHANGE]: 'pq',
        },
        DEFAULT_RETRY_SCHEDULE_SECONDS,
      ),
    ).toThrow(/TLS_KEY_EXCHANGE must be one of hybrid, hybridEveryHandshake, classical, got "pq"/);
  });

  it('gives the attempt Lambda both machine ARNs by name, without a circular reference', () => {
    const machines = [
      [ids.machine, ENV.RETRY_STATE_MACHINE_ARN, 'Webhooks-eu-central-1-retries'],
      [ids.healthMachine, ENV.HEALTH_STATE_MACHINE_ARN, 'Webhooks-eu-central-1-health'],
    ] as const;
    for (const [id, variable, expected] of machines) {
      const name = propsOf(built, id).StateMachineName as string;
      expect(name).toBe(expected);
      const arn = JSON.stringify(envOf(built, ids.attempt)[variable]);
      expect(arn).toContain(`:stateMachine:${name}`);
      expect(references(envOf(built, ids.attempt), id)).toBe(false);
    }
  });

  it('feeds the delivery Lambda from the queue in batches with partial batch responses', () => {
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: ids.delivery },
      EventSourceArn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 50 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });
});

describe('delivery queue', () => {
  it('redrives to an encrypted DLQ and keeps messages invisible longer than six delivery timeouts', () => {
    const queue = propsOf(built, ids.queue);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(queue.VisibilityTimeout as number).toBeGreaterThan(
      (propsOf(built, ids.delivery).Timeout as number) * 6,
    );
    for (const q of [ids.queue, ids.dlq]) expect(propsOf(built, q).SqsManagedSseEnabled).toBe(true);
  });

  it('keeps batch size, Lambda concurrency and timeouts consistent with the visibility timeout', () => {
    const mapping = resourcesOf(built, 'AWS::Lambda::EventSourceMapping')[0]![1];
    const batchSize = mapping.BatchSize as number;
    const window = mapping.MaximumBatchingWindowInSeconds as number;
    const lambdas = (mapping.ScalingConfig as Json).MaximumConcurrency as number;
    const timeout = propsOf(built, ids.delivery).Timeout as number;
    const env = envOf(built, ids.delivery);
    const sendsAtOnce = Number(env[ENV.DELIVERY_CONCURRENCY]);
    // The slowest possible batch (every request taking its full 15 s) ends before the timeout...
    expect(worstBatchSeconds(batchSize, sendsAtOnce)).toBeLessThanOrEqual(timeout);
    // ...and SQS keeps its messages hidden through Lambda's own retries of it plus the window.
    expect(propsOf(built, ids.queue).VisibilityTimeout as number).toBeGreaterThanOrEqual(
      6 * timeout + window,
    );
    // One webhook holds at most half of the delivery Lambdas, and the default cap fits in that.
    const ceiling = Number(env[ENV.WEBHOOK_CONCURRENCY_CEILING]);
    expect(ceiling).toBe(Math.floor(lambdas / 2));
    expect(MAX_CONCURRENCY.default).toBeLessThanOrEqual(ceiling);
    // Retries and the health driver's releases (the attempt Lambda) count in the same lease
    // sets: they cap a webhook at the same number.
    expect(envOf(built, ids.attempt)[ENV.WEBHOOK_CONCURRENCY_CEILING]).toBe(String(ceiling));
  });

  it('refuses a batch that could outlast the delivery Lambda', () => {
    expect(() => buildStack({ deliveryBatchSize: 100, deliveryConcurrency: 10 })).toThrow(
      /lower deliveryBatchSize or raise deliveryConcurrency/,
    );
  });

  it('takes messages of 1 MiB on both queues (a 256 KiB event plus its delivery envelope)', () => {
    for (const q of [ids.queue, ids.dlq])
      expect(propsOf(built, q).MaximumMessageSize).toBe(1024 * 1024);
  });

  it('refuses requests without TLS on both queues', () => {
    for (const q of [ids.queue, ids.dlq]) {
      built.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: q }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });
});

describe('state machines', () => {
  it('are Standard workflows logging every event, traced', () => {
    for (const id of [ids.machine, ids.healthMachine]) {
      const p = propsOf(built, id);
      expect(p.StateMachineType).toBe('STANDARD');
      expect(p.LoggingConfiguration).toMatchObject({ Level: 'ALL' });
      expect(p.TracingConfiguration).toEqual({ Enabled: true });
      // Each logs to its own group under /aws/vendedlogs/states/, named after the machine.
      const destination = (p.LoggingConfiguration as { Destinations: Json[] }).Destinations[0]!;
      const groupArn = (destination.CloudWatchLogsLogGroup as Json).LogGroupArn as Json;
      const group = (groupArn['Fn::GetAtt'] as string[])[0]!;
      expect(propsOf(built, group).LogGroupName).toBe(
        `/aws/vendedlogs/states/${p.StateMachineName}`,
      );
    }
  });

  it('deploy exactly the definitions synthesizeRetryDefinition and synthesizeHealthDefinition give local mode and tests', () => {
    const arn = 'arn:aws:lambda:eu-central-1:123456789012:function:placeholder';
    expect(definitionOf(built, ids.machine, arn)).toEqual(
      synthesizeRetryDefinition({ attemptFunctionArn: arn }),
    );
    expect(definitionOf(built, ids.healthMachine, arn)).toEqual(
      synthesizeHealthDefinition({ attemptFunctionArn: arn }),
    );
  });

  it('hands the same schedule to the delivery and attempt Lambdas', () => {
    for (const fn of [ids.delivery, ids.attempt]) {
      expect(JSON.parse(envOf(built, fn)[ENV.RETRY_SCHEDULE_SECONDS] as string)).toEqual([
        ...DEFAULT_RETRY_SCHEDULE_SECONDS,
      ]);
    }
  });
});

describe('tables', () => {
  it('are on-demand, with point-in-time recovery, the customer-managed key, and retained', () => {
    const tables = built.json.Resources;
    for (const id of [ids.webhooks, ids.notifications, ids.payloads]) {
      expect(tables[id]!.DeletionPolicy).toBe('Retain');
      expect(propsOf(built, id)).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [ids.key, 'Arn'] },
        },
      });
    }
    expect(tables[ids.key]!.DeletionPolicy).toBe('Retain');
    expect(propsOf(built, ids.key).EnableKeyRotation).toBe(true);
  });

  it('expire notifications and payloads by TTL', () => {
    expect(propsOf(built, ids.notifications).TimeToLiveSpecification).toEqual({
      AttributeName: NOTIFICATIONS_TABLE.ttlAttribute,
      Enabled: true,
    });
    expect(propsOf(built, ids.payloads).TimeToLiveSpecification).toEqual({
      AttributeName: PAYLOADS_TABLE.ttlAttribute,
      Enabled: true,
    });
  });

  it('keep the write-once Payloads in the Standard-IA class by default, Standard on request', () => {
    expect(propsOf(built, ids.payloads).TableClass).toBe('STANDARD_INFREQUENT_ACCESS');
    expect(propsOf(built, ids.notifications).TableClass).toBeUndefined();
    const standard = buildStack({ payloadsTableClass: 'STANDARD' });
    expect(
      propsOf(standard, logicalId(standard.stack.tables.payloads)).TableClass ?? 'STANDARD',
    ).toBe('STANDARD');
    expect(() => buildStack({ payloadsTableClass: 'GLACIER' as never })).toThrow(
      /payloadsTableClass/,
    );
  });

  it('index notifications by webhook and by status, projecting the list summary, and parked ones sparsely', () => {
    const [byParked, ...gsis] = [
      ...(propsOf(built, ids.notifications).GlobalSecondaryIndexes as Json[]),
    ].sort((a, b) => (a.IndexName === 'byParked' ? -1 : b.IndexName === 'byParked' ? 1 : 0));
    expect(byParked).toEqual({
      IndexName: NOTIFICATIONS_TABLE.byParkedIndex.name,
      KeySchema: [
        { AttributeName: NOTIFICATIONS_TABLE.byParkedIndex.partitionKey, KeyType: 'HASH' },
        { AttributeName: NOTIFICATIONS_TABLE.byParkedIndex.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['waitingReason'] },
    });
    const expected = [NOTIFICATIONS_TABLE.byWebhookIndex, NOTIFICATIONS_TABLE.byStatusIndex].map(
      (index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: [...NOTIFICATION_INDEX_PROJECTION],
        },
      }),
    );
    expect(gsis).toEqual(expected);
  });
});

describe('permissions', () => {
  it('grants nobody UpdateItem, DeleteItem, BatchWriteItem or a wildcard on Payloads', () => {
    expect(payloadWriteViolations(built, ids.payloads)).toEqual([]);
  });

  it('would notice a grant of UpdateItem or a wildcard (the check itself can fail)', () => {
    const app = testApp();
    const stack = new Stack(app, 'Probe');
    const table = new dynamodb.Table(stack, 'Payloads', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
    });
    table.grantReadWriteData(
      new iam.Role(stack, 'Writer', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      }),
    );
    new iam.Role(stack, 'Admin', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    }).addToPolicy(new iam.PolicyStatement({ actions: ['dynamodb:*'], resources: ['*'] }));
    const template = Template.fromStack(stack);
    const probe = { app, stack, template, json: template.toJSON() } as unknown as Built;
    const violations = payloadWriteViolations(probe, logicalId(table));
    expect(violations.some((v) => v.endsWith('dynamodb:UpdateItem'))).toBe(true);
    expect(violations.some((v) => v.endsWith('dynamodb:DeleteItem'))).toBe(true);
    expect(violations.some((v) => v.endsWith('dynamodb:*'))).toBe(true);
  });

  it('keeps subject keys apart, without point-in-time recovery, and lets only the api destroy them', () => {
    const table = logicalId(built.stack.tables.subjectKeys);
    expect(propsOf(built, table).PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: false,
    });
    expect(actionsOn(built, roles.api, table)).toEqual(
      new Set([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ]),
    );
    expect(actionsOn(built, roles.delivery, table)).toEqual(
      new Set(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem']),
    );
    expect(actionsOn(built, roles.attempt, table)).toEqual(new Set(['dynamodb:GetItem']));
    expect(actionsOn(built, roles.ingest, table).size).toBe(0);
    for (const fn of [ids.api, ids.delivery, ids.attempt])
      expect(envOf(built, fn)[ENV.SUBJECT_KEYS_TABLE]).toEqual({ Ref: table });
  });

  it('lets only the delivery Lambda write Payloads, with PutItem', () => {
    expect(actionsOn(built, roles.delivery, ids.payloads)).toEqual(
      new Set(['dynamodb:PutItem', 'dynamodb:GetItem']),
    );
    expect(actionsOn(built, roles.attempt, ids.payloads)).toEqual(new Set(['dynamodb:GetItem']));
    expect(actionsOn(built, roles.api, ids.payloads)).toEqual(new Set(['dynamodb:GetItem']));
    expect(actionsOn(built, roles.ingest, ids.payloads).size).toBe(0);
  });

  it('lets every role use the tables key only through DynamoDB in its region, or under the envelope context', () => {
    expect(keyGrantViolations(built, ids.key)).toEqual([]);
    // Each function reaches the key through DynamoDB: reads for all, writes where it writes.
    const throughDynamo = (role: string) =>
      new Set(
        allowedOn(role, ids.key, (c) => c.includes('kms:ViaService')).flatMap(({ statement }) =>
          actionsOf(statement),
        ),
      );
    for (const role of [roles.ingest, roles.api, roles.delivery, roles.attempt])
      expect(throughDynamo(role)).toEqual(
        new Set(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']),
      );
  });

  it('would notice a grant on the key without a condition (the check itself can fail)', () => {
    const app = testApp();
    const stack = new Stack(app, 'Probe', { env: { region: 'eu-central-1' } });
    const table = new dynamodb.Table(stack, 'Encrypted', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    });
    table.grantReadWriteData(
      new iam.Role(stack, 'Writer', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      }),
    );
    const template = Template.fromStack(stack);
    const probe = { app, stack, template, json: template.toJSON() } as unknown as Built;
    const violations = keyGrantViolations(probe, logicalId(table.encryptionKey!));
    expect(violations.length).toBeGreaterThan(0);
    expect(violations.join(' ')).toContain('kms:Decrypt');
  });

  it('lets every function open sealed secrets with the tables key, and only api and delivery seal new ones', () => {
    const conditioned = (role: string) =>
      allowedOn(role, ids.key, (c) => c.includes('kms:EncryptionContext:purpose'));
    const actions = (role: string) =>
      new Set(conditioned(role).flatMap(({ statement }) => actionsOf(statement)));
    for (const role of [roles.api, roles.delivery])
      expect(actions(role)).toEqual(new Set(['kms:GenerateDataKey', 'kms:Decrypt']));
    for (const role of [roles.ingest, roles.attempt])
      expect(actions(role)).toEqual(new Set(['kms:Decrypt']));
    for (const fn of [ids.ingest, ids.api, ids.delivery, ids.attempt])
      expect(JSON.stringify(envOf(built, fn)[ENV.SECRETS_KMS_KEY_ID])).toContain(ids.key);
  });

  it('gives each function the table access its role needs and no more', () => {
    const writes = (role: string, table: string) =>
      actionsOn(built, role, table).has('dynamodb:PutItem');
    const reads = (role: string, table: string) =>
      actionsOn(built, role, table).has('dynamodb:GetItem');
    expect([
      reads(roles.ingest, ids.webhooks),
      writes(roles.ingest, ids.webhooks),
      reads(roles.ingest, ids.notifications),
    ]).toEqual([true, false, false]);
    expect([writes(roles.api, ids.webhooks), writes(roles.api, ids.notifications)]).toEqual([
      true,
      true,
    ]);
    // Delivery's PutItem on Webhooks is on the cursor-key item only (next test).
    expect(writes(roles.attempt, ids.webhooks)).toBe(false);
    for (const role of [roles.delivery, roles.attempt]) {
      expect([reads(role, ids.webhooks), writes(role, ids.notifications)]).toEqual([true, true]);
    }
  });

  it('keeps the cursor secret in its Webhooks item: delivery may put that item and no other, ingest and attempt not at all', () => {
    const cursorItemOnly = JSON.stringify({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [WEBHOOKS_TABLE.cursorKeyItemId] },
    });
    const onCursorItem = (role: string) =>
      allowedOn(role, ids.webhooks, (c) => c === cursorItemOnly);
    const writesUnconditioned = (role: string) =>
      allowedOn(role, ids.webhooks, (c) => c === '{}').some(({ statement }) =>
        actionsOf(statement).includes('dynamodb:PutItem'),
      );
    for (const role of [roles.api, roles.delivery])
      expect(new Set(onCursorItem(role).flatMap(({ statement }) => actionsOf(statement)))).toEqual(
        new Set(['dynamodb:GetItem', 'dynamodb:PutItem']),
      );
    expect([roles.api, roles.delivery].map(writesUnconditioned)).toEqual([true, false]);
    for (const role of [roles.ingest, roles.attempt]) {
      expect(onCursorItem(role)).toEqual([]);
      expect(writesUnconditioned(role)).toBe(false);
    }
    // The health driver's auto-disable: UpdateItem on Webhooks, any item but the cursor key's.
    const exceptCursorItem = JSON.stringify({
      'ForAllValues:StringNotEquals': { 'dynamodb:LeadingKeys': [WEBHOOKS_TABLE.cursorKeyItemId] },
    });
    const attemptWrites = allowedOn(roles.attempt, ids.webhooks, () => true).filter(
      ({ statement }) => actionsOf(statement).some((a) => /Put|Update|Delete|Write/.test(a)),
    );
    expect(
      attemptWrites.map(({ statement }) => [
        actionsOf(statement),
        JSON.stringify(statement.Condition ?? {}),
      ]),
    ).toEqual([[['dynamodb:UpdateItem'], exceptCursorItem]]);
    expect(resourcesOf(built, 'AWS::KMS::Key').map(([id]) => id)).toEqual([ids.key]);
  });

  it('lets ingest, api, delivery and attempt enqueue (attempt for operational events), and only delivery and attempt start executions', () => {
    // The attempt Lambda queues operational events (retries and driver steps publish them).
    for (const role of [roles.ingest, roles.api, roles.delivery, roles.attempt])
      expect(actionsOn(built, role, ids.queue).has('sqs:SendMessage')).toBe(true);
    expect(actionsOn(built, roles.attempt, ids.queue).has('sqs:ReceiveMessage')).toBe(false);
    expect(actionsOn(built, roles.delivery, ids.queue).has('sqs:ReceiveMessage')).toBe(true);
    for (const machine of [ids.machine, ids.healthMachine]) {
      expect(actionsOn(built, roles.delivery, machine).has('states:StartExecution')).toBe(true);
      for (const role of [roles.ingest, roles.api, roles.attempt])
        expect(actionsOn(built, role, machine).size).toBe(0);
    }
    // The attempt Lambda (next retry, released notifications, driver hand-over) by name only.
    const byName = allStatements(built)
      .filter(
        ({ roles: r, statement }) => references(r, roles.attempt) && statement.Effect === 'Allow',
      )
      .filter(({ statement }) => JSON.stringify(statement.Action).includes('states:'));
    expect(byName.map(({ statement }) => statement.Action)).toEqual(['states:StartExecution']);
    const resources = JSON.stringify(byName[0]!.statement.Resource);
    for (const name of ['Webhooks-eu-central-1-retries', 'Webhooks-eu-central-1-health'])
      expect(resources).toContain(`:stateMachine:${name}"`);
  });
});

describe('HTTP API', () => {
  const routeKey = (r: { method: string; path: string }) => `${r.method} ${r.path}`;

  it('has every route of the design, each integrated with the Lambda that serves it', () => {
    const routes = resourcesOf(built, 'AWS::ApiGatewayV2::Route').map(([, p]) => p);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(API_ROUTES.map(routeKey).sort());
    const integrations = resourcesOf(built, 'AWS::ApiGatewayV2::Integration');
    for (const spec of API_ROUTES) {
      const route = routes.find((r) => r.RouteKey === routeKey(spec))!;
      const integrationId = (
        (route.Target as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1][1] as { Ref: string }
      ).Ref;
      const integration = integrations.find(([id]) => id === integrationId)![1];
      expect(
        references(integration.IntegrationUri, spec.target === 'ingest' ? ids.ingest : ids.api),
      ).toBe(true);
    }
    expect(API_ROUTES.find((r) => routeKey(r) === 'POST /events')!.target).toBe('ingest');
  });

  it('requires SigV4 on every route but GET /health', () => {
    for (const [, route] of resourcesOf(built, 'AWS::ApiGatewayV2::Route')) {
      expect(route.AuthorizationType).toBe(route.RouteKey === 'GET /health' ? 'NONE' : 'AWS_IAM');
    }
  });

  it('throttles the stage and writes a JSON access log line per request', () => {
    const [[, stage]] = resourcesOf(built, 'AWS::ApiGatewayV2::Stage') as [[string, Json]];
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 10000, ThrottlingBurstLimit: 5000 },
    });
    const logSettings = stage.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(references(logSettings.DestinationArn, logicalId(built.stack.api.accessLogs))).toBe(
      true,
    );
    expect(JSON.parse(logSettings.Format)).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      caller: '$context.identity.userArn',
    });
    built.template.hasOutput('ApiUrl', {});
  });

  it('exports a producer policy for POST /events only and an operator policy for every other signed route', () => {
    const resourcesOfPolicy = (policyId: string) => {
      const doc = propsOf(built, policyId).PolicyDocument as {
        Statement: { Action: string; Resource: unknown }[];
      };
      expect(doc.Statement.every((s) => s.Action === 'execute-api:Invoke')).toBe(true);
      return doc.Statement.flatMap((s) =>
        Array.isArray(s.Resource) ? s.Resource : [s.Resource],
      ).map((r) => {
        const parts = (r as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
        return parts[parts.length - 1] as string;
      });
    };
    expect(resourcesOfPolicy(logicalId(built.stack.api.producerPolicy))).toEqual([
      '/$default/POST/events',
    ]);
    const operator = resourcesOfPolicy(logicalId(built.stack.api.operatorPolicy));
    const expected = API_ROUTES.filter((r) => r.access === 'operator').map(
      (r) => `/$default/${r.method}${r.path.replace(/\{[^}]+\}/g, '*')}`,
    );
    expect(operator.sort()).toEqual(expected.sort());
    expect(operator).not.toContain('/$default/POST/events');
  });
});

describe('monitoring', () => {
  const dashboardBody = () => {
    const [[, dashboard]] = resourcesOf(built, 'AWS::CloudWatch::Dashboard') as [[string, Json]];
    return JSON.stringify(dashboard.DashboardBody);
  };

  it('charts the API, queue, DLQ, platform metrics, Lambdas and executions', () => {
    const body = dashboardBody();
    const byReason: string[] = [METRIC_NAMES.notificationParked, METRIC_NAMES.waitingNotifications];
    for (const name of Object.values(METRIC_NAMES)) {
      // Destination health's per-reason metrics carry the Reason dimension first.
      const dimensions = byReason.includes(name)
        ? `\\"Reason\\",\\"CIRCUIT_OPEN\\",\\"service\\",\\"webhooks\\"`
        : `\\"service\\",\\"webhooks\\"`;
      expect(body).toContain(`[\\"${METRICS_NAMESPACE}\\",\\"${name}\\",${dimensions}`);
    }
    for (const metric of ['Count', '4xx', '5xx', 'Latency'])
      expect(body).toContain(`\\"AWS/ApiGateway\\",\\"${metric}\\"`);
    for (const metric of ['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage'])
      expect(body).toContain(`\\"AWS/SQS\\",\\"${metric}\\"`);
    for (const metric of ['Errors', 'Throttles', 'Duration', 'ConcurrentExecutions'])
      expect(body).toContain(`\\"AWS/Lambda\\",\\"${metric}\\"`);
    for (const metric of ['ExecutionsStarted', 'ExecutionsFailed'])
      expect(body).toContain(`\\"AWS/States\\",\\"${metric}\\"`);
  });

  it('alarms on DLQ depth, message age, failure rate, Lambda errors and failed executions, to the encrypted topic', () => {
    const topic = logicalId(built.stack.monitoring.alarmTopic);
    const alarms = resourcesOf(built, 'AWS::CloudWatch::Alarm').map(([, p]) => p);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topic }]);
    const byMetric = (name: string) => alarms.filter((a) => a.MetricName === name);
    expect(
      byMetric('ApproximateNumberOfMessagesVisible').map((a) => references(a.Dimensions, ids.dlq)),
    ).toEqual([true]);
    expect(byMetric('ApproximateAgeOfOldestMessage')).toHaveLength(1);
    expect(byMetric('Errors')).toHaveLength(5);
    // One per machine: the retries and the health drivers.
    expect(
      byMetric('ExecutionsFailed').map((a) => (a.Dimensions as { Value: unknown }[])[0]!.Value),
    ).toEqual([{ Ref: ids.machine }, { Ref: ids.healthMachine }]);
    const rate = alarms.find(
      (a) =>
        Array.isArray(a.Metrics) &&
        (a.Metrics as Json[]).some((m) => String(m.Expression).startsWith('FILL(failed, 0) /')),
    );
    expect(rate).toBeDefined();
    const metrics = rate!.Metrics as Json[];
    expect(metrics.find((m) => m.Expression !== undefined)!.Expression).toBe(
      'FILL(failed, 0) / (FILL(sent, 0) + FILL(failed, 0))',
    );
    const names = metrics.flatMap((m) =>
      (m.MetricStat as { Metric?: Json } | undefined)?.Metric
        ? [(m.MetricStat as { Metric: Json }).Metric.MetricName]
        : [],
    );
    expect(names.sort()).toEqual(
      [METRIC_NAMES.notificationFailed, METRIC_NAMES.notificationSent].sort(),
    );
    expect(propsOf(built, topic).KmsMasterKeyId).toBeDefined();
  });

  it('encrypts the alarm topic with the tables key, which CloudWatch may use for that topic only', () => {
    const topic = propsOf(built, logicalId(built.stack.monitoring.alarmTopic));
    expect(references(topic.KmsMasterKeyId, ids.key)).toBe(true);
    const policy = propsOf(built, ids.key).KeyPolicy as { Statement: Json[] };
    const forCloudWatch = policy.Statement.filter((st) =>
      JSON.stringify(st.Principal).includes('cloudwatch.amazonaws.com'),
    );
    expect(forCloudWatch).toHaveLength(1);
    const st = forCloudWatch[0]!;
    expect(st.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    const equals = (st.Condition as { StringEquals: Json }).StringEquals;
    expect(Object.keys(st.Condition as Json)).toEqual(['StringEquals']);
    expect(equals['aws:SourceAccount']).toBeDefined();
    // The ARN of the topic as named in the template.
    const arn = JSON.stringify(equals['kms:EncryptionContext:aws:sns:topicArn']);
    expect(arn).toContain(':sns:');
    expect(arn).toContain(String(topic.TopicName));
  });

  it("lets this account's alarms publish to the alarm topic, over TLS only", () => {
    const topicId = logicalId(built.stack.monitoring.alarmTopic);
    const policies = resourcesOf(built, 'AWS::SNS::TopicPolicy')
      .map(([, p]) => p)
      .filter((p) => references(p.Topics, topicId));
    expect(policies).toHaveLength(1);
    const statements = (policies[0]!.PolicyDocument as { Statement: Json[] }).Statement;
    const allows = statements.filter((st) => st.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    const allow = allows[0]!;
    expect(allow.Principal).toEqual({ Service: 'cloudwatch.amazonaws.com' });
    expect(allow.Action).toBe('sns:Publish');
    expect(references(allow.Resource, topicId)).toBe(true);
    const condition = allow.Condition as { StringEquals: Json; ArnLike: Json };
    expect(Object.keys(condition).sort()).toEqual(['ArnLike', 'StringEquals']);
    expect(condition.StringEquals['aws:SourceAccount']).toBeDefined();
    expect(JSON.stringify(condition.ArnLike['aws:SourceArn'])).toContain(':cloudwatch:');
    expect(JSON.stringify(condition.ArnLike['aws:SourceArn'])).toContain(':alarm:*');
    // The deny of plain-HTTP requests stays.
    expect(
      statements.some(
        (st) =>
          st.Effect === 'Deny' &&
          JSON.stringify(st.Condition) ===
            JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      ),
    ).toBe(true);
  });
});
