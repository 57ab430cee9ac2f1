/**
 * The retry sweeper restarts a health driver presumed dead (its lease ran out without a beat):
 * the real sweeper composition root against DynamoDB Local (Webhooks ids, health records) and
 * the synthesized health machine on the local Step Functions endpoint, whose step is recorded.
 */
import { DynamoHealthStore } from '../../lambdas/adapters/dynamo-health';
import { composeSweeper } from '../../lambdas/composition/sweeper';
import { ENV } from '../../lambdas/config';
import { DEFAULT_HEALTH_SETTINGS, initialHealth } from '../../lambdas/core/health/model';
import type { HealthTaskInput } from '../../lambdas/core/retry-contract';
import { synthesizeHealthDefinition } from '../../lib/retry-definition';
import { type SfnEndpoint, startSfnEndpoint } from '../../local/sfn-endpoint';
import { storesFor } from '../support/api-harness';
import { webhookDefinition } from '../support/history';
import { useStandIns, withEnv } from '../support/standins';

const HEALTH_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:health-watch';
const RETRY_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:retry-unused';
const ATTEMPT_FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:attempt';

describe('the retry sweeper and dead health drivers', () => {
  const standIns = useStandIns({ prefix: 'dw-' });
  let endpoint: SfnEndpoint;
  const steps: HealthTaskInput[] = [];

  beforeAll(async () => {
    endpoint = await startSfnEndpoint({
      machines: [
        {
          definition: synthesizeHealthDefinition({ attemptFunctionArn: ATTEMPT_FUNCTION }),
          stateMachineArn: HEALTH_MACHINE,
        },
      ],
      functions: {
        [ATTEMPT_FUNCTION]: async (payload) => {
          steps.push(payload as HealthTaskInput);
          return { ...(payload as object), done: true };
        },
      },
      host: '127.0.0.1',
    });
  });
  afterAll(async () => {
    await endpoint?.whenIdle();
    await endpoint?.stop();
  });

  it('restarts the driver of a webhook whose lease ran out, and leaves a beating one alone', async () => {
    const stores = storesFor(standIns());
    const health = new DynamoHealthStore(
      standIns().clients.dynamo,
      standIns().tables.notifications,
    );
    const now = Date.now();
    const beat = (msAgo: number) => new Date(now - msAgo).toISOString();
    const records = {
      wh_DEADDRIVERAAAAAAAAAAAAAAAA: beat(DEFAULT_HEALTH_SETTINGS.driverLeaseMs + 60_000),
      wh_LIVEDRIVERAAAAAAAAAAAAAAAA: beat(60_000),
    };
    for (const [id, driverBeatAt] of Object.entries(records)) {
      await stores.webhooks.put(webhookDefinition(id));
      const record = {
        ...initialHealth(id, new Date(now - 3600_000)),
        state: 'OPEN' as const,
        openedAt: beat(3600_000),
        driverSeq: 3,
        driverRunning: true,
        driverBeatAt,
      };
      expect(await health.transition(record, 0)).toBe(true);
    }
    // A webhook without a health record: nothing to do.
    await stores.webhooks.put(webhookDefinition('wh_NORECORDAAAAAAAAAAAAAAAAAA'));

    const sweep = await withEnv(
      { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' },
      () =>
        composeSweeper({
          ...standIns().env,
          AWS_ENDPOINT_URL_SFN: endpoint.url,
          [ENV.RETRY_STATE_MACHINE_ARN]: RETRY_MACHINE,
          [ENV.HEALTH_STATE_MACHINE_ARN]: HEALTH_MACHINE,
          [ENV.WEBHOOKS_TABLE]: standIns().tables.webhooks,
        }).handler,
    );
    const summary = await sweep({ time: new Date(now).toISOString() });
    await endpoint.whenIdle();

    expect(summary).toMatchObject({ driversRestarted: 1, errors: 0 });
    expect(steps.map((s) => [s.webhookId, s.seq, s.steps])).toEqual([
      ['wh_DEADDRIVERAAAAAAAAAAAAAAAA', 4, 0],
    ]);
    const restarted = await health.get('wh_DEADDRIVERAAAAAAAAAAAAAAAA');
    expect(restarted).toMatchObject({ driverSeq: 4 });
    expect(Date.parse(restarted?.driverBeatAt ?? '')).toBeGreaterThanOrEqual(now);
    expect(await health.get('wh_LIVEDRIVERAAAAAAAAAAAAAAAA')).toMatchObject({
      driverSeq: 3,
      driverRunning: true,
      driverBeatAt: records.wh_LIVEDRIVERAAAAAAAAAAAAAAAA,
    });

    // The next sweep finds the new driver beating: nothing more is started.
    const again = await sweep({ time: new Date(now + 900_000).toISOString() });
    await endpoint.whenIdle();
    expect(again).toMatchObject({ driversRestarted: 0 });
    expect(steps).toHaveLength(1);
  });
});
