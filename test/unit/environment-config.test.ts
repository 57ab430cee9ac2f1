import {
  ConfigError,
  definitionCacheTtlMs,
  ENV,
  envReader,
  loadDeliveryConfig,
  loadKeyConfig,
  loadStoreConfig,
  loadSweeperConfig,
} from '../../lambdas/config';

const SCHEDULE = [60, 300, 1500, 7500, 37500] as const;

const STORE_ENV = {
  AWS_REGION: 'eu-central-1',
  WEBHOOKS_TABLE: 'w',
  NOTIFICATIONS_TABLE: 'n',
  PAYLOADS_TABLE: 'p',
  EVENT_TYPES_TABLE: 'e',
  SUBJECT_KEYS_TABLE: 's',
  SECRETS_KMS_KEY_ID: 'alias/webhooks',
  DELIVERY_QUEUE_URL: 'http://127.0.0.1:9324/q',
};
const DELIVERY_ENV = {
  ...STORE_ENV,
  RETRY_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:1:stateMachine:r',
  HEALTH_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:1:stateMachine:h',
};
const SWEEPER_ENV = { NOTIFICATIONS_TABLE: 'n', RETRY_STATE_MACHINE_ARN: 'arn' };

const delivery = (overrides: Record<string, string | undefined> = {}) =>
  loadDeliveryConfig({ ...DELIVERY_ENV, ...overrides }, SCHEDULE);

describe('environment reader', () => {
  it('trims values, treats a blank one as unset, and names a missing required variable', () => {
    const read = envReader({ A: '  x  ', B: '   ', C: '' });
    expect(read.required('A')).toBe('x');
    expect(() => read.required('B')).toThrow(new ConfigError('Environment variable B is required'));
    expect(() => read.required('C')).toThrow(/Environment variable C is required/);
    expect(() => read.required('D')).toThrow(ConfigError);
    expect(read.optional('B', 'fallback')).toBe('fallback');
    expect(read.optional('A', 'fallback')).toBe('x');
  });

  it('reads a number within its range, both ends included, and names variable and range otherwise', () => {
    const read = (value: string | undefined) => envReader({ N: value }).number('N', 7, 1, 10);
    expect(read(undefined)).toBe(7);
    expect(read(' ')).toBe(7);
    expect(read('1')).toBe(1);
    expect(read('10')).toBe(10);
    expect(read(' 2.5 ')).toBe(2.5);
    for (const bad of ['0.99', '10.01', 'ten', 'Infinity', '1e400'])
      expect(() => read(bad)).toThrow(
        new ConfigError(`Environment variable N must be a number in [1, 10], got "${bad}"`),
      );
  });

  it('reads a boolean as 1/true/yes or 0/false/no in any case, and refuses anything else', () => {
    const read = (value: string | undefined, fallback = false) =>
      envReader({ B: value }).bool('B', fallback);
    for (const yes of ['1', 'true', 'TRUE', 'yes', 'Yes']) expect(read(yes)).toBe(true);
    for (const no of ['0', 'false', 'False', 'no', 'NO']) expect(read(no, true)).toBe(false);
    expect(read(undefined, true)).toBe(true);
    expect(read(undefined, false)).toBe(false);
    for (const bad of ['on', 'truee', '2'])
      expect(() => read(bad)).toThrow(
        new ConfigError(`Environment variable B must be true or false, got "${bad}"`),
      );
  });

  it('reads one of the allowed values and names them when refusing', () => {
    const read = (value: string | undefined) =>
      envReader({ K: value }).oneOf('K', ['hybrid', 'classical'] as const, 'hybrid');
    expect(read(undefined)).toBe('hybrid');
    expect(read(' classical ')).toBe('classical');
    expect(() => read('Classical')).toThrow(
      new ConfigError('Environment variable K must be one of hybrid, classical, got "Classical"'),
    );
  });

  it('reads a comma list without blanks, and the fallback when unset', () => {
    const fallback = ['10.0.0.0/8'];
    expect(envReader({ L: ' 1.2.3.4/32 ,, 5.6.7.8/32 , ' }).list('L', fallback)).toEqual([
      '1.2.3.4/32',
      '5.6.7.8/32',
    ]);
    const unset = envReader({}).list('L', fallback);
    expect(unset).toEqual(fallback);
  });

  it('reads a JSON array of the given count of positive numbers', () => {
    const read = (value: string | undefined) =>
      envReader({ S: value }).numberArray('S', SCHEDULE, 5);
    expect(read(undefined)).toEqual([...SCHEDULE]);
    expect(read('[1, 2, 3, 4, 0.5]')).toEqual([1, 2, 3, 4, 0.5]);
    expect(() => read('1,2,3,4,5')).toThrow(
      new ConfigError('Environment variable S must be a JSON array of 5 numbers'),
    );
    for (const bad of [
      '[1,2,3,4]',
      '[1,2,3,4,5,6]',
      '[1,2,3,4,0]',
      '[1,2,3,4,-5]',
      '[1,2,3,4,"5"]',
      '{"0":1}',
    ])
      expect(() => read(bad)).toThrow(
        new ConfigError('Environment variable S must be a JSON array of 5 positive numbers'),
      );
  });
});

