import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { createAwsClients } from '../../lambdas/adapters/aws-clients';
import {
  NOTIFICATION_INDEX_PROJECTION,
  NOTIFICATIONS_TABLE,
} from '../../lambdas/adapters/dynamo-schema';
import { type StandIns, startStandIns } from '../../local/standins';
import { eventually } from '../support/eventually';
import { useStandIns } from '../support/standins';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Local addresses (hex, as /proc/net/tcp and tcp6 write them) of the sockets listening on
 * `port`. Read from the kernel's tables: nothing connects anywhere.
 */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [address, localPort] = (local ?? '').split(':');
      if (state === '0A' && localPort === hexPort && address) out.push(address);
    }
  }
  return out;
}

/** 127.0.0.0/8, in /proc's byte order: on its own (tcp) or IPv4-mapped (tcp6); or ::1. */
function isLoopback(hex: string): boolean {
  if (hex === '00000000000000000000000001000000') return true;
  const v4 = hex.length === 8 ? hex : /^0{16}FFFF0000([0-9A-F]{8})$/.exec(hex)?.[1];
  return v4?.endsWith('7F') === true;
}

describe('local stand-ins', () => {
  const standIns = useStandIns({ prefix: 'si-', visibilityTimeoutSeconds: 12 });

  it('listen on the loopback interface only: DynamoDB Local and fauxqs check no credentials', () => {
    const env = standIns().env;
    for (const endpoint of [env.AWS_ENDPOINT_URL_DYNAMODB, env.AWS_ENDPOINT_URL_SQS]) {
      const addresses = listeningAddresses(Number(new URL(endpoint ?? '').port));
      expect(addresses.length).toBeGreaterThan(0);
      expect(addresses.filter((a) => !isLoopback(a))).toEqual([]);
    }
    // The check itself tells the wildcard and a public address from loopback.
    expect(['00000000', '00000000000000000000000000000000', '0100000A'].map(isLoopback)).toEqual([
      false,
      false,
      false,
    ]);
    expect(['0100007F', '0000000000000000FFFF00000100007F'].map(isLoopback)).toEqual([true, true]);
  });

  it('creates the notifications table with both sharded indexes, their projection and TTL', async () => {
    const { dynamo } = standIns().clients;
    const table = standIns().tables.notifications;
    const out = await dynamo.send(new DescribeTableCommand({ TableName: table }));
    const indexes = out.Table?.GlobalSecondaryIndexes ?? [];
    expect(indexes.map((i) => i.IndexName).sort()).toEqual(['byParked', 'byStatus', 'byWebhook']);
    const byWebhook = indexes.find((i) => i.IndexName === NOTIFICATIONS_TABLE.byWebhookIndex.name);
    expect(byWebhook?.KeySchema).toEqual([
      { AttributeName: 'webhookShard', KeyType: 'HASH' },
      { AttributeName: 'createdKey', KeyType: 'RANGE' },
    ]);
    expect(byWebhook?.Projection?.ProjectionType).toBe('INCLUDE');
    expect([...(byWebhook?.Projection?.NonKeyAttributes ?? [])].sort()).toEqual(
      [...NOTIFICATION_INDEX_PROJECTION].sort(),
    );
    const ttl = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    expect(standIns().tables).toEqual({
      webhooks: 'si-webhooks',
      eventTypes: 'si-event-types',
      subjectKeys: 'si-subject-keys',
      notifications: 'si-notifications',
      payloads: 'si-payloads',
    });
  });

  it('creates the delivery queue with the configured visibility timeout and a redrive to the DLQ after 5 receives', async () => {
    const { sqs } = standIns().clients;
    const out = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: standIns().queueUrl, AttributeNames: ['All'] }),
    );
    const dlq = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: standIns().dlqUrl, AttributeNames: ['QueueArn'] }),
    );
    expect(out.Attributes?.VisibilityTimeout).toBe('12');
    const redrive = JSON.parse(out.Attributes?.RedrivePolicy ?? '{}');
    expect(redrive.deadLetterTargetArn).toBe(dlq.Attributes?.QueueArn);
    expect(Number(redrive.maxReceiveCount)).toBe(5);
  });

  it('exposes the environment that handlers read, pointing at loopback endpoints', () => {
    const env = standIns().env;
    expect(env.NOTIFICATIONS_TABLE).toBe('si-notifications');
    expect(env.DELIVERY_QUEUE_URL).toBe(standIns().queueUrl);
    expect(new URL(env.AWS_ENDPOINT_URL_DYNAMODB!).hostname).toBe('127.0.0.1');
    expect(new URL(env.AWS_ENDPOINT_URL_SQS!).hostname).toBe('127.0.0.1');
    expect(env.AWS_REGION).toBe('us-east-1');
  });

  it('lets clients built from that environment reach both stand-ins, whatever host the queue URL names', async () => {
    const clients = createAwsClients({ ...standIns().env });
    expect(new URL(standIns().queueUrl).host).not.toBe(new URL(standIns().sqsEndpoint).host);
    try {
      const tables = await clients.dynamo.send(new ListTablesCommand({}));
      expect(tables.TableNames).toEqual(
        expect.arrayContaining(['si-webhooks', 'si-notifications', 'si-payloads']),
      );

      await clients.sqs.send(
        new SendMessageCommand({ QueueUrl: standIns().queueUrl, MessageBody: '{"hello":1}' }),
      );
      const received = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: standIns().queueUrl, WaitTimeSeconds: 1 }),
      );
      expect(received.Messages?.map((m) => m.Body)).toEqual(['{"hello":1}']);
      await clients.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: standIns().queueUrl,
          ReceiptHandle: received.Messages![0]!.ReceiptHandle!,
        }),
      );
    } finally {
      clients.dynamo.destroy();
      clients.sqs.destroy();
      clients.sfn.destroy();
    }
  });

  it('refuses to start DynamoDB Local on a port that is already taken', async () => {
    const port = Number(new URL(standIns().dynamoEndpoint).port);
    await expect(startStandIns({ dynamoPort: port })).rejects.toThrow(`port ${port} is in use`);
  });
});

