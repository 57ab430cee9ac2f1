import { RemovalPolicy } from 'aws-cdk-lib';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/core/retry-schedule';
import { MAX_STAGE_LENGTH, stackName, stageFromContext } from '../../lib/app';
import {
  DEFAULT_SETTINGS,
  regionsFromContext,
  resolveSettings,
  settingsFromContext,
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
    });
  });

  it('keep defaults for settings given as undefined', () => {
    expect(resolveSettings({ retentionDays: undefined }).retentionDays).toBe(90);
  });

  it.each([
    [{ retryScheduleSeconds: [60, 300, 1500, 7500] }, /5 entries/],
    [{ maxAzs: 1 }, /at least 2/],
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
