/**
 * What the dashboard and the alarms watch is what the code emits: every platform metric they
 * name (namespace, name, exact dimension set) is written as EMF by the Lambdas' own handlers
 * and observers, run here with the environment CDK gives each function; every AWS metric
 * carries the dimensions its service publishes, pointing at a resource of the right type.
 */
import type { SQSEvent } from 'aws-lambda';
import {
  createDeliveryObservability,
  createLogger,
  createMetrics,
} from '../../lambdas/adapters/observability';
import { METRIC_NAMES } from '../../lambdas/config';
import type { DeliveryService } from '../../lambdas/core/delivery';
import type { HealthDriver } from '../../lambdas/core/health/driver';
import type { Attempt } from '../../lambdas/core/model';
import { createAttemptHandler } from '../../lambdas/handlers/attempt';
import { createDeliveryHandler } from '../../lambdas/handlers/delivery';
import { createIngestHandler } from '../../lambdas/handlers/ingest';
import { createSweeperHandler } from '../../lambdas/handlers/sweeper';
import { FAILURE_RATE_EXPRESSION } from '../../lib/constructs/monitoring';
import { invoke } from '../support/apigw';
import { MemoryDeliveryQueue, MemoryWebhookStore } from '../support/memory-stores';
import { type Built, buildStack, type Json, logicalId } from './support';

/** One metric as CloudWatch keys it: a dimension value may be a CloudFormation reference. */
interface MetricRef {
  readonly where: string;
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, unknown>>;
}

const key = (m: Pick<MetricRef, 'namespace' | 'name' | 'dimensions'>) =>
  JSON.stringify([
    m.namespace,
    m.name,
    Object.entries(m.dimensions).sort(([a], [b]) => a.localeCompare(b)),
  ]);

/** Every metric of every alarm (single metric or metric math) of the template. */
function alarmMetrics(built: Built): MetricRef[] {
  return Object.entries(built.json.Resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .flatMap(([id, r]) => {
      const p = r.Properties ?? {};
      const dims = (list: unknown) =>
        Object.fromEntries(
          ((list ?? []) as { Name: string; Value: unknown }[]).map((d) => [d.Name, d.Value]),
        );
      if (typeof p.MetricName === 'string')
        return [
          {
            where: `alarm ${id}`,
            namespace: String(p.Namespace),
            name: p.MetricName,
            dimensions: dims(p.Dimensions),
          },
        ];
      return ((p.Metrics ?? []) as { MetricStat?: { Metric: Json } }[]).flatMap((m) =>
        m.MetricStat
          ? [
              {
                where: `alarm ${id}`,
                namespace: String(m.MetricStat.Metric.Namespace),
                name: String(m.MetricStat.Metric.MetricName),
                dimensions: dims(m.MetricStat.Metric.Dimensions),
              },
            ]
          : [],
      );
    });
}

/** Every metric row of every dashboard widget; a reference in the body becomes its JSON. */
function dashboardMetrics(built: Built): MetricRef[] {
  const [dashboard] = Object.values(built.json.Resources).filter(
    (r) => r.Type === 'AWS::CloudWatch::Dashboard',
  );
  const body = dashboard?.Properties?.DashboardBody as
    | { 'Fn::Join': [string, unknown[]] }
    | undefined;
  if (body === undefined) throw new Error('no dashboard');
  const parts = body['Fn::Join'][1];
  // Each reference sits inside a JSON string of the body: put a marker there, then swap it back.
  const refs: unknown[] = [];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      refs.push(part);
      return `@ref${refs.length - 1}@`;
    })
    .join('');
  const parsed = JSON.parse(text) as {
    widgets: { properties: { title?: string; metrics?: unknown[][] } }[];
  };
  const value = (v: unknown) => {
    const m = typeof v === 'string' ? /^@ref(\d+)@$/.exec(v) : null;
    return m ? refs[Number(m[1])] : v;
  };
  return parsed.widgets.flatMap((w) =>
    (w.properties.metrics ?? [])
      .filter((row) => typeof row[0] === 'string')
      .map((row) => {
        const plain = row.filter((cell) => typeof cell !== 'object' || cell === null);
        const [namespace, name, ...pairs] = plain as string[];
        const dimensions: Record<string, unknown> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2)
          dimensions[String(pairs[i])] = value(pairs[i + 1]);
        return {
          where: `widget "${w.properties.title}"`,
          namespace: String(namespace),
          name: String(name),
          dimensions,
        };
      }),
  );
}

