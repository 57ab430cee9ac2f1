/**
 * Local mode runs the retry sweeper on an interval: a notification whose retry execution is gone
 * (stopped here, as a failed one would be) and whose retry is past due by more than the grace
 * is restarted by a sweep and ends SENT. The whole platform in-process (startPlatform: DynamoDB
 * Local, fauxqs, the local Step Functions endpoint), a loopback receiver.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { ENV } from '../../lambdas/config';
import { retryExecutionName } from '../../lambdas/core/retry-contract';
import { type Platform, startPlatform } from '../../local/platform';
import { eventually } from '../support/eventually';
import { failTimes, type Receiver, startReceiver } from '../support/receivers';
import { withEnv } from '../support/standins';

jest.setTimeout(180_000);

const QUIET = { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' };

describe('local mode sweeps for retries whose execution is gone', () => {
  let platform: Platform | undefined;
  let receiver: Receiver | undefined;
  let dataDir: string;
  let sfn: SFNClient | undefined;
  let dynamo: DynamoDBClient | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-local-sweep-'));
    receiver = await startReceiver(failTimes(1));
    // Powertools reads its switches from process.env when the handlers are composed.
    platform = await withEnv(QUIET, () =>
      startPlatform({
        port: 0,
        dataDir,
        token: 'local-sweep-token',
        // Retry 1 is due an hour after the first attempt: only a sweep can send it sooner.
        retrySchedule: [3600, 3600, 3600, 3600, 3600],
        pollers: 1,
        log: () => {},
        handlerEnv: {
          [ENV.RETRY_SWEEP_GRACE_SECONDS]: '1',
          [ENV.RETRY_SWEEP_INTERVAL_SECONDS]: '0.2',
          [ENV.DEFINITION_CACHE_TTL_SECONDS]: '0',
        },
      }),
    );
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    sfn = new SFNClient({
      region: 'us-east-1',
      endpoint: platform.handlerEnv.AWS_ENDPOINT_URL_SFN,
      credentials,
    });
    dynamo = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: platform.handlerEnv.AWS_ENDPOINT_URL_DYNAMODB,
      credentials,
    });
  }, 180_000);
  afterAll(async () => {
    sfn?.destroy();
    dynamo?.destroy();
    await platform?.stop();
    await receiver?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  async function api(method: string, route: string, body?: unknown) {
    const res = await fetch(`${platform!.url}${route}`, {
      method,
      headers: {
        authorization: 'Bearer local-sweep-token',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('restarts the retry, which is sent once and ends SENT', async () => {
    const hook = await api('POST', '/webhooks', {
      name: 'sweep target',
      url: `${receiver!.url}/swept`,
      events: ['LOCAL_SWEEP'],
      method: 'POST',
      contentType: 'application/json',
      body: '{"loan": {{ data.loanId | json }}}',
    });
    expect(hook.status).toBe(201);
    const accepted = await api('POST', '/events', {
      type: 'LOCAL_SWEEP',
      data: { loanId: 'L-sweep' },
    });
    expect(accepted.status).toBe(202);
    const waiting = await eventually(
      async () => {
        const list = await api('GET', `/notifications?webhookId=${hook.body.id as string}`);
        const item = (list.body.items as { id: string; status: string }[] | undefined)?.[0];
        return item?.status === 'WAITING' ? item : undefined;
      },
      { what: 'the first attempt to fail', timeoutMs: 60_000 },
    );
    const id = waiting.id;
    const name = retryExecutionName({ notificationId: id, retry: 1, after: 1 });
    const executionArn = `${platform!.handlerEnv[ENV.RETRY_STATE_MACHINE_ARN]!.replace(':stateMachine:', ':execution:')}:${name}`;
    expect((await sfn!.send(new DescribeExecutionCommand({ executionArn }))).status).toBe(
      'RUNNING',
    );

    // What a failed execution leaves: no execution, the retry past due (here by a minute).
    await sfn!.send(new StopExecutionCommand({ executionArn }));
    await dynamo!.send(
      new UpdateItemCommand({
        TableName: platform!.handlerEnv[ENV.NOTIFICATIONS_TABLE],
        Key: { id: { S: id } },
        UpdateExpression: 'SET nextAttemptAt = :past',
        ExpressionAttributeValues: { ':past': { S: new Date(Date.now() - 60_000).toISOString() } },
      }),
    );

    const sent = await eventually(
      async () => {
        const res = await api('GET', `/notifications/${id}`);
        return res.body.status === 'SENT' ? res.body : undefined;
      },
      { what: 'a sweep to restart the retry', timeoutMs: 60_000 },
    );
    await platform!.retriesIdle();
    expect(
      (sent.attempts as { trigger: string; outcome: string }[]).map((a) => [a.trigger, a.outcome]),
    ).toEqual([
      ['initial', 'FAILED'],
      ['retry', 'SENT'],
    ]);
    expect(receiver!.requests).toHaveLength(2);
    expect((await sfn!.send(new DescribeExecutionCommand({ executionArn }))).status).toBe(
      'ABORTED',
    );
  });
});
