import { ConcurrencyGate, type ConcurrencyLeases } from '../../lambdas/core/concurrency-gate';
import { MAX_CONCURRENCY } from '../../lambdas/core/model';

/** Lease sets in memory, counting the calls the gate makes (the writes it would cost). */
class CountingLeases implements ConcurrencyLeases {
  readonly held = new Map<string, Set<string>>();
  acquires = 0;
  releases = 0;
  private next = 0;

  async acquire(webhookId: string, cap: number): Promise<string | undefined> {
    this.acquires++;
    const set = this.held.get(webhookId) ?? new Set<string>();
    this.held.set(webhookId, set);
    if (set.size >= cap) return undefined;
    const token = `t${this.next++}`;
    set.add(token);
    return token;
  }

  async release(webhookId: string, token: string): Promise<void> {
    this.releases++;
    this.held.get(webhookId)?.delete(token);
  }

  count(webhookId: string): number {
    return this.held.get(webhookId)?.size ?? 0;
  }
}

function setup(settings: { ceiling?: number } = {}) {
  let now = 1_000_000;
  const leases = new CountingLeases();
  // Timers run when the test advances the clock past them, never by themselves.
  let timers: { at: number; fn: () => void }[] = [];
  const gate = new ConcurrencyGate(leases, {
    slowAfterMs: 1000,
    slowMemoryMs: 60_000,
    now: () => now,
    random: () => 0.5,
    setTimer: (fn, ms) => {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return () => {
        timers = timers.filter((t) => t !== timer);
      };
    },
    ...settings,
  });
  const advance = (ms: number) => {
    now += ms;
    const due = timers.filter((t) => t.at <= now);
    timers = timers.filter((t) => t.at > now);
    for (const t of due) t.fn();
    return now;
  };
  return { gate, leases, advance, pendingTimers: () => timers.length };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks a promise's outcome without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { done: boolean; value?: T } = { done: false };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

describe('the per-webhook concurrency gate', () => {
  it('leases every request of a webhook it has not seen, and turns away the one over the cap once a request proves it slow', async () => {
    const { gate, leases, advance, pendingTimers } = setup();
    const permits = await Promise.all([1, 2, 3].map(() => gate.enter('wh_a', 3)));
    expect(permits.every((p) => p !== undefined)).toBe(true);
    expect(leases.count('wh_a')).toBe(3);

    // Over the cap: it waits for a slot while no request has been in flight for slowAfterMs.
    const fourth = track(gate.enter('wh_a', 3));
    await settle();
    expect(fourth.done).toBe(false);
    // Another webhook is not affected.
    expect(await gate.enter('wh_b', 3)).toBeDefined();

    advance(999);
    await settle();
    expect(fourth.done).toBe(false);
    advance(1);
    await settle();
    expect(fourth).toEqual({ done: true, value: undefined });
    expect(pendingTimers()).toBe(0);
    expect(leases.count('wh_a')).toBe(3);

    await permits[0]!.release(1500);
    expect(leases.count('wh_a')).toBe(2);
    expect(await gate.enter('wh_a', 3)).toBeDefined();
  });

  it("lets a new webhook's first burst over the cap wait for a slot here instead of going back to the queue", async () => {
    const { gate, leases, advance, pendingTimers } = setup();
    const permits = await Promise.all([1, 2].map(() => gate.enter('wh_new', 2)));
    const waiting = [track(gate.enter('wh_new', 2)), track(gate.enter('wh_new', 2))];
    await settle();
    expect(waiting.map((w) => w.done)).toEqual([false, false]);

    advance(30);
    await permits[0]!.release(30);
    await settle();
    expect(waiting[0]!.done).toBe(true);
    expect(waiting[0]!.value).toBeDefined();
    expect(waiting[1]!.done).toBe(false);

    // Known fast now: the one still waiting gets the next slot that frees.
    advance(20);
    await permits[1]!.release(25);
    await settle();
    expect(waiting[1]!.done).toBe(true);
    expect(waiting[1]!.value).toBeDefined();
    expect(pendingTimers()).toBe(0);
    expect(leases.count('wh_new')).toBeLessThanOrEqual(2);
  });

  it('stops leasing a webhook once its requests complete fast: the happy path writes nothing', async () => {
    const { gate, leases } = setup();
    const first = await gate.enter('wh_fast', 5);
    await first!.release(20);
    const acquiresBefore = leases.acquires;

    for (let i = 0; i < 50; i++) {
      const permit = await gate.enter('wh_fast', 5);
      await permit!.release(15);
    }

    expect(leases.acquires).toBe(acquiresBefore);
    expect(leases.count('wh_fast')).toBe(0);
    // The cap still holds within this container without any shared state: a sixth request of
    // a fast webhook waits here for a slot (milliseconds) instead of going back to the queue.
    const inFlight = await Promise.all([1, 2, 3, 4, 5].map(() => gate.enter('wh_fast', 5)));
    expect(inFlight.every((p) => p !== undefined)).toBe(true);
    let sixth: unknown;
    const waiting = gate.enter('wh_fast', 5).then((p) => {
      sixth = p;
      return p;
    });
    await Promise.resolve();
    expect(sixth).toBeUndefined();
    await inFlight[0]!.release(10);
    expect(await waiting).toBeDefined();
    expect(leases.acquires).toBe(acquiresBefore);
  });

  it('leases a fast webhook again after one slow request, and for a while after it', async () => {
    const { gate, leases, advance } = setup();
    await (await gate.enter('wh_x', 5))!.release(10);
    expect(gate.isLeased('wh_x')).toBe(false);

    await (await gate.enter('wh_x', 5))!.release(3000);
    expect(gate.isLeased('wh_x')).toBe(true);
    const before = leases.acquires;
    await (await gate.enter('wh_x', 5))!.release(10);
    expect(leases.acquires).toBe(before + 1);

    advance(61_000);
    expect(gate.isLeased('wh_x')).toBe(false);
  });

  it('turns away the waiters of a fast webhook that turns slow once its request passes the threshold, rather than send them one after another', async () => {
    const { gate, advance } = setup();
    await (await gate.enter('wh_turns', 1))!.release(10);
    expect(gate.isLeased('wh_turns')).toBe(false);
    const inFlight = await gate.enter('wh_turns', 1);
    expect(inFlight).toBeDefined();
    const waiters = [1, 2, 3].map(() => track(gate.enter('wh_turns', 1)));
    await settle();
    expect(waiters.map((w) => w.done)).toEqual([false, false, false]);

    // The request in flight now takes long: past slowAfterMs every waiter goes back to the queue.
    advance(1000);
    await settle();
    expect(waiters.map((w) => [w.done, w.value])).toEqual([
      [true, undefined],
      [true, undefined],
      [true, undefined],
    ]);
    await inFlight!.release(15_000);
  });

  it('treats a request still in flight past the slow threshold as slow, before it ends', async () => {
    const { gate, advance } = setup();
    await (await gate.enter('wh_y', 5))!.release(10);
    const pending = await gate.enter('wh_y', 5);
    expect(gate.isLeased('wh_y')).toBe(false);

    advance(1500);

    expect(gate.isLeased('wh_y')).toBe(true);
    await pending!.release(1500);
  });

  it('caps every webhook at the ceiling whatever its definition says, and defaults an absent cap', () => {
    const { gate } = setup({ ceiling: 25 });
    expect(gate.capOf(100)).toBe(25);
    expect(gate.capOf(3)).toBe(3);
    expect(gate.capOf(undefined)).toBe(MAX_CONCURRENCY.default);
  });

  it('frees the local slot when taking a lease fails, so an outage of the store does not leak it', async () => {
    const leases: ConcurrencyLeases = {
      acquire: async () => {
        throw new Error('store down');
      },
      release: async () => undefined,
    };
    const gate = new ConcurrencyGate(leases);
    await expect(gate.enter('wh_z', 1)).rejects.toThrow('store down');
    await expect(gate.enter('wh_z', 1)).rejects.toThrow('store down');
  });

  it('asks the store about a lease set found full at most once per fullMemoryMs: a returning backlog writes nothing meanwhile', async () => {
    const { gate, leases, advance } = setup();
    // Other containers hold the webhook's two slots.
    await leases.acquire('wh_busy', 2);
    await leases.acquire('wh_busy', 2);
    leases.acquires = 0;

    // The backlog's jobs come back one after another (each turned away, none waiting here).
    for (let i = 0; i < 50; i++) expect(await gate.enter('wh_busy', 2)).toBeUndefined();
    expect(leases.acquires).toBe(1);
    advance(999);
    expect(await gate.enter('wh_busy', 2)).toBeUndefined();
    expect(leases.acquires).toBe(1);

    // A second later it asks again, and takes a slot another container has freed.
    advance(1);
    const [other] = [...(leases.held.get('wh_busy') ?? [])];
    await leases.release('wh_busy', other!);
    const permit = await gate.enter('wh_busy', 2);
    expect(permit).toBeDefined();
    expect(leases.acquires).toBe(2);
    expect(leases.count('wh_busy')).toBe(2);
  });

  it('asks the store again at once after returning a lease of its own, whatever it found before', async () => {
    const { gate, leases } = setup();
    const mine = await gate.enter('wh_pair', 2);
    await leases.acquire('wh_pair', 2);
    expect(await gate.enter('wh_pair', 2)).toBeUndefined();
    const asked = leases.acquires;

    await mine!.release(1500);
    expect(await gate.enter('wh_pair', 2)).toBeDefined();
    expect(leases.acquires).toBe(asked + 1);
  });

  it('sends a turned-away job back for about one request time, longer the more often it was turned away', async () => {
    const { gate } = setup();
    await (await gate.enter('wh_slow', 1))!.release(3000);
    const first = gate.deferSeconds('wh_slow', 0);
    const later = gate.deferSeconds('wh_slow', 6);
    expect(first).toBeGreaterThanOrEqual(3);
    expect(later).toBeGreaterThan(first);
    expect(gate.deferSeconds('wh_slow', 10_000)).toBeLessThanOrEqual(900);
    expect(gate.deferSeconds('wh_unknown', 0)).toBeGreaterThanOrEqual(1);
  });
});
