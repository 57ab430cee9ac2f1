/**
 * A single resend to a webhook that is disabled or deleted is refused by the api handler with
 * 409 WEBHOOK_DISABLED: nothing is queued and the notification is unchanged. DynamoDB Local and
 * fauxqs, as the api Lambda reads and queues on AWS.
 */
import { notificationIdFor } from '../../lambdas/core/ids';
import { apiHandlerFor, drainQueue, storesFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { notification, webhookDefinition } from '../support/history';
import { useStandIns } from '../support/standins';

const standIns = useStandIns({ prefix: 'rd-' });
const queued = (wait = 1) => drainQueue(standIns().clients.sqs, standIns().queueUrl, wait);
const api = () => client(apiHandlerFor(standIns()).handler);

const ENABLED = 'wh_ENABLEDAAAAAAAAAAAAAAAAAA';
const DISABLED = 'wh_DISABLEDAAAAAAAAAAAAAAAAA';
const DELETED = 'wh_DELETEDAAAAAAAAAAAAAAAAAA';
const ids = Object.fromEntries(
  [ENABLED, DISABLED, DELETED].map((webhookId) => [webhookId, notificationIdFor(webhookId, 'e1')]),
);

beforeAll(async () => {
  const stores = storesFor(standIns());
  await stores.webhooks.put(webhookDefinition(ENABLED));
  await stores.webhooks.put({ ...webhookDefinition(DISABLED), enabled: false });
  await stores.webhooks.put(webhookDefinition(DELETED));
  expect(await stores.webhooks.delete(DELETED)).toBe(true);
  for (const [webhookId, id] of Object.entries(ids)) {
    await stores.payloads.putOnce(
      id,
      { method: 'POST', url: 'https://example.com/hook', headers: {}, body: '{}' },
      2_000_000_000,
    );
    await stores.notifications.create(
      notification(id, {
        webhookId,
        status: 'SENT',
        attempts: [
          {
            number: 1,
            trigger: 'initial',
            startedAt: '2026-11-28T10:00:00.100Z',
            durationMs: 12,
            statusCode: 200,
            outcome: 'SENT',
            error: null,
            responseBody: 'ok',
          },
        ],
      }),
      2_000_000_000,
    );
  }
});

afterEach(async () => {
  await queued(0);
});

it.each([
  ['disabled', DISABLED, /is disabled/],
  ['deleted', DELETED, /was deleted/],
])(
  'refuses to resend to a %s webhook with 409 WEBHOOK_DISABLED, queues nothing and leaves the notification as it was',
  async (_, webhookId, message) => {
    const id = ids[webhookId]!;
    const before = await api().get(`/notifications/${id}`);
    const res = await api().post(`/notifications/${id}/resend`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('WEBHOOK_DISABLED');
    expect(res.body.error.message).toMatch(message);
    expect(await queued()).toEqual([]);
    expect(await api().get(`/notifications/${id}`)).toEqual(before);
  },
);

it('queues the resend of a notification whose webhook is enabled', async () => {
  const id = ids[ENABLED]!;
  const res = await api().post(`/notifications/${id}/resend`);
  expect(res.status).toBe(202);
  expect(await queued()).toEqual([
    { kind: 'resend', notificationId: id, webhookId: ENABLED, resendId: expect.any(String) },
  ]);
});
