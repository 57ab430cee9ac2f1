/**
 * Conditions, preview matching, the event-type catalogue and reserved platform types through
 * the api and ingest handlers, with definitions in DynamoDB Local and jobs on the fauxqs queue.
 */
import { DynamoEventTypeStore } from '../../lambdas/adapters/dynamo-stores';
import { apiHandlerFor, drainQueue, ingestHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const HOUR_MS = 3_600_000;

const bigLoans = {
  name: 'Big loans',
  events: ['LOAN_DISBURSEMENT'],
  url: 'https://ledger.example.com/loans/{{ data.loanId }}',
  conditions: {
    match: 'all',
    rules: [
      { field: 'data.amount', op: 'gte', value: 1000 },
      { field: 'data.currency', op: 'in', value: ['EUR', 'USD'] },
    ],
  },
};

function setup() {
  const api = client(apiHandlerFor(standIns()).handler);
  const ingest = client(ingestHandlerFor(standIns(), { definitionCacheTtlMs: HOUR_MS }).handler);
  const publish = async (type: string, data: Record<string, unknown>) => {
    const res = await ingest.post('/events', { type, data });
    expect(res.status).toBe(202);
    return res.body.notifications as number;
  };
  return { api, ingest, publish };
}

afterEach(async () => {
  await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
});

describe('conditions', () => {
  it('are stored, shown, and decide at ingest whether an event creates a notification', async () => {
    const { api, publish } = setup();
    const created = await api.post('/webhooks', bigLoans);
    expect(created.status).toBe(201);
    expect(created.body.conditions).toEqual(bigLoans.conditions);
    const id = created.body.id as string;
    expect((await api.get(`/webhooks/${id}`)).body.conditions).toEqual(bigLoans.conditions);

    expect(
      await publish('LOAN_DISBURSEMENT', { loanId: 'L1', amount: 5000, currency: 'EUR' }),
    ).toBe(1);
    expect(await publish('LOAN_DISBURSEMENT', { loanId: 'L2', amount: 500, currency: 'EUR' })).toBe(
      0,
    );
    expect(
      await publish('LOAN_DISBURSEMENT', { loanId: 'L3', amount: 5000, currency: 'GBP' }),
    ).toBe(0);
    expect(
      await publish('LOAN_DISBURSEMENT', { loanId: 'L4', amount: '5000', currency: 'EUR' }),
    ).toBe(0);
    expect(await publish('LOAN_DISBURSEMENT', { loanId: 'L5', currency: 'EUR' })).toBe(0);
    const jobs = await drainQueue(standIns().clients.sqs, standIns().queueUrl);
    expect(jobs.map((j) => (j.kind === 'deliver' ? j.event.data.loanId : null))).toEqual(['L1']);

    // Replaced with "any", and then without conditions: each applies to the next event.
    const anyRule = { ...bigLoans, conditions: { ...bigLoans.conditions, match: 'any' } };
    expect((await api.put(`/webhooks/${id}`, anyRule)).status).toBe(200);
    expect(
      await publish('LOAN_DISBURSEMENT', { loanId: 'L6', amount: 5000, currency: 'GBP' }),
    ).toBe(1);
    const { conditions: _c, ...plain } = bigLoans;
    const replaced = await api.put(`/webhooks/${id}`, plain);
    expect(replaced.body.conditions).toBeNull();
    expect(await publish('LOAN_DISBURSEMENT', { loanId: 'L7', amount: 1 })).toBe(1);
    await api.delete(`/webhooks/${id}`);
  });

  it('bad rules are a 400 INVALID_CONDITIONS naming each rule index and reason; nothing is stored', async () => {
    const { api } = setup();
    const before = (await api.get('/webhooks')).body.items.length;

    const res = await api.post('/webhooks', {
      ...bigLoans,
      conditions: {
        match: 'all',
        rules: [
          { field: 'data.amount', op: 'gte', value: 1000 },
          { field: 'data.currency', op: 'like', value: 'E%' },
          { field: 'amount', op: 'eq', value: 1 },
          { field: 'data.currency', op: 'in', value: 'EUR' },
          { field: 'data.flag', op: 'exists', value: 'yes' },
        ],
      },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_CONDITIONS');
    expect(res.body.error.details).toEqual([
      expect.objectContaining({ index: 1, reason: 'UNKNOWN_OP', path: 'conditions.rules[1].op' }),
      expect.objectContaining({
        index: 2,
        reason: 'INVALID_FIELD',
        path: 'conditions.rules[2].field',
      }),
      expect.objectContaining({
        index: 3,
        reason: 'INVALID_VALUE',
        path: 'conditions.rules[3].value',
      }),
      expect.objectContaining({
        index: 4,
        reason: 'INVALID_VALUE',
        path: 'conditions.rules[4].value',
      }),
    ]);
    const tooMany = await api.post('/webhooks', {
      ...bigLoans,
      conditions: {
        match: 'any',
        rules: Array.from({ length: 21 }, () => bigLoans.conditions.rules[0]),
      },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details).toEqual([
      expect.objectContaining({ reason: 'TOO_MANY_RULES', path: 'conditions.rules' }),
    ]);
    expect((await api.get('/webhooks')).body.items.length).toBe(before);
  });

  it('numbers DynamoDB cannot store are a 400 naming the rule, on create and replace; the range edges are stored exactly', async () => {
    const { api } = setup();
    const before = (await api.get('/webhooks')).body.items.length;
    const withRule = (rule: Record<string, unknown>) => ({
      ...bigLoans,
      conditions: { match: 'all', rules: [bigLoans.conditions.rules[0], rule] },
    });
    const refused: [Record<string, unknown>, string][] = [
      [{ field: 'data.a', op: 'eq', value: 1e300 }, 'conditions.rules[1].value'],
      [{ field: 'data.a', op: 'eq', value: 1e308 }, 'conditions.rules[1].value'],
      [{ field: 'data.a', op: 'gte', value: -1e126 }, 'conditions.rules[1].value'],
      [{ field: 'data.a', op: 'lt', value: 1e-300 }, 'conditions.rules[1].value'],
      [{ field: 'data.a', op: 'in', value: ['EUR', 1e300] }, 'conditions.rules[1].value[1]'],
      [{ field: 'data.a', op: 'nin', value: [1, 1e-300] }, 'conditions.rules[1].value[1]'],
    ];
    for (const [rule, path] of refused) {
      const res = await api.post('/webhooks', withRule(rule));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([
        expect.objectContaining({ index: 1, reason: 'INVALID_VALUE', path }),
      ]);
    }
    expect((await api.get('/webhooks')).body.items.length).toBe(before);

    const edges = [1e-130, -1e-130, 9.999999999999998e125, -9.999999999999998e125, 0];
    const created = await api.post(
      '/webhooks',
      withRule({ field: 'data.a', op: 'in', value: edges }),
    );
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await api.get(`/webhooks/${id}`)).body.conditions.rules[1].value).toEqual(edges);
    const replaced = await api.put(
      `/webhooks/${id}`,
      withRule({ field: 'data.a', op: 'eq', value: 1e300 }),
    );
    expect(replaced.status).toBe(400);
    expect(replaced.body.error.details).toEqual([
      expect.objectContaining({ path: 'conditions.rules[1].value' }),
    ]);
    expect((await api.get(`/webhooks/${id}`)).body.conditions.rules[1].value).toEqual(edges);
  });

  it('with other problems too, every problem comes under VALIDATION_ERROR', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', {
      ...bigLoans,
      name: '',
      conditions: { match: 'all', rules: [{ field: 'x', op: 'eq', value: 1 }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'name' }),
        expect.objectContaining({ index: 0, reason: 'INVALID_FIELD' }),
      ]),
    );
  });

  it('preview answers whether the sample event matches and which rules failed', async () => {
    const { api } = setup();
    const id = (await api.post('/webhooks', bigLoans)).body.id as string;

    const yes = await api.post(`/webhooks/${id}/preview`, {
      data: { loanId: 'L1', amount: 2000, currency: 'USD' },
    });
    expect(yes.status).toBe(200);
    expect(yes.body).toMatchObject({
      url: 'https://ledger.example.com/loans/L1',
      matches: true,
      subscribed: true,
      failedRules: [],
    });

    const no = await api.post(`/webhooks/${id}/preview`, {
      data: { loanId: 'L1', amount: 20, currency: 'CHF' },
    });
    expect(no.body).toMatchObject({
      matches: false,
      subscribed: true,
      failedRules: [
        { index: 0, field: 'data.amount', op: 'gte' },
        { index: 1, field: 'data.currency', op: 'in' },
      ],
    });

    const otherType = await api.post(`/webhooks/${id}/preview`, {
      type: 'LOAN_REPAID',
      data: { loanId: 'L1', amount: 2000, currency: 'USD' },
    });
    expect(otherType.body).toMatchObject({ matches: false, subscribed: false, failedRules: [] });
    await api.delete(`/webhooks/${id}`);
  });
});

