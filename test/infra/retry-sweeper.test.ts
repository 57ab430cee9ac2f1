import { ENV, loadSweeperConfig, METRIC_NAMES } from '../../lambdas/config';
import { DEFAULTS } from '../../lambdas/defaults';
import { resolveSettings } from '../../lib/config';
import {
  actionsOf,
  allStatements,
  type Built,
  buildStack,
  envOf,
  logicalId,
  propsOf,
  references,
  resourcesOf,
} from './support';

// One synthesis for the file (cdk-nag attached: building it at all means AwsSolutions passed).
let built: Built;
let fn: string;
let role: string;

beforeAll(() => {
  built = buildStack({ retrySweepGraceMinutes: 45, retrySweepMaxStarts: 120 });
  fn = logicalId(built.stack.retrySweeper.function);
  role = logicalId(built.stack.retrySweeper.function.role!);
});

/** The Allow statements of the sweeper's role. */
function statements() {
  return allStatements(built).filter(
    ({ roles, statement }) => statement.Effect === 'Allow' && references(roles, role),
  );
}

describe('retry sweeper', () => {
  it('runs every 15 minutes from an EventBridge schedule that invokes the sweeper Lambda', () => {
    const rules = resourcesOf(built, 'AWS::Events::Rule');
    const sweeps = rules.filter(([, p]) => references(p.Targets, fn));
    expect(sweeps).toHaveLength(1);
    const [, rule] = sweeps[0]!;
    expect(rule.ScheduleExpression).toBe('rate(15 minutes)');
    expect(rule.State).toBe('ENABLED');
    const permissions = resourcesOf(built, 'AWS::Lambda::Permission').filter(
      ([, p]) => references(p.FunctionName, fn) && p.Principal === 'events.amazonaws.com',
    );
    expect(permissions).toHaveLength(1);
  });

  it('is a Lambda of its own entry, outside the VPC', () => {
    const props = propsOf(built, fn);
    expect(props.VpcConfig).toBeUndefined();
    expect(props.Runtime).toBe('nodejs22.x');
    expect(props.Architectures).toEqual(['arm64']);
    // Its role has no VPC access policy either.
    const rolePolicies = JSON.stringify(propsOf(built, role).ManagedPolicyArns);
    expect(rolePolicies).toContain('AWSLambdaBasicExecutionRole');
    expect(rolePolicies).not.toContain('AWSLambdaVPCAccessExecutionRole');
  });

  it('is configured with the deployed grace, cap and interval, which its config loader accepts', () => {
    const env = envOf(built, fn);
    expect(env[ENV.RETRY_SWEEP_GRACE_SECONDS]).toBe(String(45 * 60));
    expect(env[ENV.RETRY_SWEEP_MAX_STARTS]).toBe('120');
    expect(env[ENV.RETRY_SWEEP_INTERVAL_SECONDS]).toBe(String(15 * 60));
    expect(env[ENV.NOTIFICATIONS_TABLE]).toEqual({
      Ref: logicalId(built.stack.tables.notifications),
    });
    expect(env[ENV.RETRY_STATE_MACHINE_ARN]).toEqual({
      Ref: logicalId(built.stack.delivery.retryMachine.stateMachine),
    });
    expect(env[ENV.HEALTH_STATE_MACHINE_ARN]).toEqual({
      Ref: logicalId(built.stack.delivery.healthMachine.stateMachine),
    });
    expect(env[ENV.WEBHOOKS_TABLE]).toEqual({ Ref: logicalId(built.stack.tables.webhooks) });
    const deployed = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : `deployed-${k}`]),
    );
    expect(loadSweeperConfig(deployed)).toMatchObject({
      graceMs: 45 * 60_000,
      maxStarts: 120,
      slotMs: 15 * 60_000,
      driverWatch: {
        webhooksTable: `deployed-${ENV.WEBHOOKS_TABLE}`,
        healthStateMachineArn: `deployed-${ENV.HEALTH_STATE_MACHINE_ARN}`,
      },
    });
  });

  it('may query the byStatus and byParked indexes, read notifications, update health records only, scan webhook ids and start retry and driver executions, nothing more', () => {
    const table = logicalId(built.stack.tables.notifications);
    const webhooks = logicalId(built.stack.tables.webhooks);
    const key = logicalId(built.stack.tables.key);
    const retryMachine = logicalId(built.stack.delivery.retryMachine.stateMachine);
    const healthMachine = logicalId(built.stack.delivery.healthMachine.stateMachine);
    const granted = statements().map(({ statement }) => ({
      actions: actionsOf(statement).sort(),
      resource: JSON.stringify(statement.Resource),
      condition: JSON.stringify(statement.Condition ?? {}),
    }));
    const on = (id: string) =>
      granted
        .filter((g) => g.resource.includes(`"${id}"`))
        .flatMap((g) => g.actions)
        .sort();
    expect(on(table)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    // Writes only to health records (health#<webhookId>).
    const writes = granted.filter((g) => g.actions.includes('dynamodb:UpdateItem'));
    expect(writes.map((g) => [g.actions, g.condition])).toEqual([
      [
        ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['health#*'] } }),
      ],
    ]);
    expect(on(webhooks)).toEqual(['dynamodb:Scan']);
    expect(on(healthMachine)).toEqual(['states:StartExecution']);
    const query = granted.find((g) => g.actions.includes('dynamodb:Query'));
    expect(query?.resource).toContain('/index/byStatus');
    // What waits parked, for the waiting gauge; no other index (not byWebhook's history).
    expect(query?.resource).toContain('/index/byParked');
    expect(query?.resource.match(/\/index\//g)).toHaveLength(2);
    expect(query?.actions).toEqual(['dynamodb:Query']);
    const getItem = granted.find((g) => g.actions.includes('dynamodb:GetItem'));
    expect(getItem?.resource).not.toContain('/index/');
    expect(new Set(on(key))).toEqual(
      new Set(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']),
    );
    expect(on(retryMachine)).toEqual(['states:StartExecution']);
    // Nothing on any other table, queue or machine.
    const others = [
      built.stack.tables.payloads,
      built.stack.tables.subjectKeys,
      built.stack.delivery.queue,
    ].map(logicalId);
    for (const other of others) expect(on(other)).toEqual([]);
    // Every statement is one of the above (plus X-Ray/logs none: it has only these).
    expect(
      granted.every((g) =>
        [table, webhooks, key, retryMachine, healthMachine].some((id) => g.resource.includes(id)),
      ),
    ).toBe(true);
  });

  it('puts the swept count on the dashboard and alarms on the sweeper failing', () => {
    const body = JSON.stringify(
      resourcesOf(built, 'AWS::CloudWatch::Dashboard')[0]![1].DashboardBody,
    );
    expect(body).toContain(METRIC_NAMES.retriesSwept);
    const alarms = resourcesOf(built, 'AWS::CloudWatch::Alarm').filter(
      ([, p]) => p.MetricName === 'Errors' && references(p.Dimensions, fn),
    );
    expect(alarms).toHaveLength(1);
  });
  it('alarms when a scheduled run is lost: never invoked, or dropped after one interval', () => {
    const [ruleId] = resourcesOf(built, 'AWS::Events::Rule').find(([, p]) =>
      references(p.Targets, fn),
    )!;
    const invokeConfigs = resourcesOf(built, 'AWS::Lambda::EventInvokeConfig').filter(([, p]) =>
      references(p.FunctionName, fn),
    );
    expect(invokeConfigs).toHaveLength(1);
    expect(invokeConfigs[0]![1].MaximumEventAgeInSeconds).toBe(DEFAULTS.retrySweepIntervalSeconds);

    interface AlarmQuery {
      readonly Id: string;
      readonly Expression?: string;
      readonly ReturnData?: boolean;
      readonly MetricStat?: {
        readonly Metric: { MetricName: string; Namespace: string; Dimensions: unknown };
      };
    }
    const queriesOf = (p: Record<string, unknown>) => (p.Metrics ?? []) as AlarmQuery[];
    const alarms = resourcesOf(built, 'AWS::CloudWatch::Alarm').filter(([, p]) =>
      queriesOf(p).some((q) => q.MetricStat?.Metric.MetricName === 'AsyncEventsDropped'),
    );
    expect(alarms).toHaveLength(1);
    const [, alarm] = alarms[0]!;
    const queries = queriesOf(alarm);
    const metric = (name: string) => queries.find((q) => q.MetricStat?.Metric.MetricName === name)!;
    expect(metric('AsyncEventsDropped').MetricStat!.Metric.Namespace).toBe('AWS/Lambda');
    expect(references(metric('AsyncEventsDropped').MetricStat!.Metric.Dimensions, fn)).toBe(true);
    expect(metric('FailedInvocations').MetricStat!.Metric.Namespace).toBe('AWS/Events');
    expect(references(metric('FailedInvocations').MetricStat!.Metric.Dimensions, ruleId)).toBe(
      true,
    );
    const expression = queries.find((q) => q.Expression !== undefined)!;
    expect(expression.Expression).toBe('FILL(dropped, 0) + FILL(failedInvocations, 0)');
    expect(expression.ReturnData).not.toBe(false);
    expect(alarm.Threshold).toBe(1);
    expect(alarm.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(alarm.AlarmActions).toHaveLength(1);
  });
});

