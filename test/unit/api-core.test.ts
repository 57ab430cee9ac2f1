/**
 * Use cases behind the API with the memory stores: limits and orderings that are costly to
 * reach against the stand-ins.
 */

import { MAX_RANGE_RESEND, NotificationService } from '../../lambdas/core/api/notifications';
import { WebhookService } from '../../lambdas/core/api/webhooks';
import { type NotFoundError, PayloadTooLargeError } from '../../lambdas/core/errors';
import { notificationIdFor } from '../../lambdas/core/ids';
import {
  IngestService,
  MAX_FANOUT_BYTES,
  MAX_QUEUE_MESSAGE_BYTES,
  REQUEUE_HEADROOM_BYTES,
} from '../../lambdas/core/ingest';
import type { DeliveryJob } from '../../lambdas/core/model';
import { queueJsonBytes } from '../../lambdas/core/queue-json';
import { Renderer } from '../../lambdas/core/render';
import { createIngestHandler } from '../../lambdas/handlers/ingest';
import type { ResendJob } from '../../lambdas/ports';
import { invoke } from '../support/apigw';
import {
  MemoryDeliveryQueue,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../support/memory-stores';

const clock = { now: () => new Date('2026-11-28T12:00:00Z') };

function notificationDeps() {
  const jobs: ResendJob[] = [];
  const resendJobs = new MemoryResendJobStore();
  const create = resendJobs.create.bind(resendJobs);
  resendJobs.create = async (job) => {
    jobs.push(job);
    await create(job);
  };
  return {
    notifications: new MemoryNotificationStore(),
    payloads: new MemoryPayloadStore(),
    resendJobs,
    webhooks: new MemoryWebhookStore(),
    queue: new MemoryDeliveryQueue(),
    clock,
    created: jobs,
  };
}

async function seedFailed(store: MemoryNotificationStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const ms = Date.parse('2026-11-28T10:00:00Z') + i * 10;
    await store.create(
      {
        id: notificationIdFor('wh_X', `e${i}`),
        webhookId: 'wh_X',
        eventId: `e${i}`,
        eventType: 'T',
        createdAt: new Date(ms).toISOString(),
        status: 'FAILED',
        failureReason: 'TIMEOUT',
        attempts: [],
        nextAttemptAt: null,
      },
      2_000_000_000,
    );
  }
}

