/**
 * Wires the api and ingest handlers to the local stand-ins (DynamoDB Local, fauxqs), as the
 * Lambdas are wired on AWS, with a controllable clock and a log capture.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoHealthStore } from '../../lambdas/adapters/dynamo-health';
import {
  DynamoEventTypeStore,
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from '../../lambdas/adapters/dynamo-stores';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-queue';
import { DynamoSubjectKeyStore } from '../../lambdas/adapters/subject-keys';
import type { DeliveryJob } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import { type ApiDeps, createApiHandler } from '../../lambdas/handlers/api';
import { createIngestHandler } from '../../lambdas/handlers/ingest';
import { standInCipher } from '../../local/standins';
import { TEST_CURSOR_KEY } from './cursor-key';
import type { StandIns } from './standins';

export interface LogCapture {
  readonly lines: string[];
  info(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

/** Collects log calls as JSON text, to assert what reaches the logs (never secrets). */
export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (message: string, ...extra: unknown[]) => {
      lines.push(
        JSON.stringify({ level, message, extra }, (_k, v) =>
          v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v,
        ),
      );
    };
  return { lines, info: record('info'), error: record('error') };
}

export class TestClock {
  constructor(private ms: number = Date.parse('2026-11-28T12:00:00.000Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** The subject keys the handlers use on these stand-ins (one store per stand-ins: one cache). */
const subjectKeyStores = new WeakMap<StandIns, DynamoSubjectKeyStore>();
export function subjectKeysFor(s: StandIns): DynamoSubjectKeyStore {
  let store = subjectKeyStores.get(s);
  if (!store) {
    store = new DynamoSubjectKeyStore(s.clients.dynamo, s.tables.subjectKeys, standInCipher(s));
    subjectKeyStores.set(s, store);
  }
  return store;
}

export function storesFor(s: StandIns) {
  const webhooks = new DynamoWebhookStore(s.clients.dynamo, s.tables.webhooks, standInCipher(s));
  return {
    webhooks,
    notifications: new DynamoNotificationStore(
      s.clients.dynamo,
      s.tables.notifications,
      TEST_CURSOR_KEY,
      webhooks,
    ),
    payloads: new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads, subjectKeysFor(s)),
    subjectKeys: subjectKeysFor(s),
    resendJobs: new DynamoResendJobStore(s.clients.dynamo, s.tables.notifications),
    eventTypes: new DynamoEventTypeStore(s.clients.dynamo, s.tables.eventTypes),
    health: new DynamoHealthStore(s.clients.dynamo, s.tables.notifications),
  };
}

export function apiHandlerFor(s: StandIns, overrides: Partial<ApiDeps> = {}) {
  const logs = captureLogs();
  const clock = new TestClock();
  const deps: ApiDeps = {
    stores: storesFor(s),
    queue: new SqsDeliveryQueue(s.clients.sqs, s.queueUrl),
    renderer: new Renderer(),
    clock,
    config: { region: s.region, senderIps: ['203.0.113.10', '203.0.113.11'] },
    logger: logs,
    ...overrides,
  };
  return { handler: createApiHandler(deps), deps, logs, clock };
}

export function ingestHandlerFor(s: StandIns, opts: { definitionCacheTtlMs?: number } = {}) {
  const logs = captureLogs();
  const clock = new TestClock(Date.now());
  const handler = createIngestHandler({
    stores: {
      webhooks: new DynamoWebhookStore(s.clients.dynamo, s.tables.webhooks, standInCipher(s)),
      eventTypes: new DynamoEventTypeStore(s.clients.dynamo, s.tables.eventTypes),
    },
    queue: new SqsDeliveryQueue(s.clients.sqs, s.queueUrl),
    clock,
    config: { definitionCacheTtlMs: opts.definitionCacheTtlMs ?? 30_000 },
    logger: logs,
  });
  return { handler, logs, clock };
}

/** Receives (and deletes) every message now on the queue; waits `waitSeconds` for the first. */
export async function drainQueue(
  sqs: SQSClient,
  queueUrl: string,
  waitSeconds = 1,
): Promise<DeliveryJob[]> {
  const jobs: DeliveryJob[] = [];
  let wait = waitSeconds;
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: wait,
        VisibilityTimeout: 60,
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return jobs;
    for (const m of messages) jobs.push(JSON.parse(m.Body ?? 'null') as DeliveryJob);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    wait = 0;
  }
}
