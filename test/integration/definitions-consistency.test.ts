/**
 * A saved definition is in force for the very next event (README "Webhook definitions"):
 * the api handler writes definitions to DynamoDB Local while a separate ingest handler, with
 * its cache warm and a TTL of an hour, matches events published right after each save.
 */
import { DynamoWebhookStore } from '../../lambdas/adapters/dynamo-stores';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-queue';
import { createIngestHandler } from '../../lambdas/handlers/ingest';
import { standInCipher } from '../../local/standins';
import { apiHandlerFor, captureLogs, drainQueue } from '../support/api-harness';
import { client } from '../support/apigw';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const HOUR_MS = 3_600_000;

/** Counts the store reads ingestion makes, to show the cached set is reused. */
class CountingStore extends DynamoWebhookStore {
  lists = 0;
  revisions = 0;
  override list() {
    this.lists += 1;
    return super.list();
  }
  override revision() {
    this.revisions += 1;
    return super.revision();
  }
}

function setup() {
  const s = standIns();
  const api = client(apiHandlerFor(s).handler);
  const store = new CountingStore(s.clients.dynamo, s.tables.webhooks, standInCipher(s));
  const ingest = client(
    createIngestHandler({
      stores: { webhooks: store },
      queue: new SqsDeliveryQueue(s.clients.sqs, s.queueUrl),
      clock: { now: () => new Date() },
      config: { definitionCacheTtlMs: HOUR_MS },
      logger: captureLogs(),
    }),
  );
  const publish = async (type: string, data: Record<string, unknown> = {}) => {
    const res = await ingest.post('/events', { type, data });
    expect(res.status).toBe(202);
    return res.body.notifications as number;
  };
  return { api, store, publish };
}

afterEach(async () => {
  await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
});

describe('publish right after a save, cache warm, TTL one hour', () => {
  it('create, replace, disable, enable and delete each apply to the next event, round after round', async () => {
    const { api, publish } = setup();
    await publish('WARM_UP'); // the cache holds a set from before every save below

    for (let round = 0; round < 8; round++) {
      const a = `CREATED_${round}`;
      const b = `REPLACED_${round}`;
      const created = await api.post('/webhooks', {
        name: `round ${round}`,
        events: [a],
        url: 'https://receiver.example/hook',
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect(await publish(a)).toBe(1);

      const definition = { name: `round ${round}`, url: 'https://receiver.example/hook' };
      expect((await api.put(`/webhooks/${id}`, { ...definition, events: [b] })).status).toBe(200);
      expect(await publish(a)).toBe(0);
      expect(await publish(b)).toBe(1);

      const disabled = { ...definition, events: [b], enabled: false };
      expect((await api.put(`/webhooks/${id}`, disabled)).status).toBe(200);
      expect(await publish(b)).toBe(0);

      expect((await api.put(`/webhooks/${id}`, { ...disabled, enabled: true })).status).toBe(200);
      expect(await publish(b)).toBe(1);

      expect((await api.delete(`/webhooks/${id}`)).status).toBe(204);
      expect(await publish(b)).toBe(0);
    }
  }, 120_000);

  it('reuses the cached set while no definition changed: one revision read per call, one scan', async () => {
    const { api, store, publish } = setup();
    const created = await api.post('/webhooks', {
      name: 'steady',
      events: ['STEADY'],
      url: 'https://receiver.example/hook',
    });
    expect(created.status).toBe(201);

    for (let i = 0; i < 5; i++) expect(await publish('STEADY')).toBe(1);
    expect(store.revisions).toBe(5);
    expect(store.lists).toBe(1);

    await api.delete(`/webhooks/${created.body.id as string}`);
    expect(await publish('STEADY')).toBe(0);
    expect(store.lists).toBe(2);
  });

  it('the revision item is not a definition: not listed, not readable, not deletable', async () => {
    const { api, publish } = setup();
    await api.post('/webhooks', { name: 'x', events: ['X'], url: 'https://receiver.example/' });
    await publish('X');

    const listed = await api.get('/webhooks');
    expect(listed.body.items.map((w: { id: string }) => w.id)).not.toContain('#revision');
    expect((await api.get(`/webhooks/${encodeURIComponent('#revision')}`)).status).toBe(404);
    expect((await api.delete(`/webhooks/${encodeURIComponent('#revision')}`)).status).toBe(404);
    const body = { name: 'x', events: ['X'], url: 'https://receiver.example/' };
    expect((await api.put(`/webhooks/${encodeURIComponent('#revision')}`, body)).status).toBe(404);
  });

  it('concurrent saves all land and each bumps the revision', async () => {
    const s = standIns();
    const store = new DynamoWebhookStore(s.clients.dynamo, s.tables.webhooks, standInCipher(s));
    const { api } = setup();
    const before = await store.revision();

    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api.post('/webhooks', { name: `c${i}`, events: ['C'], url: 'https://receiver.example/' }),
      ),
    );

    expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(await store.revision()).toBe(before + 6);
  });
});
