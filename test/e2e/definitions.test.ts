/**
 * Local mode end to end for definitions and operational events: `npm start` in a child process
 * with a one-hour definitions cache, driven through its HTTP API, delivering to receivers on
 * 127.0.0.1. Back-off waits are scaled down (RETRY_TIME_SCALE) so retries take seconds.
 */
import { eventually } from '../support/eventually';
import { always, ok } from '../support/receivers';
import { definitionFor, useLocalMode } from './helpers';

jest.setTimeout(240_000);

describe('local mode: definitions in force at once, operational events', () => {
  const { api, receiver } = useLocalMode({
    RETRY_TIME_SCALE: '0.0005',
    DEFINITION_CACHE_TTL_SECONDS: '3600',
  });

  async function publish(type: string, data: Record<string, unknown> = {}) {
    const res = await api.post('/events', { type, data });
    expect(res.status).toBe(202);
    return res.body as { eventId: string; notifications: number };
  }

  it('every save applies to the event published right after it, with the cache warm and a one-hour TTL', async () => {
    const target = await receiver(ok());
    await publish('WARM_UP');
    for (let round = 0; round < 5; round++) {
      const type = `E2E_SAVE_${round}`;
      const created = await api.post('/webhooks', definitionFor(target.url, { events: [type] }));
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect((await publish(type, { loanId: 'L', amount: 1 })).notifications).toBe(1);

      const disabled = definitionFor(target.url, { events: [type], enabled: false });
      expect((await api.put(`/webhooks/${id}`, disabled)).status).toBe(200);
      expect((await publish(type, { loanId: 'L', amount: 1 })).notifications).toBe(0);

      const conditional = definitionFor(target.url, {
        events: [type],
        conditions: { match: 'all', rules: [{ field: 'data.amount', op: 'gte', value: 100 }] },
      });
      expect((await api.put(`/webhooks/${id}`, conditional)).status).toBe(200);
      expect((await publish(type, { loanId: 'L', amount: 1 })).notifications).toBe(0);
      expect((await publish(type, { loanId: 'L', amount: 500 })).notifications).toBe(1);

      expect((await api.call('DELETE', `/webhooks/${id}`)).status).toBe(204);
      expect((await publish(type, { loanId: 'L', amount: 500 })).notifications).toBe(0);
    }
  });

  it('an operator webhook on platform.* hears that the circuit of a failing webhook opened; the failing webhook never does', async () => {
    const failing = await receiver(always(500));
    const operator = await receiver(ok());
    const failingHook = await api.post(
      '/webhooks',
      definitionFor(failing.url, { name: 'failing', events: ['LOAN_DISBURSEMENT', 'platform.*'] }),
    );
    expect(failingHook.status).toBe(201);
    const operatorHook = await api.post('/webhooks', {
      name: 'operator',
      events: ['platform.*'],
      url: `${operator.url}/ops`,
      body: '{"type": {{ event.type | json }}, "data": {{ data | json }}}',
    });
    expect(operatorHook.status).toBe(201);
    const failingId = failingHook.body.id as string;

    const { eventId } = await publish('LOAN_DISBURSEMENT', { loanId: 'L-9', amount: 5 });
    const listed = await eventually(
      async () => {
        const res = await api.get(`/notifications?webhookId=${failingId}&limit=10`);
        return res.body.items.find((n: { eventId: string }) => n.eventId === eventId);
      },
      { timeoutMs: 60_000, what: 'the failing notification' },
    );
    // Five failed attempts in a row open the failing webhook's circuit: operators hear of it.
    const heard = await eventually(
      async () =>
        operator.requests
          .map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> })
          .find((b) => b.type === 'platform.circuit.opened'),
      { timeoutMs: 120_000, what: 'platform.circuit.opened at the operator' },
    );
    expect(heard.data).toMatchObject({ webhookId: failingId, webhookName: 'failing' });
    expect(listed.id).toEqual(expect.any(String));
    // The failing receiver got only attempts of the loan event, nothing operational.
    expect(failing.requests.length).toBeGreaterThanOrEqual(5);
    expect(failing.requests.every((r) => !r.body.includes('platform.'))).toBe(true);
    const aboutSelf = await api.get(`/notifications?webhookId=${failingId}&limit=100`);
    expect(
      aboutSelf.body.items.filter((n: { eventType: string }) =>
        n.eventType.startsWith('platform.'),
      ),
    ).toEqual([]);
    // Producers cannot forge one.
    const forged = await api.post('/events', {
      type: 'platform.notification.failed',
      data: { webhookId: failingId },
    });
    expect(forged.status).toBe(400);
    expect(forged.body.error.code).toBe('RESERVED_EVENT_TYPE');
  });
});
