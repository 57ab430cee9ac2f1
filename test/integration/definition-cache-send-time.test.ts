/**
 * What a delivery adds at send time (signature, Basic Auth) and whether it sends at all follow
 * the definition as saved, even when the delivery engine reads definitions through the cache
 * (CachedWebhookStore, as the delivery and attempt Lambdas do) and that cache is warm with an
 * older version: a resend or a retry after a rotation, a replaced secret or password, a disable
 * or a delete uses what the API saved last. The api handler and the delivery engine each have
 * their own store, as separate Lambdas do; the cache's TTL is an hour, so only its check of the
 * definitions revision can make it current.
 */
import type { RetryStart } from '../../lambdas/core/retry-contract';
import { apiHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { deliverJob, event, useDeliveryHarness } from '../support/delivery-harness';
import { always, ok, type ReceivedRequest } from '../support/receivers';
import { libraryAccepts } from '../support/signatures';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const HOUR_MS = 3_600_000;

/** Retries are started by hand in these tests: the scheduler only records them. */
const started: RetryStart[] = [];

describe('send-time headers and enablement through a warm definition cache', () => {
  const { harness, receiver } = useDeliveryHarness(standIns, {
    definitionCacheTtlMs: HOUR_MS,
    scheduler: { start: async (input) => void started.push(input) },
  });
  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.setBehaviour(ok());
    started.length = 0;
  });

  /** The api on the real clock, as the delivery engine is (grace periods start now). */
  const api = () => {
    const h = apiHandlerFor(standIns());
    h.clock.advance(Date.now() - h.clock.now().getTime());
    return client(h.handler);
  };

  /** Creates a webhook through the api; its first delivery warms the engine's cache. */
  async function webhookDelivered(extra: Record<string, unknown>) {
    const created = await api().post('/webhooks', {
      name: 'cached',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/cached`,
      ...extra,
    });
    expect(created.status).toBe(201);
    const def = (await harness.webhooks.get(created.body.id))!;
    const job = { ...deliverJob(def, event({ loanId: 'L-1' })), webhookVersion: def.version };
    await harness.service.handleJob(job);
    expect(receiver.requests).toHaveLength(1);
    receiver.requests.length = 0;
    return {
      id: created.body.id as string,
      body: created.body,
      notificationId: job.notificationId,
    };
  }

  async function resend(notificationId: string, webhookId: string): Promise<ReceivedRequest> {
    await harness.service.handleJob({ kind: 'resend', notificationId, webhookId });
    expect(receiver.requests).toHaveLength(1);
    return receiver.requests[0]!;
  }

  it('a resend after a rotation without grace is signed with the new secret only', async () => {
    const { id, body, notificationId } = await webhookDelivered({ signingSecret: 'generate' });
    const rotated = await api().post(`/webhooks/${id}/signing-secrets/rotate`, { graceHours: 0 });
    expect(rotated.status).toBe(200);

    const req = await resend(notificationId, id);

    expect(libraryAccepts(rotated.body.secret, req)).toBe(true);
    expect(libraryAccepts(body.signingSecret, req)).toBe(false);
  });

  it('a resend after a rotation with grace carries the old and the new signature', async () => {
    const { id, body, notificationId } = await webhookDelivered({ signingSecret: 'generate' });
    const rotated = await api().post(`/webhooks/${id}/signing-secrets/rotate`, { graceHours: 1 });

    const req = await resend(notificationId, id);

    expect(String(req.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(libraryAccepts(rotated.body.secret, req)).toBe(true);
    expect(libraryAccepts(body.signingSecret, req)).toBe(true);
  });

  it('a resend after a PUT that replaced the Basic Auth password sends the new password', async () => {
    const { id, body, notificationId } = await webhookDelivered({
      auth: { type: 'basic', username: 'svc', password: 'old-password' },
    });
    const replaced = await api().put(`/webhooks/${id}`, {
      ...body,
      auth: { type: 'basic', username: 'svc', password: 'new-password' },
    });
    expect(replaced.status).toBe(200);

    const req = await resend(notificationId, id);

    expect(req.headers.authorization).toBe(
      `Basic ${Buffer.from('svc:new-password').toString('base64')}`,
    );
  });

  it('a retry after a rotation without grace is signed with the new secret only', async () => {
    receiver.setBehaviour(always(500));
    const { id, body, notificationId } = await webhookDelivered({ signingSecret: 'generate' });
    expect(started.map((s) => s.notificationId)).toEqual([notificationId]);
    const rotated = await api().post(`/webhooks/${id}/signing-secrets/rotate`, { graceHours: 0 });

    await harness.service.retry({ notificationId, retry: 1 });

    expect(receiver.requests).toHaveLength(1);
    expect(libraryAccepts(rotated.body.secret, receiver.requests[0]!)).toBe(true);
    expect(libraryAccepts(body.signingSecret, receiver.requests[0]!)).toBe(false);
  });

  it('a retry due after its webhook was deleted sends nothing and ends FAILED', async () => {
    receiver.setBehaviour(always(500));
    const { id, notificationId } = await webhookDelivered({});
    expect((await api().delete(`/webhooks/${id}`)).status).toBe(204);

    await harness.service.retry({ notificationId, retry: 1 });

    expect(receiver.requests).toHaveLength(0);
    expect(await harness.notifications.get(notificationId)).toMatchObject({
      status: 'FAILED',
      failureReason: 'WEBHOOK_DISABLED',
    });
  });
});
