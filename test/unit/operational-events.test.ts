import { DeliveryService } from '../../lambdas/core/delivery';
import { ReservedEventTypeError } from '../../lambdas/core/errors';
import { parseEvents, refuseReservedTypes } from '../../lambdas/core/events';
import { HealthGate } from '../../lambdas/core/health/gate';
import { DEFAULT_HEALTH_SETTINGS } from '../../lambdas/core/health/model';
import { IngestService } from '../../lambdas/core/ingest';
import { jobsForEvent } from '../../lambdas/core/matching';
import type {
  Attempt,
  DeliveryJob,
  EventEnvelope,
  WebhookDefinition,
} from '../../lambdas/core/model';
import { OperationalEvents } from '../../lambdas/core/operational-events';
import {
  PLATFORM_EVENT_TYPES,
  subscribed,
  subscribesTo,
  subscriptionProblem,
} from '../../lambdas/core/subscriptions';
import { webhookDefinition } from '../support/history';
import {
  MemoryDeliveryQueue,
  MemoryHealthStore,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../support/memory-stores';
import { SILENT_DELIVERY_OBSERVER, SILENT_HEALTH_OBSERVER } from '../support/silent-observers';

const now = new Date('2026-12-03T07:00:00.000Z');
const clock = { now: () => now };

function definition(id: string, events: string[], extra: Partial<WebhookDefinition> = {}) {
  const at = now.toISOString();
  return { ...webhookDefinition(id), events, createdAt: at, updatedAt: at, ...extra };
}

function platformEvent(type: string, webhookId: string): EventEnvelope {
  return { id: 'evt_1', type, occurredAt: now.toISOString(), data: { webhookId } };
}

async function setup(defs: WebhookDefinition[]) {
  const webhooks = new MemoryWebhookStore();
  for (const d of defs) await webhooks.put(d);
  const queue = new MemoryDeliveryQueue();
  return { webhooks, queue, events: new OperationalEvents({ webhooks, queue, clock }) };
}

const deliverTargets = (jobs: readonly DeliveryJob[]) =>
  jobs.map((j) => (j.kind === 'deliver' ? j.webhookId : j.kind)).sort();

describe('subscriptions to operational events', () => {
  it('"*" takes every producer type and no platform type', () => {
    expect(subscribesTo(['*'], 'LOAN_DISBURSEMENT')).toBe(true);
    for (const type of PLATFORM_EVENT_TYPES) expect(subscribesTo(['*'], type)).toBe(false);
  });

  it('"platform.*" takes every platform type and no producer type', () => {
    for (const type of PLATFORM_EVENT_TYPES) expect(subscribesTo(['platform.*'], type)).toBe(true);
    expect(subscribesTo(['platform.*'], 'LOAN_DISBURSEMENT')).toBe(false);
  });

  it('an exact platform type takes that type only', () => {
    const events = ['platform.circuit.opened'];
    expect(subscribesTo(events, 'platform.circuit.opened')).toBe(true);
    expect(subscribesTo(events, 'platform.circuit.closed')).toBe(false);
  });

  it('an event about a webhook is never delivered to that webhook', () => {
    const operator = definition('wh_op', ['platform.*']);
    expect(subscribed(operator, platformEvent('platform.circuit.opened', 'wh_op'))).toBe(false);
    expect(subscribed(operator, platformEvent('platform.circuit.opened', 'wh_other'))).toBe(true);
  });

  it('a disabled definition receives nothing', () => {
    const operator = definition('wh_op', ['platform.*'], { enabled: false });
    expect(subscribed(operator, platformEvent('platform.circuit.opened', 'wh_x'))).toBe(false);
  });

  it('refuses unknown platform types in a subscription and accepts the known ones', () => {
    expect(subscriptionProblem('platform.nope')).toMatch(/not an operational event type/);
    expect(subscriptionProblem('platform.*')).toBeUndefined();
    for (const type of PLATFORM_EVENT_TYPES) expect(subscriptionProblem(type)).toBeUndefined();
    expect(subscriptionProblem('LOAN_DISBURSEMENT')).toBeUndefined();
  });
});

describe('OperationalEvents.publish', () => {
  it('queues one deliver job per subscriber, never to the webhook it is about, with webhookId and webhookName', async () => {
    const failing = definition('wh_failing', ['*', 'platform.*']);
    const { events, queue } = await setup([
      failing,
      definition('wh_op', ['platform.*']),
      definition('wh_exact', ['platform.notification.failed']),
      definition('wh_other_type', ['platform.circuit.opened']),
      definition('wh_all', ['*']),
    ]);

    const result = await events.publish(
      'platform.notification.failed',
      failing,
      { notificationId: 'ntf_1' },
      { key: 'ntf_1' },
    );

    expect(result.notifications).toBe(2);
    expect(deliverTargets(queue.jobs)).toEqual(['wh_exact', 'wh_op']);
    const job = queue.jobs[0] as Extract<DeliveryJob, { kind: 'deliver' }>;
    expect(job.event).toMatchObject({
      id: result.eventId,
      type: 'platform.notification.failed',
      data: { notificationId: 'ntf_1', webhookId: 'wh_failing', webhookName: 'webhook wh_failing' },
    });
  });

  it('data cannot claim another webhook: webhookId and webhookName come from the subject', async () => {
    const { events, queue } = await setup([definition('wh_op', ['platform.*'])]);

    await events.publish(
      'platform.circuit.opened',
      { id: 'wh_op', name: 'x' },
      {
        webhookId: 'wh_someone_else',
      },
    );

    expect(queue.jobs).toHaveLength(0);
  });

  it('the same key publishes the same event id (a repeated task creates no second notification)', async () => {
    const { events, queue } = await setup([definition('wh_op', ['platform.*'])]);
    const about = { id: 'wh_a', name: 'A' };

    const first = await events.publish('platform.circuit.opened', about, {}, { key: 'k' });
    const again = await events.publish('platform.circuit.opened', about, {}, { key: 'k' });
    const other = await events.publish('platform.circuit.closed', about, {}, { key: 'k' });

    expect(again.eventId).toBe(first.eventId);
    expect(other.eventId).not.toBe(first.eventId);
    const ids = queue.jobs.map((j) => (j.kind === 'deliver' ? j.notificationId : ''));
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('publishes nothing for an occurrence caused by an operational delivery', async () => {
    const { events, queue } = await setup([definition('wh_op', ['platform.*'])]);

    const result = await events.publish(
      'platform.notification.failed',
      { id: 'wh_a', name: 'A', events: ['*'] },
      {},
      { causedByOperational: true },
    );

    expect(result).toEqual({ eventId: undefined, notifications: 0 });
    expect(queue.jobs).toHaveLength(0);
  });

  it('publishes nothing about a webhook that takes only operational events (its deliveries are all operational)', async () => {
    const { events, queue } = await setup([
      definition('wh_op', ['platform.*']),
      definition('wh_op2', ['platform.circuit.opened']),
    ]);

    await events.publish('platform.circuit.opened', definition('wh_op2', ['platform.*']));

    expect(queue.jobs).toHaveLength(0);
  });

  it('operational events reach no "*" subscriber', async () => {
    const { events, queue } = await setup([definition('wh_all', ['*'])]);

    await events.publish('platform.webhook.disabled', { id: 'wh_x', name: 'X' });

    expect(queue.jobs).toHaveLength(0);
  });
});

describe('producers and platform types', () => {
  it('POST /events refuses a platform type with RESERVED_EVENT_TYPE and queues nothing', async () => {
    const webhooks = new MemoryWebhookStore();
    await webhooks.put(definition('wh_op', ['platform.*']));
    const queue = new MemoryDeliveryQueue();
    const ingest = new IngestService({ webhooks, queue, clock });

    const err = await ingest
      .ingest({ type: 'platform.circuit.opened', data: { webhookId: 'wh_x' } })
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ReservedEventTypeError);
    expect((err as ReservedEventTypeError).code).toBe('RESERVED_EVENT_TYPE');
    expect(queue.jobs).toHaveLength(0);
  });

  it('names the index of a reserved type in a batch', () => {
    const { events, batch } = parseEvents(
      {
        events: [
          { type: 'OK', data: {} },
          { type: 'platform.anything', data: {} },
        ],
      },
      now,
    );
    let err: unknown;
    try {
      refuseReservedTypes(events, batch);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReservedEventTypeError);
    expect((err as ReservedEventTypeError).details).toEqual([
      expect.objectContaining({ index: 1, path: 'events[1].type' }),
    ]);
  });

  it('a producer type that merely contains "platform" is accepted', () => {
    const { events, batch } = parseEvents({ type: 'my.platform.thing', data: {} }, now);
    expect(() => refuseReservedTypes(events, batch)).not.toThrow();
  });

  it('jobs carry the definition version they were matched against', () => {
    const jobs = jobsForEvent([definition('wh_a', ['*'], { version: 7 })], {
      id: 'e',
      type: 'T',
      occurredAt: now.toISOString(),
      data: {},
    });
    expect(jobs[0]).toMatchObject({ webhookId: 'wh_a', webhookVersion: 7 });
  });
});

describe('platform.notification.failed from the delivery engine', () => {
  async function engine(defs: WebhookDefinition[]) {
    const { webhooks, queue, events } = await setup(defs);
    const notifications = new MemoryNotificationStore();
    const service = new DeliveryService({
      webhooks,
      notifications,
      payloads: new MemoryPayloadStore(),
      resendJobs: new MemoryResendJobStore(),
      queue,
      scheduler: { start: async () => {} },
      sender: {
        send: async () => {
          throw new Error('no sends in this test');
        },
      },
      renderer: undefined as never,
      clock,
      observer: SILENT_DELIVERY_OBSERVER,
      settings: { schedule: [1, 1, 1, 1, 1], timeScale: 1, retentionDays: 1 },
      operationalEvents: events,
    });
    const waiting = async (id: string, webhookId: string, eventType: string) => {
      await notifications.create(
        {
          id,
          webhookId,
          eventId: `evt_${id}`,
          eventType,
          createdAt: now.toISOString(),
          status: 'WAITING',
          failureReason: 'INVALID_HTTP_RESPONSE',
          attempts: [
            {
              number: 6,
              trigger: 'retry',
              startedAt: now.toISOString(),
              durationMs: 3,
              statusCode: 503,
              outcome: 'FAILED',
              error: 'INVALID_HTTP_RESPONSE',
              responseBody: '',
            },
          ],
          nextAttemptAt: null,
        },
        0,
      );
    };
    return { service, queue, notifications, waiting };
  }

  it('retries exhausted: the operator webhook gets it, the failing webhook does not, then the notification is FAILED', async () => {
    const { service, queue, notifications, waiting } = await engine([
      definition('wh_failing', ['LOAN']),
      definition('wh_op', ['platform.*']),
    ]);
    await waiting('ntf_a', 'wh_failing', 'LOAN');

    await service.markFailed('ntf_a');

    expect(deliverTargets(queue.jobs)).toEqual(['wh_op']);
    const job = queue.jobs[0] as Extract<DeliveryJob, { kind: 'deliver' }>;
    expect(job.event.type).toBe('platform.notification.failed');
    expect(job.event.data).toEqual({
      webhookId: 'wh_failing',
      webhookName: 'webhook wh_failing',
      notificationId: 'ntf_a',
      eventId: 'evt_ntf_a',
      eventType: 'LOAN',
      failureReason: 'INVALID_HTTP_RESPONSE',
      // Counted by attempt number (the record shown holds its sixth attempt only).
      attempts: 6,
      lastStatusCode: 503,
    });
    expect((await notifications.get('ntf_a'))?.status).toBe('FAILED');
  });

  it('a failed operational delivery publishes nothing (no loops)', async () => {
    const { service, queue, notifications, waiting } = await engine([
      definition('wh_op', ['platform.*']),
      definition('wh_op2', ['platform.*']),
    ]);
    await waiting('ntf_b', 'wh_op', 'platform.circuit.opened');

    await service.markFailed('ntf_b');

    expect(queue.jobs).toHaveLength(0);
    expect((await notifications.get('ntf_b'))?.status).toBe('FAILED');
  });

  it('a failed operational delivery to a webhook that also takes producer events publishes nothing either', async () => {
    const { service, queue, notifications, waiting } = await engine([
      definition('wh_mixed', ['LOAN', 'platform.*']),
      definition('wh_op2', ['platform.*']),
    ]);
    await waiting('ntf_m', 'wh_mixed', 'platform.circuit.opened');
    await waiting('ntf_l', 'wh_mixed', 'LOAN');

    await service.markFailed('ntf_m');
    expect(queue.jobs).toHaveLength(0);
    expect((await notifications.get('ntf_m'))?.status).toBe('FAILED');

    // Its producer notifications failing is news for the other operator webhook.
    await service.markFailed('ntf_l');
    expect(deliverTargets(queue.jobs)).toEqual(['wh_op2']);
  });

  it('a notification no longer WAITING publishes nothing', async () => {
    const { service, queue, waiting, notifications } = await engine([
      definition('wh_failing', ['LOAN']),
      definition('wh_op', ['platform.*']),
    ]);
    await waiting('ntf_c', 'wh_failing', 'LOAN');
    await notifications.setStatus('ntf_c', {
      status: 'SENT',
      failureReason: null,
      nextAttemptAt: null,
    });

    await service.markFailed('ntf_c');

    expect(queue.jobs).toHaveLength(0);
  });
});

describe('operational events from destination health', () => {
  async function gateFor(defs: WebhookDefinition[]) {
    const { webhooks, queue, events } = await setup(defs);
    const gate = new HealthGate({
      store: new MemoryHealthStore(),
      scheduler: { startDriver: async () => {} },
      clock,
      settings: DEFAULT_HEALTH_SETTINGS,
      observer: SILENT_HEALTH_OBSERVER,
      events,
      webhooks,
    });
    const failure: Attempt = {
      number: 1,
      trigger: 'initial',
      startedAt: now.toISOString(),
      durationMs: 3,
      statusCode: 500,
      outcome: 'FAILED',
      error: 'INVALID_HTTP_RESPONSE',
      responseBody: '',
    };
    const openCircuit = async (webhookId: string) => {
      for (let i = 0; i < DEFAULT_HEALTH_SETTINGS.openAfterConsecutiveFailures; i++)
        await gate.observe(webhookId, failure);
      expect((await gate.current(webhookId, true))?.state).toBe('OPEN');
    };
    return { queue, openCircuit };
  }

  it('a circuit opening tells the operator webhooks, not the webhook it is about', async () => {
    const { queue, openCircuit } = await gateFor([
      definition('wh_failing', ['LOAN', 'platform.*']),
      definition('wh_op', ['platform.circuit.opened']),
    ]);

    await openCircuit('wh_failing');

    expect(deliverTargets(queue.jobs)).toEqual(['wh_op']);
  });

  it('the circuit of a webhook that takes only operational events opens without publishing (no loops)', async () => {
    const { queue, openCircuit } = await gateFor([
      definition('wh_op', ['platform.*']),
      definition('wh_op2', ['platform.*']),
    ]);

    await openCircuit('wh_op');

    expect(queue.jobs).toHaveLength(0);
  });
});