describe('local stand-ins with a data directory', () => {
  let dataDir: string;
  let running: StandIns | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'standins-'));
  });
  afterAll(async () => {
    await running?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps DynamoDB items across a restart on the same directory and stops its processes', async () => {
    running = await startStandIns({ dataDir });
    const first = running;
    await first.clients.dynamo.send(
      new PutItemCommand({
        TableName: first.tables.webhooks,
        Item: { id: { S: 'wh_kept' }, name: { S: 'kept' } },
      }),
    );
    await first.stop();
    running = undefined;
    expect(isRunning(first.pids.dynamo)).toBe(false);
    expect(isRunning(first.pids.host)).toBe(false);

    running = await startStandIns({ dataDir });
    const out = await running.clients.dynamo.send(
      new GetItemCommand({ TableName: running.tables.webhooks, Key: { id: { S: 'wh_kept' } } }),
    );
    expect(out.Item?.name?.S).toBe('kept');
    // Two starts of DynamoDB Local (a JVM) and the tables: past the 60 s default on a loaded
    // 2-core machine (a CI run beside other work took longer).
  }, 180_000);
});

describe('local stand-ins killed outright', () => {
  let running: StandIns | undefined;

  afterEach(async () => {
    if (running && isRunning(running.pids.dynamo)) process.kill(running.pids.dynamo, 'SIGKILL');
    await running?.stop();
    running = undefined;
  });

  it('stop DynamoDB Local when their host is killed with SIGKILL, as when local mode and the host are killed at once', async () => {
    running = await startStandIns();
    const { host, dynamo } = running.pids;

    process.kill(host, 'SIGKILL');

    await expect(
      eventually(async () => (isRunning(dynamo) ? undefined : true), {
        what: `DynamoDB Local (pid ${dynamo}) to exit after its host`,
      }),
    ).resolves.toBe(true);
  });
});
