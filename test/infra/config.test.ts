import { RemovalPolicy } from 'aws-cdk-lib';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/core/retry-schedule';
import { MAX_STAGE_LENGTH, stackName, stageFromContext } from '../../lib/app';
import {
  DEFAULT_SETTINGS,
  regionsFromContext,
  resolveSettings,
  settingsFromContext,
  type WebhooksSettings,
} from '../../lib/config';

const reader = (context: Record<string, unknown>) => (key: string) => context[key];

describe('regions from context', () => {
  it('reads a comma list, a JSON array or an array, without duplicates', () => {
    expect(regionsFromContext(reader({ regions: 'eu-central-1, us-east-1' }), {})).toEqual([
      'eu-central-1',
      'us-east-1',
    ]);
    expect(regionsFromContext(reader({ regions: '["eu-west-1"]' }), {})).toEqual(['eu-west-1']);
    expect(
      regionsFromContext(reader({ regions: ['ap-southeast-2', 'ap-southeast-2'] }), {}),
    ).toEqual(['ap-southeast-2']);
  });

  it('falls back to CDK_DEFAULT_REGION and otherwise names the missing key', () => {
    expect(regionsFromContext(reader({}), { CDK_DEFAULT_REGION: 'eu-north-1' })).toEqual([
      'eu-north-1',
    ]);
    expect(() => regionsFromContext(reader({}), {})).toThrow(/-c regions=/);
  });

  it('rejects something that is not a region name', () => {
    expect(() => regionsFromContext(reader({ regions: 'eu-central-1,frankfurt' }), {})).toThrow(
      /"frankfurt" is not an AWS region/,
    );
  });
});

describe('settings from context', () => {
  it('parses numbers, the schedule, the removal policy and per-region EIPs', () => {
    const s = settingsFromContext(
      reader({
        retrySchedule: '1,2,3,4,5',
        retentionDays: '7',
        removalPolicy: 'destroy',
        eipAllocationIds: '{"eu-central-1":["eipalloc-01","eipalloc-02"]}',
        deliveryMaxConcurrency: 100,
      }),
      'eu-central-1',
      2,
    );
    expect(s).toMatchObject({
      retryScheduleSeconds: [1, 2, 3, 4, 5],
      retentionDays: 7,
      removalPolicy: RemovalPolicy.DESTROY,
      eipAllocationIds: ['eipalloc-01', 'eipalloc-02'],
      deliveryMaxConcurrency: 100,
    });
    expect(
      settingsFromContext(
        reader({ eipAllocationIds: { 'eu-central-1': ['eipalloc-01'] } }),
        'us-east-1',
        2,
      ).eipAllocationIds,
    ).toBeUndefined();
  });

  it('accepts a flat EIP list for a single region only', () => {
    expect(
      settingsFromContext(
        reader({ eipAllocationIds: 'eipalloc-01,eipalloc-02' }),
        'eu-central-1',
        1,
      ).eipAllocationIds,
    ).toEqual(['eipalloc-01', 'eipalloc-02']);
    expect(() =>
      settingsFromContext(
        reader({ eipAllocationIds: 'eipalloc-01,eipalloc-02' }),
        'eu-central-1',
        2,
      ),
    ).toThrow(/JSON object/);
  });

  it('rejects values that are not numbers or not a known removal policy', () => {
    expect(() =>
      settingsFromContext(reader({ retentionDays: 'ninety' }), 'eu-central-1', 1),
    ).toThrow(/retentionDays/);
    expect(() =>
      settingsFromContext(reader({ removalPolicy: 'snapshot' }), 'eu-central-1', 1),
    ).toThrow(/retain or destroy/);
  });

  it('reads the TLS key exchange from context', () => {
    expect(
      settingsFromContext(reader({ tlsKeyExchange: 'classical' }), 'eu-central-1', 1)
        .tlsKeyExchange,
    ).toBe('classical');
    expect(settingsFromContext(reader({}), 'eu-central-1', 1).tlsKeyExchange).toBeUndefined();
  });

  it('reads the Payloads table class from context', () => {
    expect(
      settingsFromContext(reader({ payloadsTableClass: 'STANDARD' }), 'eu-central-1', 1)
        .payloadsTableClass,
    ).toBe('STANDARD');
  });
});