describe('bulk resend by range', () => {
  // The cap is a constructor option so the paging limit can be crossed with a few hundred items.
  const max = 250;

  it('caps the default at 10,000 notifications', () => {
    expect(MAX_RANGE_RESEND).toBe(10_000);
  });

  it('refuses a range matching more than the cap (counted over several pages), creating no job and queuing nothing', async () => {
    const deps = notificationDeps();
    await seedFailed(deps.notifications, max + 1);
    const service = new NotificationService({ ...deps, maxRangeResend: max });
    await expect(
      service.resendBulk({ from: '2026-11-28T00:00:00Z', to: '2026-11-29T00:00:00Z' }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
    expect(deps.created).toEqual([]);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('refuses a range it cannot count within its budget, creating no job and queuing nothing', async () => {
    const deps = notificationDeps();
    await seedFailed(deps.notifications, 250);
    // Every page read moves the clock 1 s: 3 pages of 100 fit 3 s, not 2 s.
    let ms = 0;
    const list = deps.notifications.list.bind(deps.notifications);
    deps.notifications.list = async (query) => {
      ms += 1000;
      return list(query);
    };
    const range = { from: '2026-11-28T00:00:00Z', to: '2026-11-29T00:00:00Z' };
    const within = new NotificationService({
      ...deps,
      rangeCountBudget: { ms: 3000, now: () => ms },
    });
    expect((await within.resendBulk(range)).count).toBe(250);
    deps.queue.drain();
    const created = deps.created.length;

    const short = new NotificationService({
      ...deps,
      rangeCountBudget: { ms: 2000, now: () => ms },
    });
    await expect(short.resendBulk(range)).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('takes too long to count'),
    });
    expect(deps.created).toHaveLength(created);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('accepts exactly the cap', async () => {
    const deps = notificationDeps();
    await seedFailed(deps.notifications, max);
    const res = await new NotificationService({ ...deps, maxRangeResend: max }).resendBulk({
      from: '2026-11-28T00:00:00Z',
      to: '2026-11-29T00:00:00Z',
    });
    expect(res.count).toBe(max);
    expect(deps.queue.jobs).toHaveLength(1);
  });
});

describe('the notification list', () => {
  it('answers 20 newest first without a limit, then the rest with no further cursor', async () => {
    const deps = notificationDeps();
    await seedFailed(deps.notifications, 25);
    const service = new NotificationService(deps);
    const newest = (await deps.notifications.list({ limit: 25 })).items.map((n) => n.id);

    const first = await service.list({});
    expect(first.items.map((n) => n.id)).toEqual(newest.slice(0, 20));
    expect(first.nextCursor).not.toBeNull();
    const rest = await service.list({ cursor: first.nextCursor! });
    expect(rest.items.map((n) => n.id)).toEqual(newest.slice(20));
    expect(rest.nextCursor).toBeNull();
  });
});

describe('bulk resend by ids', () => {
  it('creates the job before queuing, so progress counted by the consumer always has a job to land on', async () => {
    const deps = notificationDeps();
    await seedFailed(deps.notifications, 3);
    const order: string[] = [];
    const enqueue = deps.queue.enqueue.bind(deps.queue);
    deps.queue.enqueue = async (jobs: readonly DeliveryJob[]) => {
      order.push(`enqueue:${deps.created.length}`);
      await enqueue(jobs);
    };
    const ids = [0, 1, 2].map((i) => notificationIdFor('wh_X', `e${i}`));
    const res = await new NotificationService(deps).resendBulk({ ids });
    expect(order).toEqual(['enqueue:1']);
    expect(await deps.resendJobs.get(res.jobId)).toMatchObject({
      count: 3,
      queued: 3,
      sent: 0,
      failed: 0,
    });
  });
});

describe('bulk resend of unknown ids', () => {
  it('names them in the order they were sent, whichever lookup answers first', async () => {
    const deps = notificationDeps();
    const ids = Array.from({ length: 5 }, (_, i) => notificationIdFor('wh_X', `gone-${i}`));
    // The lookups answer last-sent first: each waits until all have started.
    const get = deps.notifications.get.bind(deps.notifications);
    const started: (() => Promise<void>)[] = [];
    deps.notifications.get = (id) =>
      new Promise((resolve, reject) => {
        started.push(() => get(id).then(resolve, reject));
        if (started.length === ids.length)
          void (async () => {
            for (const answer of started.reverse()) await answer();
          })();
      });
    const service = new NotificationService(deps);

    const err = await service.resendBulk({ ids }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOT_FOUND' });
    expect((err as NotFoundError).details.map((d) => d.path)).toEqual(
      ids.map((_, i) => `ids[${i}]`),
    );
    expect(deps.created).toEqual([]);
    expect(deps.queue.jobs).toEqual([]);
  });
});

describe('ingest', () => {
  it('queues a producer id repeated inside one batch once per webhook, reporting each event', async () => {
    const webhooks = new MemoryWebhookStore();
    const renderer = new Renderer();
    const service = new WebhookService({ webhooks, renderer, clock });
    const hook = await service.create({ name: 'h', events: ['T'], url: 'https://x.example/' });
    const queue = new MemoryDeliveryQueue();
    const result = await new IngestService({ webhooks, queue, clock }).ingest({
      events: [
        { type: 'T', id: 'same', data: { n: 1 } },
        { type: 'T', id: 'same', data: { n: 2 } },
      ],
    });
    expect(result).toEqual({
      batch: true,
      events: [
        { eventId: 'same', notifications: 1 },
        { eventId: 'same', notifications: 1 },
      ],
    });
    expect(queue.jobs).toEqual([
      {
        kind: 'deliver',
        notificationId: notificationIdFor(hook.id, 'same'),
        webhookId: hook.id,
        webhookVersion: hook.version,
        event: expect.objectContaining({ data: { n: 1 } }),
      },
    ]);
  });

  it('refuses, queueing nothing, a request whose events for all matching webhooks pass 32 MiB', async () => {
    const webhooks = new MemoryWebhookStore();
    const service = new WebhookService({ webhooks, renderer: new Renderer(), clock });
    const queue = new MemoryDeliveryQueue();
    const ingest = new IngestService({ webhooks, queue, clock });
    // 100 events of about 30 KB: about 3 MB of delivery jobs per webhook subscribed to all.
    const batch = {
      events: Array.from({ length: 100 }, (_, i) => ({
        type: 'T',
        data: { i, pad: 'p'.repeat(30_000) },
      })),
    };
    for (let i = 0; i < 10; i++)
      await service.create({ name: `all ${i}`, events: ['*'], url: 'https://x.example/' });

    // Ten webhooks: about 30 MB, queued.
    const accepted = await ingest.ingest(batch);
    expect(accepted.batch && accepted.events.every((e) => e.notifications === 10)).toBe(true);
    expect(queue.drain()).toHaveLength(1000);

    // Twelve: about 36 MB, refused whole.
    for (let i = 10; i < 12; i++)
      await service.create({ name: `all ${i}`, events: ['*'], url: 'https://x.example/' });
    const refused = await ingest.ingest(batch).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PayloadTooLargeError);
    expect((refused as Error).message).toMatch(/1200 deliveries of 36\d{6} bytes/);
    expect((refused as Error).message).toContain(String(MAX_FANOUT_BYTES));
    expect(queue.drain()).toEqual([]);
  });

  it('queues a request whose deliveries come to exactly 32 MiB, and refuses one byte more', async () => {
    const webhooks = new MemoryWebhookStore();
    const service = new WebhookService({ webhooks, renderer: new Renderer(), clock });
    const queue = new MemoryDeliveryQueue();
    const ingest = new IngestService({ webhooks, queue, clock });
    // 128 webhooks subscribed to all: one event of 256 KiB as queued (envelope included, the
    // event itself a little smaller) makes exactly 32 MiB.
    const subscribers = 128;
    for (let i = 0; i < subscribers; i++)
      await service.create({ name: `all ${i}`, events: ['*'], url: 'https://x.example/' });
    const jobBytes = MAX_FANOUT_BYTES / subscribers;
    const event = (pad: number) => ({ type: 'T', data: { pad: 'p'.repeat(pad) } });
    // Measure one delivery job, then pad the event (one byte per ASCII character) to the size.
    await ingest.ingest(event(1000));
    const measured = queueJsonBytes(queue.drain()[0]);
    const exact = event(1000 + jobBytes - measured);

    const accepted = await ingest.ingest(exact);
    const jobs = queue.drain();
    expect(jobs.map((j) => queueJsonBytes(j))).toEqual(Array(subscribers).fill(jobBytes));
    expect(accepted).toMatchObject({ batch: false, notifications: subscribers });

    const refused = await ingest
      .ingest(event(1000 + jobBytes - measured + 1))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PayloadTooLargeError);
    expect((refused as Error).message).toContain(
      `${subscribers} deliveries of ${MAX_FANOUT_BYTES + subscribers} bytes`,
    );
    expect(queue.drain()).toEqual([]);
  });

  it('refuses an event whose queue message would leave no room for the fields a requeue adds', async () => {
    const webhooks = new MemoryWebhookStore();
    const service = new WebhookService({ webhooks, renderer: new Renderer(), clock });
    await service.create({ name: 'all', events: ['*'], url: 'https://x.example/' });
    const queue = new MemoryDeliveryQueue();
    const ingest = new IngestService({ webhooks, queue, clock });
    // 9e20 is 4 characters sent and 21 queued (written out in full): a body under 256 KiB as
    // sent, about 1 MiB queued. The pad brings the queued job to exactly `target` bytes.
    const numbers = Array.from({ length: 47_000 }, () => '9e20').join(',');
    const rawWith = (pad: string) =>
      `{"type":"T","id":"sized","data":{"numbers":[${numbers}],"pad":"${pad}"}}`;
    const queued = (raw: string) => {
      const hook = webhooks.list().then(([d]) => d!);
      return hook.then((d) =>
        queueJsonBytes({
          kind: 'deliver',
          notificationId: notificationIdFor(d.id, 'sized'),
          webhookId: d.id,
          webhookVersion: d.version,
          event: { ...JSON.parse(raw), occurredAt: clock.now().toISOString() },
        } as DeliveryJob),
      );
    };
    const sized = async (target: number) => {
      const pad = 'p'.repeat(Math.max(0, target - (await queued(rawWith('')))));
      const raw = rawWith(pad);
      return { raw, size: await queued(raw) };
    };
    const post = (raw: string) =>
      ingest.ingest(JSON.parse(raw), { bodyBytes: Buffer.byteLength(raw) });

    const atLimit = await sized(MAX_QUEUE_MESSAGE_BYTES - 10);
    const withRoom = await sized(MAX_QUEUE_MESSAGE_BYTES - REQUEUE_HEADROOM_BYTES - 10);
    expect(atLimit.raw.length).toBeLessThan(256 * 1024);
    expect(atLimit.size).toBeLessThanOrEqual(MAX_QUEUE_MESSAGE_BYTES - 10 + 2);

    // Within SQS's limit, but a requeue (deferrals, awaitedFirst) could not queue it again.
    const refused = await post(atLimit.raw).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(PayloadTooLargeError);
    // A single event: the detail names no index or path, as for every other single-event error.
    expect((refused as PayloadTooLargeError).details).toEqual([
      { message: expect.stringContaining('bytes with its delivery envelope') },
    ]);
    expect(queue.drain()).toEqual([]);
    expect(await post(withRoom.raw)).toMatchObject({ batch: false, notifications: 1 });
    expect(queue.drain()).toHaveLength(1);
  });

  it('answers 500 INTERNAL_ERROR (logged, no detail) when the queue is down', async () => {
    const webhooks = new MemoryWebhookStore();
    await new WebhookService({ webhooks, renderer: new Renderer(), clock }).create({
      name: 'h',
      events: ['*'],
      url: 'https://x.example/',
    });
    const logged: unknown[] = [];
    const handler = createIngestHandler({
      stores: { webhooks },
      queue: {
        enqueue: async () => {
          throw new Error(
            'QueueSendError: 1 of 1 delivery jobs could not be queued (ServiceUnavailable)',
          );
        },
      },
      clock,
      config: { definitionCacheTtlMs: 0 },
      logger: { info: () => {}, error: (...args: unknown[]) => logged.push(args) },
    });
    const res = await invoke(handler, {
      method: 'POST',
      path: '/events',
      body: { type: 'T', data: {} },
    });
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('INTERNAL_ERROR');
    expect(res.rawBody).not.toContain('ServiceUnavailable');
    expect(logged).toHaveLength(1);
  });
});

describe('ingest metrics', () => {
  it('publishes EventsIngested with the number of accepted events, and nothing for a refused request', async () => {
    const recorded: [string, string, number][] = [];
    let published = 0;
    const handler = createIngestHandler({
      stores: { webhooks: new MemoryWebhookStore() },
      queue: new MemoryDeliveryQueue(),
      clock,
      config: { definitionCacheTtlMs: 0 },
      logger: { info: () => {}, error: () => {} },
      metrics: {
        addMetric: (name: string, unit: string, value: number) => {
          recorded.push([name, unit, value]);
        },
        publishStoredMetrics: () => {
          published += 1;
        },
      } as never,
    });
    const events = [1, 2, 3].map((n) => ({ type: 'T', data: { n } }));
    expect(
      (await invoke(handler, { method: 'POST', path: '/events', body: { events } })).status,
    ).toBe(202);
    expect(
      (await invoke(handler, { method: 'POST', path: '/events', body: { type: 'T', data: {} } }))
        .status,
    ).toBe(202);
    expect(
      (await invoke(handler, { method: 'POST', path: '/events', body: { type: 'T' } })).status,
    ).toBe(400);
    expect(recorded).toEqual([
      ['EventsIngested', 'Count', 3],
      ['EventsIngested', 'Count', 1],
    ]);
    expect(published).toBe(2);
  });
});

describe('webhook listing', () => {
  it('lists oldest first', async () => {
    const webhooks = new MemoryWebhookStore();
    let t = Date.parse('2026-11-28T12:00:00Z');
    const tick = () => {
      t += 1000;
      return new Date(t);
    };
    const service = new WebhookService({
      webhooks,
      renderer: new Renderer(),
      clock: { now: tick },
    });
    const names = ['c', 'a', 'b'];
    for (const name of names)
      await service.create({ name, events: ['*'], url: 'https://x.example/' });
    expect((await service.list()).items.map((w) => w.name)).toEqual(names);
  });
});