describe('retry sweeper settings', () => {
  it('default to a 30 minute grace and 300 starts a sweep', () => {
    const s = resolveSettings();
    expect([s.retrySweepGraceMinutes, s.retrySweepMaxStarts]).toEqual([30, 300]);
    expect(DEFAULTS.retrySweepGraceSeconds).toBe(30 * 60);
  });

  it.each([
    [{ retrySweepGraceMinutes: 20 }, /retrySweepGraceMinutes must be within 25/],
    [{ retrySweepGraceMinutes: 12.5 }, /retrySweepGraceMinutes must be a positive integer/],
    [{ retrySweepMaxStarts: 0 }, /retrySweepMaxStarts must be a positive integer/],
    [{ retrySweepMaxStarts: 20_000 }, /retrySweepMaxStarts must be at most 10000/],
  ])('refuses %j', (settings, message) => {
    expect(() => resolveSettings(settings)).toThrow(message);
  });

  it('are validated by the Lambda too, naming the variable', () => {
    const base = { NOTIFICATIONS_TABLE: 't', RETRY_STATE_MACHINE_ARN: 'arn' };
    expect(() => loadSweeperConfig({ ...base, RETRY_SWEEP_MAX_STARTS: '0' })).toThrow(
      /RETRY_SWEEP_MAX_STARTS/,
    );
    expect(() => loadSweeperConfig({ ...base, RETRY_SWEEP_MAX_STARTS: '2.5' })).toThrow(
      /RETRY_SWEEP_MAX_STARTS/,
    );
    expect(() => loadSweeperConfig({ ...base, RETRY_SWEEP_GRACE_SECONDS: '-1' })).toThrow(
      /RETRY_SWEEP_GRACE_SECONDS/,
    );
    expect(() => loadSweeperConfig({ RETRY_STATE_MACHINE_ARN: 'arn' })).toThrow(
      /NOTIFICATIONS_TABLE/,
    );
    expect(loadSweeperConfig(base)).toEqual({
      notificationsTable: 't',
      retryStateMachineArn: 'arn',
      graceMs: 1_800_000,
      maxStarts: 300,
      slotMs: 900_000,
    });
  });
});