describe('resolved settings', () => {
  it('default to the documented values', () => {
    expect(resolveSettings()).toEqual(DEFAULT_SETTINGS);
    expect(DEFAULT_SETTINGS).toMatchObject({
      retryScheduleSeconds: DEFAULT_RETRY_SCHEDULE_SECONDS,
      retentionDays: 90,
      removalPolicy: RemovalPolicy.RETAIN,
      deliveryMemoryMb: 512,
      deliveryConcurrency: 16,
      deliveryBatchSize: 10,
      deliveryBatchingWindowSeconds: 1,
      deliveryMaxConcurrency: 50,
      definitionCacheTtlSeconds: 30,
      natProvider: 'gateway',
      natInstanceType: 't4g.nano',
      natInstances: 'perAz',
      payloadsTableClass: 'STANDARD_INFREQUENT_ACCESS',
      tlsKeyExchange: 'hybrid',
      maxAzs: 2,
      maxReceiveCount: 5,
      autoDisableAfterHours: 120,
      retrySweepGraceMinutes: 30,
      retrySweepMaxStarts: 300,
      apiThrottleRateLimit: 10_000,
      apiThrottleBurstLimit: 5_000,
      logRetentionDays: 30,
      oldestMessageAlarmSeconds: 300,
      failureRateAlarmThreshold: 0.05,
      console: true,
    });
    expect(DEFAULT_SETTINGS.eipAllocationIds).toBeUndefined();
    expect(DEFAULT_SETTINGS.alarmEmail).toBeUndefined();
  });

  it('keep defaults for settings given as undefined', () => {
    expect(resolveSettings({ retentionDays: undefined }).retentionDays).toBe(90);
  });

  it.each([
    [{ retryScheduleSeconds: [60, 300, 1500, 7500] }, /5 entries/],
    [{ maxAzs: 1 }, /^maxAzs must be at least 2, got 1$/],
    [{ eipAllocationIds: ['eipalloc-01'] }, /one allocation id per AZ/],
    [{ eipAllocationIds: ['eipalloc-01', '1.2.3.4'] }, /not an allocation id/],
    [{ deliveryMaxConcurrency: 1 }, /2\.\.1000/],
    [{ deliveryMemoryMb: 64 }, /deliveryMemoryMb must be within 128\.\.10240/],
    [{ deliveryMemoryMb: 12_000 }, /deliveryMemoryMb must be within 128\.\.10240/],
    [{ maxReceiveCount: 1001 }, /maxReceiveCount must be within 1\.\.1000/],
    [
      { deliveryBatchSize: 50, deliveryBatchingWindowSeconds: 0 },
      /deliveryBatchingWindowSeconds >= 1/,
    ],
    [{ alarmEmail: 'ops' }, /not an e-mail/],
    [{ failureRateAlarmThreshold: 5 }, /\(0, 1\]/],
    [
      { circuitBreaker: { openAfterConsecutiveFailures: 0 } },
      /openAfterConsecutiveFailures .*1\.\.100/,
    ],
    [
      { circuitBreaker: { cooldownSeconds: 600, maxCooldownSeconds: 60 } },
      /at least cooldownSeconds/,
    ],
    [{ circuitBreaker: { failures: 3 } }, /circuitBreaker\.failures is not a setting/],
  ])('reject %j', (settings, message) => {
    expect(() => resolveSettings(settings as never)).toThrow(message);
  });

  it('complete a partial circuit breaker with its defaults', () => {
    expect(resolveSettings({ circuitBreaker: { cooldownSeconds: 60 } }).circuitBreaker).toEqual({
      openAfterConsecutiveFailures: 5,
      windowSeconds: 60,
      windowMinAttempts: 20,
      windowFailureRatio: 0.5,
      cooldownSeconds: 60,
      maxCooldownSeconds: 1800,
    });
  });
});

describe('circuit breaker from context', () => {
  it('reads a JSON object from the command line or an object from cdk.json', () => {
    const fromCli = settingsFromContext(
      reader({ circuitBreaker: '{"openAfterConsecutiveFailures":3,"maxCooldownSeconds":600}' }),
      'eu-central-1',
      1,
    );
    expect(resolveSettings(fromCli).circuitBreaker).toMatchObject({
      openAfterConsecutiveFailures: 3,
      maxCooldownSeconds: 600,
      cooldownSeconds: 30,
    });
    const fromJson = settingsFromContext(
      reader({ circuitBreaker: { windowFailureRatio: 0.25 } }),
      'eu-central-1',
      1,
    );
    expect(resolveSettings(fromJson).circuitBreaker.windowFailureRatio).toBe(0.25);
  });

  it('rejects what is not a JSON object', () => {
    for (const bad of ['{oops', '[1,2]', '7'])
      expect(() => settingsFromContext(reader({ circuitBreaker: bad }), 'eu-central-1', 1)).toThrow(
        /context circuitBreaker/,
      );
  });
});

