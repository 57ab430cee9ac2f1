/**
 * Fairness between destinations, end to end in local mode (HTTP API only, receivers on
 * 127.0.0.1): a quiet webhook's notifications go out while a slow webhook works through its
 * backlog, and nothing of either is dropped.
 */
import { eventually } from '../support/eventually';
import { ok, type Receiver } from '../support/receivers';
import { definitionFor, useLocalMode } from './helpers';

jest.setTimeout(240_000);

const SLOW_BACKLOG = 30;
const QUIET = 10;

describe('local mode keeps a slow webhook from delaying the others', () => {
  const { api, receiver } = useLocalMode({ DEFINITION_CACHE_TTL_SECONDS: '0' });

  async function webhook(target: Receiver, type: string, extra: Record<string, unknown> = {}) {
    const res = await api.post(
      '/webhooks',
      definitionFor(target.url, { events: [type], ...extra }),
    );
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  async function publish(type: string, count: number, prefix: string): Promise<void> {
    const events = Array.from({ length: count }, (_, i) => ({
      type,
      data: { loanId: `${prefix}-${i}`, amount: i },
    }));
    const res = await api.post('/events', { events });
    expect(res.status).toBe(202);
  }

  async function allSent(webhookId: string, count: number): Promise<string[]> {
    return eventually(
      async () => {
        const res = await api.get(`/notifications?webhookId=${webhookId}&limit=100`);
        const items = (res.body.items ?? []) as { id: string; status: string }[];
        return items.length === count && items.every((n) => n.status === 'SENT')
          ? items.map((n) => n.id)
          : undefined;
      },
      { timeoutMs: 180_000, what: `${count} notifications of ${webhookId} to be SENT` },
    );
  }

  it("delivers every quiet notification before the slow webhook's backlog is through, and drops nothing", async () => {
    // A receiver that takes its time with every request (half a second) and one that answers at once.
    let inFlight = 0;
    let mostInFlight = 0;
    const slow = await receiver(async () => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 500));
      inFlight--;
      return { status: 200, body: 'ok' };
    });
    const quiet = await receiver(ok());
    const slowHook = await webhook(slow, 'FAIR_SLOW', { maxConcurrency: 2 });
    const quietHook = await webhook(quiet, 'FAIR_QUIET');

    await publish('FAIR_SLOW', SLOW_BACKLOG, 'S');
    await publish('FAIR_QUIET', QUIET, 'Q');
    const slowIds = await allSent(slowHook, SLOW_BACKLOG);
    const quietIds = await allSent(quietHook, QUIET);

    // Order of completion: the quiet webhook's last request came before the slow one's last.
    const lastQuiet = Math.max(...quiet.requests.map((r) => r.at));
    const lastSlow = Math.max(...slow.requests.map((r) => r.at));
    expect(lastQuiet).toBeLessThan(lastSlow);
    // Nothing dropped: every notification reached its receiver (at least once).
    const seen = (r: Receiver) => new Set(r.requests.map((q) => String(q.headers['webhook-id'])));
    expect([...seen(slow)].sort()).toEqual([...slowIds].sort());
    expect([...seen(quiet)].sort()).toEqual([...quietIds].sort());
    // The cap held: the slow receiver never had more than 2 requests at once.
    expect(mostInFlight).toBeLessThanOrEqual(2);
  });
});