describe('key configuration', () => {
  it('prefers the KMS key, falls back to the local key file, and names both when neither is set', () => {
    expect(loadKeyConfig({ SECRETS_KMS_KEY_ID: 'k', SECRETS_KEY_FILE: '/d/f' })).toEqual({
      kind: 'kms',
      keyId: 'k',
    });
    expect(loadKeyConfig({ SECRETS_KMS_KEY_ID: ' ', SECRETS_KEY_FILE: '/d/f' })).toEqual({
      kind: 'file',
      file: '/d/f',
    });
    expect(() => loadKeyConfig({})).toThrow(
      new ConfigError(
        'Environment variable SECRETS_KMS_KEY_ID (or SECRETS_KEY_FILE in local mode) is required',
      ),
    );
  });
});

describe('store configuration', () => {
  it('reads every table, the queue and RETENTION_DAYS (default 90, 1..3650)', () => {
    expect(loadStoreConfig(STORE_ENV)).toEqual({
      region: 'eu-central-1',
      keys: { kind: 'kms', keyId: 'alias/webhooks' },
      webhooksTable: 'w',
      notificationsTable: 'n',
      payloadsTable: 'p',
      eventTypesTable: 'e',
      subjectKeysTable: 's',
      queueUrl: 'http://127.0.0.1:9324/q',
      retentionDays: 90,
    });
    const retention = (days: string) =>
      loadStoreConfig({ ...STORE_ENV, RETENTION_DAYS: days }).retentionDays;
    expect([retention('1'), retention('3650')]).toEqual([1, 3650]);
    for (const bad of ['0', '3651'])
      expect(() => retention(bad)).toThrow(
        `Environment variable RETENTION_DAYS must be a number in [1, 3650], got "${bad}"`,
      );
    for (const name of Object.keys(STORE_ENV).filter((k) => k !== 'SECRETS_KMS_KEY_ID'))
      expect(() => loadStoreConfig({ ...STORE_ENV, [name]: undefined })).toThrow(
        `Environment variable ${name} is required`,
      );
  });
});

describe('delivery configuration', () => {
  it('falls back to the documented defaults', () => {
    expect(delivery()).toMatchObject({
      stateMachineArns: {
        retry: DELIVERY_ENV.RETRY_STATE_MACHINE_ARN,
        health: DELIVERY_ENV.HEALTH_STATE_MACHINE_ARN,
      },
      retrySchedule: [...SCHEDULE],
      retryTimeScale: 1,
      allowHttp: false,
      egressAllowCidrs: [],
      tlsKeyExchange: 'hybrid',
      definitionCacheTtlMs: 30_000,
      deliveryConcurrency: 16,
      webhookConcurrencyCeiling: 100,
      health: {
        cacheTtlMs: 5_000,
        autoDisableAfterHours: 120,
        slowThresholdMs: 10_000,
        countFlushMs: 10_000,
        circuitBreaker: {
          openAfterConsecutiveFailures: 5,
          windowSeconds: 60,
          windowMinAttempts: 20,
          windowFailureRatio: 0.5,
          cooldownSeconds: 30,
          maxCooldownSeconds: 1800,
        },
      },
    });
    for (const name of [ENV.RETRY_STATE_MACHINE_ARN, ENV.HEALTH_STATE_MACHINE_ARN])
      expect(() => delivery({ [name]: undefined })).toThrow(
        `Environment variable ${name} is required`,
      );
  });

  it('reads each setting as deployed, seconds turned into milliseconds', () => {
    const c = delivery({
      RETRY_SCHEDULE_SECONDS: '[1,2,3,4,5]',
      RETRY_TIME_SCALE: '0.001',
      ALLOW_HTTP: 'true',
      EGRESS_ALLOW_CIDRS: '127.0.0.1/32',
      TLS_KEY_EXCHANGE: 'classical',
      DEFINITION_CACHE_TTL_SECONDS: '0',
      DELIVERY_CONCURRENCY: '4',
      WEBHOOK_CONCURRENCY_CEILING: '25',
      HEALTH_CACHE_TTL_SECONDS: '0.5',
      AUTO_DISABLE_AFTER_HOURS: '0.01',
      SLOW_ATTEMPT_THRESHOLD_MS: '2500',
      HEALTH_COUNT_FLUSH_SECONDS: '2',
      CIRCUIT_BREAKER: '{"cooldownSeconds":5}',
    });
    expect(c).toMatchObject({
      retrySchedule: [1, 2, 3, 4, 5],
      retryTimeScale: 0.001,
      allowHttp: true,
      egressAllowCidrs: ['127.0.0.1/32'],
      tlsKeyExchange: 'classical',
      definitionCacheTtlMs: 0,
      deliveryConcurrency: 4,
      webhookConcurrencyCeiling: 25,
      health: {
        cacheTtlMs: 500,
        autoDisableAfterHours: 0.01,
        slowThresholdMs: 2500,
        countFlushMs: 2000,
        circuitBreaker: { cooldownSeconds: 5, maxCooldownSeconds: 1800 },
      },
    });
    expect(definitionCacheTtlMs(envReader({ DEFINITION_CACHE_TTL_SECONDS: '3600' }))).toBe(
      3_600_000,
    );
  });

  it.each([
    ['RETRY_TIME_SCALE', '0', '1000', '-0.1', '1000.5', '[0, 1000]'],
    ['DEFINITION_CACHE_TTL_SECONDS', '0', '3600', '-1', '3601', '[0, 3600]'],
    ['DELIVERY_CONCURRENCY', '1', '256', '0', '257', '[1, 256]'],
    ['WEBHOOK_CONCURRENCY_CEILING', '1', '1000', '0', '1001', '[1, 1000]'],
    ['HEALTH_CACHE_TTL_SECONDS', '0', '300', '-1', '301', '[0, 300]'],
    ['AUTO_DISABLE_AFTER_HOURS', '0.0001', '8760', '0', '8761', '[0.0001, 8760]'],
    ['SLOW_ATTEMPT_THRESHOLD_MS', '1', '60000', '0', '60001', '[1, 60000]'],
    ['HEALTH_COUNT_FLUSH_SECONDS', '0', '3600', '-1', '3601', '[0, 3600]'],
  ])(
    'takes %s from %s to %s and refuses %s and %s, naming the range',
    (name, low, high, below, above, range) => {
      expect(() => delivery({ [name]: low })).not.toThrow();
      expect(() => delivery({ [name]: high })).not.toThrow();
      for (const bad of [below, above])
        expect(() => delivery({ [name]: bad })).toThrow(
          new ConfigError(
            `Environment variable ${name} must be a number in ${range}, got "${bad}"`,
          ),
        );
    },
  );
});

