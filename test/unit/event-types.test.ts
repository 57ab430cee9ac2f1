import { EventTypeRecorder, EventTypeService } from '../../lambdas/core/event-types';
import { IngestService } from '../../lambdas/core/ingest';
import type { WebhookDefinition } from '../../lambdas/core/model';
import {
  MemoryDeliveryQueue,
  MemoryEventTypeStore,
  MemoryWebhookStore,
} from '../support/memory-stores';

class Clock {
  constructor(public ms = Date.parse('2026-12-03T07:00:00.000Z')) {}
  now() {
    return new Date(this.ms);
  }
}

function definition(id: string, events: string[], enabled = true): WebhookDefinition {
  return {
    id,
    name: id,
    events,
    enabled,
    method: 'POST',
    url: 'https://example.com/',
    contentType: 'application/json',
    headers: {},
    body: '{}',
    version: 1,
    createdAt: '2026-12-03T00:00:00.000Z',
    updatedAt: '2026-12-03T00:00:00.000Z',
  };
}

describe('the event-type catalogue', () => {
  it('writes a type at most once a minute per container, however many events carry it', async () => {
    const clock = new Clock();
    const store = new MemoryEventTypeStore();
    const ingest = new IngestService({
      webhooks: new MemoryWebhookStore(),
      queue: new MemoryDeliveryQueue(),
      clock,
      eventTypes: new EventTypeRecorder(store, clock),
    });

    for (let i = 0; i < 50; i++) {
      await ingest.ingest({
        events: [
          { type: 'A', data: {} },
          { type: 'B', data: {} },
        ],
      });
      clock.ms += 1000; // 50 s in all
    }
    expect(store.writes).toBe(2);
    clock.ms += 10_000; // a minute after the first write
    await ingest.ingest({ type: 'A', data: {} });

    expect(store.writes).toBe(3);
    expect(store.items.get('A')).toEqual({
      type: 'A',
      firstSeenAt: '2026-12-03T07:00:00.000Z',
      lastSeenAt: '2026-12-03T07:01:00.000Z',
    });
  });

  it('writes a type once for a batch that carries it many times', async () => {
    const store = new MemoryEventTypeStore();
    await new EventTypeRecorder(store, new Clock()).record(['A', 'A', 'B', 'A']);
    expect(store.writes).toBe(2);
  });

  it('forgets the types it wrote once it remembers 10,000, and writes them again', async () => {
    const clock = new Clock();
    const store = new MemoryEventTypeStore();
    const recorder = new EventTypeRecorder(store, clock);
    await recorder.record(Array.from({ length: 9_999 }, (_, i) => `T${i}`));
    await recorder.record(['T9999']);
    await recorder.record(['T0']);
    expect(store.writes).toBe(10_000);
    await recorder.record(['NEW']);
    await recorder.record(['T0']);
    expect(store.writes).toBe(10_002);
  });

  it('records nothing for a refused request', async () => {
    const clock = new Clock();
    const store = new MemoryEventTypeStore();
    const ingest = new IngestService({
      webhooks: new MemoryWebhookStore(),
      queue: new MemoryDeliveryQueue(),
      clock,
      eventTypes: new EventTypeRecorder(store, clock),
    });

    await expect(
      ingest.ingest({ events: [{ type: 'A', data: {} }, { type: 'B' }] }),
    ).rejects.toThrow();

    expect(store.writes).toBe(0);
  });

  it('a failed catalogue write does not fail ingestion, is reported, and is tried again by the next event', async () => {
    const clock = new Clock();
    const errors: unknown[] = [];
    let fail = true;
    const inner = new MemoryEventTypeStore();
    const store = {
      record: async (type: string, seenAt: string) => {
        if (fail) throw new Error('throttled');
        return inner.record(type, seenAt);
      },
      list: () => inner.list(),
    };
    const queue = new MemoryDeliveryQueue();
    const webhooks = new MemoryWebhookStore();
    await webhooks.put(definition('wh_a', ['A']));
    const ingest = new IngestService({
      webhooks,
      queue,
      clock,
      eventTypes: new EventTypeRecorder(store, clock, (e) => errors.push(e)),
    });

    const result = await ingest.ingest({ type: 'A', data: {} });
    fail = false;
    await ingest.ingest({ type: 'A', data: {} });

    expect(result).toMatchObject({ notifications: 1 });
    expect(queue.jobs).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(inner.items.has('A')).toBe(true);
  });

  it('lists types in order with the number of definitions subscribing (type or "*", enabled or not)', async () => {
    const store = new MemoryEventTypeStore();
    await store.record('LOAN', '2026-12-03T07:00:00.000Z');
    await store.record('LOAN', '2026-12-03T08:00:00.000Z');
    await store.record('LOAN', '2026-12-03T07:30:00.000Z'); // older: lastSeenAt stays
    await store.record('ACCOUNT', '2026-12-03T07:00:00.000Z');
    const webhooks = new MemoryWebhookStore();
    await webhooks.put(definition('wh_1', ['LOAN']));
    await webhooks.put(definition('wh_2', ['*'], false));
    await webhooks.put(definition('wh_3', ['platform.*']));

    const { items } = await new EventTypeService({ eventTypes: store, webhooks }).list();

    expect(items).toEqual([
      {
        type: 'ACCOUNT',
        firstSeenAt: '2026-12-03T07:00:00.000Z',
        lastSeenAt: '2026-12-03T07:00:00.000Z',
        webhooks: 1,
      },
      {
        type: 'LOAN',
        firstSeenAt: '2026-12-03T07:00:00.000Z',
        lastSeenAt: '2026-12-03T08:00:00.000Z',
        webhooks: 2,
      },
    ]);
  });
});