describe('resolved settings at the ends of their ranges', () => {
  it.each([
    ['retentionDays', 1],
    ['retentionDays', 3650],
    ['deliveryMemoryMb', 128],
    ['deliveryMemoryMb', 10_240],
    ['deliveryConcurrency', 1],
    ['deliveryConcurrency', 256],
    ['deliveryBatchSize', 10_000],
    ['deliveryBatchingWindowSeconds', 0],
    ['deliveryBatchingWindowSeconds', 300],
    ['deliveryMaxConcurrency', 2],
    ['deliveryMaxConcurrency', 1000],
    ['maxReceiveCount', 1],
    ['maxReceiveCount', 1000],
    ['definitionCacheTtlSeconds', 1],
    ['definitionCacheTtlSeconds', 3600],
    ['retrySweepGraceMinutes', 25],
    ['retrySweepGraceMinutes', 10_080],
    ['retrySweepMaxStarts', 1],
    ['retrySweepMaxStarts', 10_000],
    ['failureRateAlarmThreshold', 1],
  ])('accept %s %d', (name, value) => {
    expect(resolveSettings({ [name]: value })[name as keyof WebhooksSettings]).toBe(value);
  });

  it('accept a batch of 10 without a batching window, the most SQS allows so', () => {
    expect(
      resolveSettings({ deliveryBatchSize: 10, deliveryBatchingWindowSeconds: 0 }),
    ).toMatchObject({ deliveryBatchSize: 10, deliveryBatchingWindowSeconds: 0 });
  });

  it.each([
    [{ retentionDays: 1.5 }, /^retentionDays must be a positive integer, got 1\.5$/],
    [{ retentionDays: 3651 }, /^retentionDays must be within 1\.\.3650, got 3651$/],
    [{ maxAzs: 2.5 }, /^maxAzs must be a positive integer, got 2\.5$/],
    [
      { natInstanceType: 'c7g.large.extra' },
      /natInstanceType: "c7g\.large\.extra" is not a Graviton/,
    ],
    [{ deliveryConcurrency: 2.5 }, /^deliveryConcurrency must be a positive integer, got 2\.5$/],
    [{ deliveryConcurrency: 257 }, /^deliveryConcurrency must be within 1\.\.256, got 257$/],
    [{ deliveryBatchSize: 0 }, /^deliveryBatchSize must be a positive integer, got 0$/],
    [{ deliveryBatchSize: 10_001 }, /^deliveryBatchSize must be at most 10000, got 10001$/],
    [
      { deliveryBatchingWindowSeconds: -1 },
      /^deliveryBatchingWindowSeconds must be a whole number within 0\.\.300, got -1$/,
    ],
    [
      { deliveryBatchingWindowSeconds: 301 },
      /^deliveryBatchingWindowSeconds must be a whole number within 0\.\.300, got 301$/,
    ],
    [
      { deliveryBatchingWindowSeconds: 0.5 },
      /^deliveryBatchingWindowSeconds must be a whole number within 0\.\.300, got 0\.5$/,
    ],
    [
      { deliveryBatchSize: 11, deliveryBatchingWindowSeconds: 0 },
      /^deliveryBatchSize above 10 needs deliveryBatchingWindowSeconds >= 1$/,
    ],
    [
      { deliveryMaxConcurrency: 1001 },
      /^deliveryMaxConcurrency must be within 2\.\.1000, got 1001$/,
    ],
    [{ maxReceiveCount: 0 }, /^maxReceiveCount must be a positive integer, got 0$/],
    [
      { definitionCacheTtlSeconds: 0 },
      /^definitionCacheTtlSeconds must be a positive integer, got 0$/,
    ],
    [{ autoDisableAfterHours: 0 }, /^autoDisableAfterHours must be within 0\.0001\.\.8760, got 0$/],
    [
      { retrySweepGraceMinutes: 24 },
      /^retrySweepGraceMinutes must be within 25\.\.10080 .*, got 24$/,
    ],
    [
      { retrySweepGraceMinutes: 10_081 },
      /^retrySweepGraceMinutes must be within 25\.\.10080 .*, got 10081$/,
    ],
    [{ retrySweepMaxStarts: 10_001 }, /^retrySweepMaxStarts must be at most 10000, got 10001$/],
    [{ apiThrottleBurstLimit: 0 }, /^apiThrottleBurstLimit must be a positive integer, got 0$/],
    [{ apiThrottleRateLimit: 0 }, /^apiThrottleRateLimit must be positive, got 0$/],
    [{ logRetentionDays: 0 }, /^logRetentionDays must be a positive integer, got 0$/],
    [
      { oldestMessageAlarmSeconds: 0 },
      /^oldestMessageAlarmSeconds must be a positive integer, got 0$/,
    ],
    [
      { failureRateAlarmThreshold: 0 },
      /^failureRateAlarmThreshold must be within \(0, 1\], got 0$/,
    ],
    [
      { eipAllocationIds: ['eipalloc-01', 'eipalloc-0g'] },
      /eipAllocationIds: "eipalloc-0g" is not an allocation id/,
    ],
    [{ alarmEmail: 'ops@' }, /alarmEmail: "ops@" is not an e-mail address/],
    [
      { alarmEmail: 'ops@example.com@x' },
      /alarmEmail: "ops@example\.com@x" is not an e-mail address/,
    ],
    [{ alarmEmail: 'ops team@example.com' }, /is not an e-mail address/],
    [
      { retryScheduleSeconds: [60, 300, 1500, 7500, 0.5] },
      /^retryScheduleSeconds entries must be whole seconds >= 1, got 0\.5$/,
    ],
    [
      { retryScheduleSeconds: [0, 300, 1500, 7500, 37_500] },
      /^retryScheduleSeconds entries must be whole seconds >= 1, got 0$/,
    ],
  ])('refuse %j, naming the setting and what it accepts', (settings, message) => {
    expect(() => resolveSettings(settings as WebhooksSettings)).toThrow(message);
  });
});

