/**
 * What erasure by subject adds per notification: the first-attempt path (render, store,
 * send, record) with and without a `subject`, alternating segments in one process. Stores are
 * the real DynamoDB adapters over a client that answers at once (no network), so the figure
 * is the CPU of building and sealing the Payloads item (key from the subject key cache,
 * AES-256-GCM over the packed request) against building the plain item; the receiver answers
 * in-process. 1,000 distinct subjects cycle, their keys made during warm-up, as a warm Lambda
 * holds them.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoPayloadStore } from '../lambdas/adapters/dynamo-stores';
import type { createHttpSender } from '../lambdas/adapters/http-sender';
import { LocalDataKeyProvider } from '../lambdas/adapters/key-local';
import { DynamoSubjectKeyStore } from '../lambdas/adapters/subject-keys';
import { EnvelopeCipher } from '../lambdas/core/crypto/envelope';
import type { DeliveryJob } from '../lambdas/core/model';
import { MemoryNotificationStore, MemoryWebhookStore } from '../test/support/memory-stores';
import { createService } from './delivery';
import { referenceDefinition, referenceEvent } from './fixtures/reference';
import { closedLoop, combine, type LoadResult } from './support/load';
import { round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult } from './support/types';

const CONCURRENCY = 16;
const SUBJECTS = 1000;

/** Answers every command at once with an empty result: the adapters' own work, no I/O. */
const instantDynamo = { send: async () => ({}) } as unknown as DynamoDBClient;

const instantSender = {
  send: async () => ({
    kind: 'response' as const,
    statusCode: 200,
    headers: {},
    body: 'ok',
    durationMs: 0,
  }),
  close: async () => undefined,
} as unknown as ReturnType<typeof createHttpSender>;

export const erasureBenchmark: Benchmark = {
  name: 'erasure',
  title: 'Erasure by subject: added CPU per notification (first attempt, sealed vs plain request)',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const segmentMs = opts.quick ? 1000 : 4000;
    const segments = opts.quick ? 2 : 4;
    const keyDir = mkdtempSync(path.join(os.tmpdir(), 'bench-erasure-'));
    try {
      const cipher = new EnvelopeCipher(new LocalDataKeyProvider(path.join(keyDir, 'k')));
      const subjectKeys = new DynamoSubjectKeyStore(instantDynamo, 'subject-keys', cipher);
      const def = referenceDefinition('http://127.0.0.1:9/hook');
      const webhooks = new MemoryWebhookStore();
      await webhooks.put(def);
      const service = createService(
        {
          webhooks,
          notifications: new MemoryNotificationStore(),
          payloads: new DynamoPayloadStore(instantDynamo, 'payloads', subjectKeys),
        },
        instantSender,
      );
      const event = referenceEvent(1);
      const deliver = (withSubject: boolean) => (i: number) => {
        const job: DeliveryJob = {
          kind: 'deliver',
          notificationId: `ntf_${withSubject ? 'S' : 'P'}${i.toString(36).toUpperCase().padStart(25, '0')}`,
          webhookId: def.id,
          event: {
            ...event,
            id: `evt_${withSubject ? 's' : 'p'}${i}`,
            ...(withSubject ? { subject: `client-${i % SUBJECTS}` } : {}),
          },
        };
        return service.handleJob(job);
      };
      let plainIndex = (await closedLoop(CONCURRENCY, 1000, deliver(false))).nextIndex;
      let subjectIndex = (await closedLoop(CONCURRENCY, 1000, deliver(true))).nextIndex;
      const plainRuns: LoadResult[] = [];
      const subjectRuns: LoadResult[] = [];
      for (let s = 0; s < segments; s++) {
        const p = await closedLoop(CONCURRENCY, segmentMs, deliver(false), plainIndex);
        plainIndex = p.nextIndex;
        plainRuns.push(p);
        const q = await closedLoop(CONCURRENCY, segmentMs, deliver(true), subjectIndex);
        subjectIndex = q.nextIndex;
        subjectRuns.push(q);
      }
      const plain = combine(plainRuns);
      const sealed = combine(subjectRuns);
      const added = sealed.cpuUsPerOp - plain.cpuUsPerOp;
      opts.log(
        `plain ${round(plain.cpuUsPerOp)} us CPU/notification, with subject ${round(sealed.cpuUsPerOp)} us (${plain.ops} and ${sealed.ops} notifications, ${plain.errors + sealed.errors} errors)`,
      );
      const figures = {
        'erasureCpuUsPerOp.plain': round(plain.cpuUsPerOp),
        'erasureCpuUsPerOp.subject': round(sealed.cpuUsPerOp),
        'erasureCpuUsPerOp.added': round(added),
        erasureCpuRatio: round(sealed.cpuUsPerOp / plain.cpuUsPerOp),
      };
      return {
        figures,
        rows: [
          {
            label: 'Added CPU per notification with a subject (sealed request)',
            key: 'erasureCpuUsPerOp.added',
            value: round(added),
            unit: 'us',
            reference: `plain path ${round(plain.cpuUsPerOp)} us/notification; with subject ${round(sealed.cpuUsPerOp)} us (x${figures.erasureCpuRatio})`,
          },
        ],
        details: {
          plain: { ops: plain.ops, errors: plain.errors, cpuUsPerOp: plain.cpuUsPerOp },
          subject: { ops: sealed.ops, errors: sealed.errors, cpuUsPerOp: sealed.cpuUsPerOp },
          concurrency: CONCURRENCY,
          subjects: SUBJECTS,
          segments,
          segmentMs,
        },
        notes: [
          'Stores are the DynamoDB adapters over a client answering at once: the figure is CPU in this process only (DynamoDB and KMS calls cost none here; with a warm key cache there are none per notification).',
        ],
      };
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
  },
};