describe('GET /event-types', () => {
  it('lists the types producers published with first and last seen and the subscribers', async () => {
    const started = new Date().toISOString();
    const { api, publish } = setup();
    const a = (
      await api.post('/webhooks', { name: 'a', events: ['CATALOGUE_A'], url: 'https://x.example/' })
    ).body.id;
    const all = (
      await api.post('/webhooks', { name: 'all', events: ['*'], url: 'https://x.example/' })
    ).body.id;

    await publish('CATALOGUE_A', {});
    await publish('CATALOGUE_B', {});
    await publish('CATALOGUE_A', {});

    const res = await api.get('/event-types');
    expect(res.status).toBe(200);
    const items = (
      res.body.items as { type: string; firstSeenAt: string; lastSeenAt: string }[]
    ).filter((i) => i.type.startsWith('CATALOGUE_'));
    expect(items).toEqual([
      {
        type: 'CATALOGUE_A',
        firstSeenAt: expect.any(String),
        lastSeenAt: expect.any(String),
        webhooks: 2,
      },
      {
        type: 'CATALOGUE_B',
        firstSeenAt: expect.any(String),
        lastSeenAt: expect.any(String),
        webhooks: 1,
      },
    ]);
    for (const item of items) {
      expect(item.firstSeenAt >= started).toBe(true);
      expect(item.lastSeenAt >= item.firstSeenAt).toBe(true);
    }
    await api.delete(`/webhooks/${a}`);
    await api.delete(`/webhooks/${all}`);
  });

  it('the DynamoDB catalogue keeps the first sighting and never moves lastSeenAt back', async () => {
    const s = standIns();
    const store = new DynamoEventTypeStore(s.clients.dynamo, s.tables.eventTypes);

    await store.record('ORDERED', '2026-12-03T07:00:00.000Z');
    await store.record('ORDERED', '2026-12-03T09:00:00.000Z');
    await store.record('ORDERED', '2026-12-03T08:00:00.000Z');

    expect((await store.list()).find((t) => t.type === 'ORDERED')).toEqual({
      type: 'ORDERED',
      firstSeenAt: '2026-12-03T07:00:00.000Z',
      lastSeenAt: '2026-12-03T09:00:00.000Z',
    });
  });
});

describe('platform event types', () => {
  it('producers cannot publish them: 400 RESERVED_EVENT_TYPE, nothing queued, not catalogued', async () => {
    const { api, ingest } = setup();
    await api.post('/webhooks', { name: 'ops', events: ['platform.*'], url: 'https://x.example/' });

    const res = await ingest.post('/events', {
      type: 'platform.webhook.disabled',
      data: { webhookId: 'wh_x' },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('RESERVED_EVENT_TYPE');
    expect(await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0)).toEqual([]);
    const types = (await api.get('/event-types')).body.items.map((i: { type: string }) => i.type);
    expect(types).not.toContain('platform.webhook.disabled');
  });

  it('a definition may subscribe to platform.* and the known types only', async () => {
    const { api } = setup();
    const ok = await api.post('/webhooks', {
      name: 'ops',
      events: ['platform.*', 'platform.circuit.opened'],
      url: 'https://x.example/',
    });
    expect(ok.status).toBe(201);
    const bad = await api.post('/webhooks', {
      name: 'ops',
      events: ['platform.circuit.exploded'],
      url: 'https://x.example/',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([expect.objectContaining({ path: 'events[0]' })]);
  });
});