/** The EMF records written to stdout while `fn` runs, one entry per metric and dimension set. */
async function emfOf(fn: () => Promise<unknown>): Promise<MetricRef[]> {
  const out: MetricRef[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) {
      const record = JSON.parse(line) as Json & {
        _aws?: {
          CloudWatchMetrics: {
            Namespace: string;
            Dimensions: string[][];
            Metrics: { Name: string }[];
          }[];
        };
      };
      for (const directive of record._aws?.CloudWatchMetrics ?? [])
        for (const set of directive.Dimensions)
          for (const metric of directive.Metrics)
            out.push({
              where: 'EMF',
              namespace: directive.Namespace,
              name: metric.Name,
              dimensions: Object.fromEntries(set.map((d) => [d, record[d]])),
            });
    }
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return out;
}

/** Runs `fn` with the Powertools variables CDK sets on the function `id` of the template. */
async function withFunctionEnv<T>(built: Built, id: string, fn: () => Promise<T>): Promise<T> {
  const variables = ((built.json.Resources[id]?.Properties?.Environment as Json | undefined)
    ?.Variables ?? {}) as Record<string, unknown>;
  const names = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];
  const saved = Object.fromEntries(
    [...names, 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_DISABLED'].map((n) => [
      n,
      process.env[n],
    ]),
  );
  for (const n of names) {
    expect(typeof variables[n]).toBe('string');
    process.env[n] = String(variables[n]);
  }
  // The log lines are not what is checked here (EMF goes out whatever the log level).
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  try {
    return await fn();
  } finally {
    for (const [n, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
  }
}

const ref = { notificationId: 'ntf_1', webhookId: 'wh_1' };
const attempt: Attempt = {
  number: 1,
  trigger: 'initial',
  startedAt: '2026-11-28T10:00:00.000Z',
  durationMs: 12,
  statusCode: 500,
  outcome: 'FAILED',
  error: 'INVALID_HTTP_RESPONSE',
  responseBody: null,
};
const clock = { now: () => new Date('2026-11-28T10:00:00.000Z') };
const sqsEvent = (body: unknown): SQSEvent =>
  ({
    Records: [
      {
        messageId: 'm1',
        body: JSON.stringify(body),
        attributes: {
          SentTimestamp: String(clock.now().getTime() - 40),
          ApproximateReceiveCount: '1',
        },
      },
    ],
  }) as unknown as SQSEvent;

/**
 * Every platform metric the Lambdas can write, from their handlers: each outcome the core
 * reports to the observers happens once in an invocation, which then ends as on AWS.
 */
async function emittedByTheLambdas(built: Built): Promise<MetricRef[]> {
  const { api, delivery: d, retrySweeper } = built.stack;
  const delivery = await withFunctionEnv(built, logicalId(d.deliveryFunction), () =>
    emfOf(async () => {
      const o = createDeliveryObservability(createLogger(), createMetrics());
      const service = {
        handleJob: async () => {
          o.delivery.sent(ref, { ...attempt, outcome: 'SENT', statusCode: 200, error: null }, 40);
          o.delivery.failed(ref, 'INVALID_HTTP_RESPONSE', attempt);
          o.delivery.retryScheduled(ref, attempt, 60);
          o.delivery.deferred(ref, 1, 5);
          // A first attempt parked by the gate: nothing releases it in this Lambda.
          for (const reason of ['CIRCUIT_OPEN', 'PAUSED', 'RATE_LIMITED'] as const)
            o.health.parked(ref, reason);
          o.health.circuitOpened(ref.webhookId, 5);
        },
      } as unknown as DeliveryService;
      const handler = createDeliveryHandler({
        service,
        concurrency: 1,
        logger: createLogger(),
        metrics: o.metrics,
      });
      const job = {
        kind: 'deliver',
        notificationId: ref.notificationId,
        webhookId: ref.webhookId,
        event: { id: 'evt_1', type: 'T', occurredAt: clock.now().toISOString(), data: {} },
        deferrals: 0,
      };
      expect(await handler(sqsEvent(job))).toEqual({ batchItemFailures: [] });
    }),
  );
  const attemptLambda = await withFunctionEnv(built, logicalId(d.attemptFunction), () =>
    emfOf(async () => {
      const o = createDeliveryObservability(createLogger(), createMetrics());
      const driver = {
        step: async (input: { webhookId: string; seq: number; steps: number }) => {
          o.health.heartbeat(input.webhookId, {
            open: true,
            waiting: { CIRCUIT_OPEN: 3, PAUSED: 1, RATE_LIMITED: 2 },
          });
          o.health.circuitClosed(input.webhookId);
          o.health.released(input.webhookId, 6);
          o.health.webhookDisabled(input.webhookId);
          return { ...input, done: true, wakeAt: clock.now().toISOString() };
        },
      } as unknown as HealthDriver;
      const handler = createAttemptHandler({
        service: {} as DeliveryService,
        driver,
        metrics: o.metrics,
      });
      await handler({ action: 'health', webhookId: ref.webhookId, seq: 1, steps: 0 });
    }),
  );
  const sweeper = await withFunctionEnv(built, logicalId(retrySweeper.function), () =>
    emfOf(async () => {
      const handler = createSweeperHandler({
        sweeper: {
          sweep: async () => ({
            slot: 1,
            found: 0,
            started: 0,
            skipped: 0,
            errors: [],
            drivers: {
              checked: 1,
              restarted: [],
              errors: [],
              openCircuits: 1,
              waiting: { CIRCUIT_OPEN: 3, PAUSED: 1, RATE_LIMITED: 2 },
            },
          }),
        },
        clock,
        metrics: createMetrics(),
        logger: { info: () => {}, error: () => {} },
      });
      await handler({ time: clock.now().toISOString() });
    }),
  );
  const ingest = await withFunctionEnv(built, logicalId(api.ingestFunction), () =>
    emfOf(async () => {
      const handler = createIngestHandler({
        stores: { webhooks: new MemoryWebhookStore() },
        queue: new MemoryDeliveryQueue(),
        clock,
        config: { definitionCacheTtlMs: 0 },
        logger: { info: () => {}, error: () => {} },
        metrics: createMetrics(),
      });
      const res = await invoke(handler, {
        method: 'POST',
        path: '/events',
        body: { type: 'T', data: {} },
      });
      expect(res.status).toBe(202);
    }),
  );
  return [...delivery, ...attemptLambda, ...sweeper, ...ingest];
}

/** What AWS services publish: the dimension set of each metric, and the resource it names. */
const AWS_METRICS: Record<
  string,
  { readonly metrics: readonly string[]; readonly dimensions: Record<string, string> }[]
> = {
  'AWS/SQS': [
    {
      metrics: [
        'ApproximateNumberOfMessagesVisible',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateAgeOfOldestMessage',
      ],
      dimensions: { QueueName: 'AWS::SQS::Queue' },
    },
  ],
  'AWS/Lambda': [
    {
      metrics: ['Errors', 'Throttles', 'Duration', 'ConcurrentExecutions', 'AsyncEventsDropped'],
      dimensions: { FunctionName: 'AWS::Lambda::Function' },
    },
  ],
  'AWS/States': [
    {
      metrics: ['ExecutionsStarted', 'ExecutionsFailed', 'ExecutionsTimedOut'],
      dimensions: { StateMachineArn: 'AWS::StepFunctions::StateMachine' },
    },
  ],
  // An HTTP API (API Gateway v2) publishes these names (a REST API's are 4XXError, 5XXError)
  // per ApiId, and per ApiId and Stage.
  'AWS/ApiGateway': [
    {
      metrics: ['Count', '4xx', '5xx', 'Latency'],
      dimensions: { ApiId: 'AWS::ApiGatewayV2::Api' },
    },
  ],
  'AWS/Events': [
    {
      metrics: ['FailedInvocations'],
      dimensions: { RuleName: 'AWS::Events::Rule' },
    },
  ],
  'AWS/EC2': [
    {
      metrics: ['StatusCheckFailed', 'StatusCheckFailed_System', 'StatusCheckFailed_Instance'],
      dimensions: { InstanceId: 'AWS::EC2::Instance' },
    },
    {
      metrics: ['StatusCheckFailed'],
      dimensions: { AutoScalingGroupName: 'AWS::AutoScaling::AutoScalingGroup' },
    },
  ],
  'AWS/AutoScaling': [
    {
      metrics: ['GroupInServiceInstances'],
      dimensions: { AutoScalingGroupName: 'AWS::AutoScaling::AutoScalingGroup' },
    },
  ],
};

/** The logical id a dimension value refers to (Ref, or GetAtt of the attribute CloudWatch wants). */
function referredId(value: unknown): string | undefined {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (typeof v?.Ref === 'string') return v.Ref;
  const getAtt = v?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && getAtt[1] === 'QueueName' ? getAtt[0] : undefined;
}

function awsMismatches(built: Built, watched: readonly MetricRef[]): string[] {
  const problems: string[] = [];
  for (const m of watched.filter((w) => w.namespace.startsWith('AWS/'))) {
    const published = (AWS_METRICS[m.namespace] ?? []).find(
      (p) =>
        p.metrics.includes(m.name) &&
        JSON.stringify(Object.keys(p.dimensions).sort()) ===
          JSON.stringify(Object.keys(m.dimensions).sort()),
    );
    if (published === undefined) {
      problems.push(
        `${m.where}: ${m.namespace} ${m.name} by ${Object.keys(m.dimensions)} is not published`,
      );
      continue;
    }
    for (const [name, type] of Object.entries(published.dimensions)) {
      const id = referredId(m.dimensions[name]);
      const resource = id === undefined ? undefined : built.json.Resources[id];
      if (resource?.Type !== type)
        problems.push(
          `${m.where}: ${m.name} ${name} names ${resource?.Type ?? 'no resource'}, not ${type}`,
        );
    }
  }
  return problems;
}

describe.each([
  ['NAT gateways', {}],
  ['a NAT instance per AZ', { natProvider: 'instance' as const }],
  ['one NAT instance', { natProvider: 'instance' as const, natInstances: 'single' as const }],
])('monitoring with %s', (_, settings) => {
  let built: Built;
  let watched: MetricRef[];
  beforeAll(() => {
    built = buildStack(settings);
    watched = [...alarmMetrics(built), ...dashboardMetrics(built)];
  });

  it('watches only platform metrics the Lambdas write, with the dimensions they write them with', async () => {
    const emitted = await emittedByTheLambdas(built);
    const written = new Set(emitted.map(key));
    const platform = watched.filter((m) => !m.namespace.startsWith('AWS/'));
    expect(platform.length).toBeGreaterThan(0);
    expect(
      platform.filter((m) => !written.has(key(m))).map((m) => `${m.where}: ${key(m)}`),
    ).toEqual([]);
    // The harness reaches every metric name the code declares.
    expect(new Set(emitted.map((m) => m.name))).toEqual(new Set(Object.values(METRIC_NAMES)));
  });

  it('watches AWS metrics by the dimensions their service publishes, naming resources of this stack', () => {
    expect(watched.some((m) => m.namespace.startsWith('AWS/'))).toBe(true);
    expect(awsMismatches(built, watched)).toEqual([]);
  });
});

describe('the single NAT instance', () => {
  it('has its Auto Scaling group collect the group metric the NAT alarm and widget watch', () => {
    const built = buildStack({ natProvider: 'instance', natInstances: 'single' });
    const watched = [...alarmMetrics(built), ...dashboardMetrics(built)].filter(
      (m) => m.namespace === 'AWS/AutoScaling',
    );
    expect(watched.map((m) => m.name)).toContain('GroupInServiceInstances');
    for (const m of watched) {
      const group = built.json.Resources[referredId(m.dimensions.AutoScalingGroupName) ?? ''];
      expect(group?.Type).toBe('AWS::AutoScaling::AutoScalingGroup');
      const collected = (
        (group?.Properties?.MetricsCollection ?? []) as { Metrics?: string[] }[]
      ).flatMap((c) => c.Metrics ?? []);
      expect(collected).toContain(m.name);
    }
  });
});

describe('failure rate alarm', () => {
  it('has a rate in a period where every notification failed (no NotificationSent at all)', () => {
    const built = buildStack();
    const alarm = Object.values(built.json.Resources).find(
      (r) =>
        r.Type === 'AWS::CloudWatch::Alarm' &&
        JSON.stringify(r.Properties?.Metrics ?? []).includes(METRIC_NAMES.notificationFailed),
    );
    const metrics = (alarm?.Properties?.Metrics ?? []) as { Id: string; Expression?: string }[];
    const expression = metrics.find((m) => m.Expression !== undefined)?.Expression ?? '';
    expect(expression).toBe(FAILURE_RATE_EXPRESSION);
    // Metric math has no value where an operand has none: each count must be filled with 0.
    const ids = metrics.filter((m) => m.Expression === undefined).map((m) => m.Id);
    expect(ids.sort()).toEqual(['failed', 'sent']);
    const bare = expression.replace(/FILL\((\w+), 0\)/g, '');
    for (const id of ids) expect(bare).not.toMatch(new RegExp(`\\b${id}\\b`));
  });
});