describe('retry sweeper configuration', () => {
  it('watches health drivers only when both the Webhooks table and the health machine are set', () => {
    const both = {
      ...SWEEPER_ENV,
      WEBHOOKS_TABLE: ' w ',
      HEALTH_STATE_MACHINE_ARN: 'arn:h',
    };
    expect(loadSweeperConfig(both).driverWatch).toEqual({
      webhooksTable: 'w',
      healthStateMachineArn: 'arn:h',
    });
    expect(loadSweeperConfig({ ...both, WEBHOOKS_TABLE: undefined }).driverWatch).toBeUndefined();
    expect(
      loadSweeperConfig({ ...both, HEALTH_STATE_MACHINE_ARN: ' ' }).driverWatch,
    ).toBeUndefined();
  });

  it('reads grace, starts and slot as deployed, within their ranges', () => {
    expect(
      loadSweeperConfig({
        ...SWEEPER_ENV,
        RETRY_SWEEP_GRACE_SECONDS: '604800',
        RETRY_SWEEP_MAX_STARTS: '10000',
        RETRY_SWEEP_INTERVAL_SECONDS: '0.001',
      }),
    ).toMatchObject({ graceMs: 604_800_000, maxStarts: 10_000, slotMs: 1 });
    expect(
      loadSweeperConfig({
        ...SWEEPER_ENV,
        RETRY_SWEEP_MAX_STARTS: '1',
        RETRY_SWEEP_GRACE_SECONDS: '0',
      }),
    ).toMatchObject({ graceMs: 0, maxStarts: 1 });
    for (const [name, bad, range] of [
      ['RETRY_SWEEP_GRACE_SECONDS', '604801', '[0, 604800]'],
      ['RETRY_SWEEP_MAX_STARTS', '10001', '[1, 10000]'],
      ['RETRY_SWEEP_INTERVAL_SECONDS', '0', '[0.001, 86400]'],
      ['RETRY_SWEEP_INTERVAL_SECONDS', '86401', '[0.001, 86400]'],
    ] as const)
      expect(() => loadSweeperConfig({ ...SWEEPER_ENV, [name]: bad })).toThrow(
        new ConfigError(`Environment variable ${name} must be a number in ${range}, got "${bad}"`),
      );
    expect(() => loadSweeperConfig({ ...SWEEPER_ENV, RETRY_SWEEP_MAX_STARTS: '2.5' })).toThrow(
      new ConfigError(
        'Environment variable RETRY_SWEEP_MAX_STARTS must be a whole number, got "2.5"',
      ),
    );
  });
});
