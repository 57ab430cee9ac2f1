/**
 * What the definitions revision check costs ingestion: every POST /events reads the revision
 * item strongly consistent (DynamoDB Local) before reusing the cached definitions. Measured
 * beside the in-memory reference (the same IngestService and cache over the memory store), in
 * alternating rounds of sequential single-event calls; the queue is a no-op in both, so the
 * figure is the matching path alone. Read units follow DynamoDB's rule for strongly
 * consistent reads: one unit per 4 KiB of the item read, rounded up.
 */

import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { WEBHOOKS_TABLE } from '../lambdas/adapters/dynamo-schema';
import { DynamoWebhookStore, toItem } from '../lambdas/adapters/dynamo-stores';
import { CachedWebhookStore } from '../lambdas/core/definition-cache';
import { IngestService } from '../lambdas/core/ingest';
import type { WebhookDefinition } from '../lambdas/core/model';
import { required } from '../lambdas/core/required';
import { standInCipher, startStandIns } from '../local/standins';
import { MemoryWebhookStore } from '../test/support/memory-stores';
import { referenceDefinition } from './fixtures/reference';
import { itemBytes } from './support/dynamo-meter';
import { median, round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult } from './support/types';

const DEFINITIONS = 20;
const CACHE_TTL_MS = 30_000;

export const definitionsBenchmark: Benchmark = {
  name: 'definitions',
  title: 'Ingest with the definitions revision check (DynamoDB Local) vs the in-memory reference',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const standIns = await startStandIns({ prefix: 'bench-defs-' });
    const stop = opts.procs.defer('stand-ins', () => standIns.stop());
    try {
      let revisionReads = 0;
      let scans = 0;
      class Counted extends DynamoWebhookStore {
        override revision() {
          revisionReads += 1;
          return super.revision();
        }
        override list() {
          scans += 1;
          return super.list();
        }
      }
      const dynamoStore = new Counted(
        standIns.clients.dynamo,
        standIns.tables.webhooks,
        standInCipher(standIns),
      );
      const memoryStore = new MemoryWebhookStore();
      const base = referenceDefinition();
      for (let i = 0; i < DEFINITIONS; i++) {
        const def: WebhookDefinition = {
          ...base,
          id: `wh_BENCHDEFS${String(i).padStart(16, '0')}`,
        };
        await dynamoStore.put(def);
        await memoryStore.put(def);
      }
      const queue = { enqueue: async () => {} };
      const clock = { now: () => new Date() };
      const ingestOver = (store: DynamoWebhookStore | MemoryWebhookStore) =>
        new IngestService({ webhooks: new CachedWebhookStore(store, CACHE_TTL_MS), queue, clock });
      const services = { memory: ingestOver(memoryStore), revision: ingestOver(dynamoStore) };
      const event = {
        type: required(base.events[0], 'base.events[0]'),
        data: { loanId: 'L-1', amount: 1500, branch: 'b' },
      };
      const rounds = opts.quick ? 3 : 7;
      const calls = opts.quick ? 100 : 400;
      for (const service of Object.values(services))
        for (let i = 0; i < 50; i++) await service.ingest(event);
      const samples: Record<keyof typeof services, number[]> = { memory: [], revision: [] };
      revisionReads = 0;
      scans = 0;
      for (let r = 0; r < rounds; r++) {
        const order = (
          r % 2 === 0 ? ['memory', 'revision'] : ['revision', 'memory']
        ) as (keyof typeof services)[];
        for (const name of order) {
          const t0 = performance.now();
          for (let i = 0; i < calls; i++) await services[name].ingest(event);
          samples[name].push(((performance.now() - t0) * 1000) / calls);
        }
      }
      const revisionCalls = rounds * calls;
      const raw = await standIns.clients.dynamo.send(
        new GetItemCommand({
          TableName: standIns.tables.webhooks,
          Key: toItem({ id: WEBHOOKS_TABLE.revisionItemId }),
          ConsistentRead: true,
        }),
      );
      const unitsPerRead = Math.max(1, Math.ceil(itemBytes(raw.Item) / 4096));
      const unitsPerCall = (revisionReads / revisionCalls) * unitsPerRead;
      const memoryUs = median(samples.memory);
      const revisionUs = median(samples.revision);
      const ratio = revisionUs / memoryUs;
      opts.log(
        `ingest call: memory ${memoryUs.toFixed(1)} us, with revision read ${revisionUs.toFixed(1)} us; ${revisionReads} revision reads and ${scans} scans in ${revisionCalls} calls; revision item ${itemBytes(raw.Item)} bytes`,
      );
      return {
        figures: {
          'definitions.readUnitsPerCall': round(unitsPerCall),
          'definitions.readUnitsPerEventInBatchOf100': round(unitsPerCall / 100),
          'definitions.ingestLatencyRatio': round(ratio),
        },
        rows: [
          {
            label: 'Definitions revision check: read units per ingest call',
            key: 'definitions.readUnitsPerCall',
            value: round(unitsPerCall),
            unit: 'RCU',
            reference: `${scans} scans of ${DEFINITIONS} definitions in ${revisionCalls} calls`,
          },
          {
            label: 'Ingest call with revision check vs in-memory (latency)',
            key: 'definitions.ingestLatencyRatio',
            value: round(ratio),
            unit: 'x',
            reference: `memory ${memoryUs.toFixed(1)} us/call; DynamoDB Local ${revisionUs.toFixed(1)} us/call`,
          },
        ],
        details: { samples, revisionReads, scans, revisionCalls, unitsPerRead },
        notes: [
          'The check is one GetItem round trip to DynamoDB Local (a Java process on this shared machine) against an in-process reference: the ratio is that round trip over the matching path, not a figure for AWS, where the GetItem is a few milliseconds in-region and the read unit is what it costs.',
        ],
      };
    } finally {
      await stop();
    }
  },
};