describe('every setting from context', () => {
  it('reads each key into its own setting, command-line strings turned into numbers, lists and flags', () => {
    const context = {
      retrySchedule: '[10, 20, 30, 40, 50]',
      retentionDays: '30',
      eipAllocationIds: 'eipalloc-0a',
      natProvider: 'instance',
      natInstanceType: 'c7gn.medium',
      natInstances: 'single',
      payloadsTableClass: 'STANDARD',
      tlsKeyExchange: 'classical',
      maxAzs: '3',
      alarmEmail: 'ops@example.com',
      removalPolicy: 'retain',
      deliveryMemoryMb: '1024',
      deliveryConcurrency: '32',
      deliveryBatchSize: '20',
      deliveryBatchingWindowSeconds: '2',
      deliveryMaxConcurrency: '200',
      maxReceiveCount: '7',
      definitionCacheTtlSeconds: '60',
      autoDisableAfterHours: '48',
      circuitBreaker: '{"cooldownSeconds":60}',
      retrySweepGraceMinutes: '45',
      retrySweepMaxStarts: '500',
      apiThrottleRateLimit: '2500.5',
      apiThrottleBurstLimit: '1000',
      logRetentionDays: '14',
      oldestMessageAlarmSeconds: '600',
      failureRateAlarmThreshold: '0.1',
      console: 'false',
    };
    expect(settingsFromContext(reader(context), 'eu-central-1', 1)).toEqual({
      retryScheduleSeconds: [10, 20, 30, 40, 50],
      retentionDays: 30,
      eipAllocationIds: ['eipalloc-0a'],
      natProvider: 'instance',
      natInstanceType: 'c7gn.medium',
      natInstances: 'single',
      payloadsTableClass: 'STANDARD',
      tlsKeyExchange: 'classical',
      maxAzs: 3,
      alarmEmail: 'ops@example.com',
      removalPolicy: RemovalPolicy.RETAIN,
      deliveryMemoryMb: 1024,
      deliveryConcurrency: 32,
      deliveryBatchSize: 20,
      deliveryBatchingWindowSeconds: 2,
      deliveryMaxConcurrency: 200,
      maxReceiveCount: 7,
      definitionCacheTtlSeconds: 60,
      autoDisableAfterHours: 48,
      circuitBreaker: { cooldownSeconds: 60 },
      retrySweepGraceMinutes: 45,
      retrySweepMaxStarts: 500,
      apiThrottleRateLimit: 2500.5,
      apiThrottleBurstLimit: 1000,
      logRetentionDays: 14,
      oldestMessageAlarmSeconds: 600,
      failureRateAlarmThreshold: 0.1,
      console: false,
    });
  });

  it('leave a key given empty to its default', () => {
    const empty = settingsFromContext(
      reader({ retentionDays: '', natProvider: '', console: '', circuitBreaker: '' }),
      'eu-central-1',
      1,
    );
    expect(empty).toMatchObject({
      retentionDays: undefined,
      natProvider: undefined,
      console: undefined,
      circuitBreaker: undefined,
    });
    expect(resolveSettings(empty)).toEqual(DEFAULT_SETTINGS);
  });

  it('take the console flag as true or false only', () => {
    const consoleOf = (value: unknown) =>
      settingsFromContext(reader({ console: value }), 'eu-central-1', 1).console;
    expect([consoleOf('true'), consoleOf(true), consoleOf('false'), consoleOf(false)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(() => consoleOf('no')).toThrow('context console: "no" must be true or false');
  });

  it('refuse a number that is not finite, naming the key', () => {
    expect(() => settingsFromContext(reader({ maxAzs: 'Infinity' }), 'eu-central-1', 1)).toThrow(
      'context maxAzs: "Infinity" is not a number',
    );
  });

  it('refuse a schedule entry that is not a plain number', () => {
    const schedule = settingsFromContext(
      reader({ retrySchedule: '60s,300,1500,7500,37500' }),
      'eu-central-1',
      1,
    );
    expect(() => resolveSettings(schedule)).toThrow(/retryScheduleSeconds entries must be whole/);
  });

  it('trim list entries and drop empty ones, from arrays and comma lists alike', () => {
    expect(
      settingsFromContext(reader({ eipAllocationIds: [' eipalloc-0a ', ''] }), 'eu-central-1', 1)
        .eipAllocationIds,
    ).toEqual(['eipalloc-0a']);
    expect(
      settingsFromContext(reader({ eipAllocationIds: 'eipalloc-0a, ,' }), 'eu-central-1', 1)
        .eipAllocationIds,
    ).toEqual(['eipalloc-0a']);
    expect(
      settingsFromContext(
        reader({ eipAllocationIds: ' {"eu-central-1": ["eipalloc-0a"]}' }),
        'eu-central-1',
        2,
      ).eipAllocationIds,
    ).toEqual(['eipalloc-0a']);
  });
});

describe('regions from context, more', () => {
  it('prefer context regions over CDK_DEFAULT_REGION', () => {
    expect(
      regionsFromContext(reader({ regions: 'us-west-2' }), { CDK_DEFAULT_REGION: 'eu-north-1' }),
    ).toEqual(['us-west-2']);
  });

  it('refuse an availability zone name given as a region', () => {
    expect(() => regionsFromContext(reader({ regions: 'eu-central-1a' }), {})).toThrow(
      'regions: "eu-central-1a" is not an AWS region name',
    );
  });
});

describe('context values of the wrong kind', () => {
  it('refuse a boolean, array or object where a number belongs, naming the key', () => {
    for (const value of [true, [90], { days: 90 }])
      expect(() =>
        settingsFromContext(reader({ retentionDays: value }), 'eu-central-1', 1),
      ).toThrow(/^context retentionDays: ".*" is not a number$/);
  });

  it('name the key whose JSON does not parse', () => {
    expect(() => regionsFromContext(reader({ regions: '["eu-west-1"' }), {})).toThrow(
      'context regions: "["eu-west-1"" is not a JSON array',
    );
    expect(() =>
      settingsFromContext(reader({ retrySchedule: '[60, 300' }), 'eu-central-1', 1),
    ).toThrow('context retrySchedule: "[60, 300" is not a JSON array');
    expect(() =>
      settingsFromContext(
        reader({ eipAllocationIds: '{eu-central-1: ["eipalloc-0a"]}' }),
        'eu-central-1',
        1,
      ),
    ).toThrow('context eipAllocationIds: "{eu-central-1: ["eipalloc-0a"]}" is not a JSON object');
  });
});

describe('stack names', () => {
  it('name the region, and the stage when one is given', () => {
    expect(stackName('eu-central-1')).toBe('Webhooks-eu-central-1');
    expect(stackName('us-east-1', 'staging')).toBe('Webhooks-staging-us-east-1');
  });

  it('take a stage of letters, digits and dashes, short enough for every name made from it', () => {
    expect(stageFromContext(undefined)).toBeUndefined();
    expect(stageFromContext('staging-2')).toBe('staging-2');
    const longest = 'a'.repeat(MAX_STAGE_LENGTH);
    expect(stageFromContext(longest)).toBe(longest);
    expect(() => stageFromContext(`${longest}b`)).toThrow(/at most 32/);
    expect(() => stageFromContext('pr_12')).toThrow(/letters, digits and dashes only/);
    // The longest stage in the longest region name keeps the state machines' names within 80.
    const longestRegion = 'ap-southeast-99';
    expect(`${stackName(longestRegion, longest)}-retries`.length).toBeLessThanOrEqual(80);
  });
});
