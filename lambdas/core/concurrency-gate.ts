/**
 * The per-webhook concurrency cap (`maxConcurrency`): how many requests may be in flight to one
 * destination at once, across every delivery Lambda. A webhook at its cap does not make a
 * Lambda wait: the job goes back to the queue for a while (see deferSeconds) and the Lambda
 * moves on to other webhooks' notifications.
 *
 * Counting across Lambdas needs shared state, and a shared counter on every request would put
 * two conditional writes on the happy path and concentrate a flooded webhook's whole request
 * rate on one DynamoDB item. So the shared count (a lease set, ConcurrencyLeases) is taken only
 * for webhooks this container has seen slow, or has not seen yet:
 * - a webhook whose requests here completed under `slowAfterMs` is "fast": no lease, nothing
 *   written. A fast receiver frees its Lambda quickly, and SQS fair queues (one message group
 *   per webhook) keep its volume from delaying the others.
 * - one request at or over `slowAfterMs` (or still in flight after it) makes the webhook "slow"
 *   here for `slowMemoryMs`: each request to it takes a lease first. A slow webhook writes at
 *   most 2 x cap / latency items per second (20/s for a cap of 10 at 1 s).
 * Within one container the count is local and exact. Across containers the cap can be exceeded
 * only by requests that started while their container still took the webhook for fast (at most
 * one batch per container, when a fast receiver turns slow).
 *
 * A lease set found full is remembered here for `fullMemoryMs` (or until a lease of this
 * container is returned): the jobs of a backlog that come back meanwhile are turned away
 * without asking the store again. Otherwise a large backlog to a slow receiver would put one
 * refused conditional write per returning job on the webhook's one lease item, thousands a
 * second, where DynamoDB throttles; now each container asks about once a second per webhook.
 */
import { MAX_CONCURRENCY } from './model';

/** The shared lease set of each webhook (DynamoDB on AWS and locally). */
export interface ConcurrencyLeases {
  /**
   * Takes one of `cap` leases of the webhook, expiring at `nowMs + ttlMs` (a Lambda that dies
   * holding one frees it that way); expired leases are swept when the set is full. Returns the
   * lease token, or undefined when `cap` unexpired leases are held.
   */
  acquire(
    webhookId: string,
    cap: number,
    nowMs: number,
    ttlMs: number,
  ): Promise<string | undefined>;
  /** Returns a lease; unknown tokens are ignored. */
  release(webhookId: string, token: string): Promise<void>;
}

export interface ConcurrencyGateSettings {
  /** A request taking this long marks its webhook slow in this container. Default 1000 ms. */
  readonly slowAfterMs?: number;
  /** How long a slow request keeps its webhook leased. Default 60 s. */
  readonly slowMemoryMs?: number;
  /**
   * Upper bound of every webhook's cap whatever its definition says: its share of the delivery
   * fleet. Default MAX_CONCURRENCY.max.
   */
  readonly ceiling?: number;
  /** Lifetime of a lease: twice the 15 s a request may take. Default 30 s. */
  readonly leaseTtlMs?: number;
  /**
   * How long a lease set found full is taken as full here without asking the store again.
   * Default slowAfterMs: a leased webhook's requests take at least that long.
   */
  readonly fullMemoryMs?: number;
  /** Webhooks remembered per container (least recently used forgotten). Default 10 000. */
  readonly maxTracked?: number;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Schedules `fn` after `ms` and returns its cancel function (default setTimeout, unref'd). */
  readonly setTimer?: (fn: () => void, ms: number) => () => void;
}

/** The webhook is at its cap: the job goes back to the queue instead of waiting (no attempt made). */
export class WebhookAtCapacityError extends Error {
  override readonly name = 'WebhookAtCapacityError';
  constructor(readonly webhookId: string) {
    super(`webhook ${webhookId} is at its concurrency cap`);
  }
}

/** A request admitted by the gate; release it when the request is over, whatever happened. */
export interface Permit {
  /** Frees the slot; `durationMs` (the request's, when one was sent) teaches the gate its speed. */
  release(durationMs?: number): Promise<void>;
}

interface WebhookState {
  /** Requests admitted in this container and not released. */
  inFlight: number;
  /** Start times of those requests (for "still in flight after slowAfterMs"). */
  readonly started: Set<{ at: number }>;
  /** Requests of a fast webhook waiting here for one of its slots. */
  readonly waiters: (() => void)[];
  /** At least one request completed here. */
  seen: boolean;
  /** Until when the webhook counts as slow here (epoch ms). */
  slowUntil: number;
  /** Moving average of request durations (ms), for how long a deferred job waits. */
  latencyMs: number;
  /** Until when the shared lease set counts as full here (epoch ms): found full, not asked again. */
  fullUntil: number;
}

/** SQS caps DelaySeconds at 15 minutes. */
const MAX_DEFER_SECONDS = 900;

export class ConcurrencyGate {
  private readonly states = new Map<string, WebhookState>();
  private readonly slowAfterMs: number;
  private readonly slowMemoryMs: number;
  private readonly ceiling: number;
  private readonly leaseTtlMs: number;
  private readonly fullMemoryMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => () => void;

  constructor(
    private readonly leases: ConcurrencyLeases,
    settings: ConcurrencyGateSettings = {},
  ) {
    this.slowAfterMs = settings.slowAfterMs ?? 1000;
    this.slowMemoryMs = settings.slowMemoryMs ?? 60_000;
    this.ceiling = Math.max(1, settings.ceiling ?? MAX_CONCURRENCY.max);
    this.leaseTtlMs = settings.leaseTtlMs ?? 30_000;
    this.fullMemoryMs = settings.fullMemoryMs ?? this.slowAfterMs;
    this.maxTracked = settings.maxTracked ?? 10_000;
    this.now = settings.now ?? Date.now;
    this.random = settings.random ?? Math.random;
    this.setTimer = settings.setTimer ?? realTimer;
  }

  /** The cap in force for a definition's maxConcurrency. */
  capOf(maxConcurrency: number | undefined): number {
    return Math.min(maxConcurrency ?? MAX_CONCURRENCY.default, this.ceiling);
  }

  /** Whether this container currently takes leases for the webhook (unknown or slow). */
  isLeased(webhookId: string): boolean {
    const state = this.states.get(webhookId);
    return state === undefined || this.leasedNow(state, this.now());
  }

  /** Admits one request to the webhook, or answers undefined when it is at its cap. */
  async enter(webhookId: string, maxConcurrency: number | undefined): Promise<Permit | undefined> {
    const cap = this.capOf(maxConcurrency);
    const state = this.stateOf(webhookId);
    // At the cap in this container: a fast webhook's slot frees within milliseconds, so wait
    // for it here, and so for a webhook not seen yet (a new partner's first burst), but only
    // until one of its requests has been in flight for slowAfterMs, which proves it slow (a
    // fast receiver that turns slow included: its waiters must not each wait for the request
    // before them). A slow webhook's job goes back to the queue rather than hold the Lambda.
    while (state.inFlight >= cap) {
      const now = this.now();
      let oldest = now;
      for (const start of state.started) oldest = Math.min(oldest, start.at);
      if (now - oldest >= this.slowAfterMs || (state.seen && this.leasedNow(state, now)))
        return undefined;
      await this.slotOrTimeout(state, oldest + this.slowAfterMs - now);
    }
    const now = this.now();
    const leased = this.leasedNow(state, now);
    // Found full a moment ago: turned away without another write to the lease item.
    if (leased && now < state.fullUntil) return undefined;
    // Counted before the await, so concurrent callers in this container see it.
    state.inFlight++;
    const start = { at: now };
    state.started.add(start);
    let token: string | undefined;
    if (leased) {
      try {
        token = await this.leases.acquire(webhookId, cap, now, this.leaseTtlMs);
      } catch (error) {
        this.forget(state, start);
        throw error;
      }
      if (token === undefined) {
        state.fullUntil = this.now() + this.fullMemoryMs;
        this.forget(state, start);
        return undefined;
      }
    }
    let released = false;
    return {
      release: async (durationMs) => {
        if (released) return;
        released = true;
        this.forget(state, start);
        if (durationMs !== undefined) this.observe(state, durationMs);
        if (token === undefined) return;
        // A lease that cannot be returned expires by itself (leaseTtlMs).
        await this.leases.release(webhookId, token).catch(() => {});
        // This container just freed a slot of the set: it may take one again at once.
        state.fullUntil = 0;
      },
    };
  }

  /**
   * How long a job turned away at the cap waits in the queue before it is tried again: about
   * one request time of the webhook, longer for a job turned away often, with jitter so the
   * jobs of a backlog do not come back together. Whole seconds, 1..900 (SQS DelaySeconds).
   */
  deferSeconds(webhookId: string, deferrals: number): number {
    const latency = this.states.get(webhookId)?.latencyMs ?? this.slowAfterMs;
    const base = Math.max(1, latency / 1000) * (1 + Math.min(deferrals, 40) / 2);
    const jittered = base * (1 + this.random() / 2);
    return Math.min(MAX_DEFER_SECONDS, Math.max(1, Math.round(jittered)));
  }

  /** Resolves when a slot of the webhook frees here, or after `ms` at the latest. */
  private slotOrTimeout(state: WebhookState, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        cancel();
        resolve();
      };
      const cancel = this.setTimer(
        () => {
          const i = state.waiters.indexOf(wake);
          if (i >= 0) state.waiters.splice(i, 1);
          resolve();
        },
        Math.max(0, ms),
      );
      state.waiters.push(wake);
    });
  }

  private leasedNow(state: WebhookState, now: number): boolean {
    if (!state.seen || now < state.slowUntil) return true;
    for (const start of state.started) {
      if (now - start.at >= this.slowAfterMs) {
        state.slowUntil = now + this.slowMemoryMs;
        return true;
      }
    }
    return false;
  }

  private observe(state: WebhookState, durationMs: number): void {
    state.latencyMs = state.seen ? 0.7 * state.latencyMs + 0.3 * durationMs : durationMs;
    state.seen = true;
    if (durationMs >= this.slowAfterMs) state.slowUntil = this.now() + this.slowMemoryMs;
  }

  private forget(state: WebhookState, start: { at: number }): void {
    state.inFlight--;
    state.started.delete(start);
    state.waiters.shift()?.();
  }

  private stateOf(webhookId: string): WebhookState {
    let state = this.states.get(webhookId);
    if (state) {
      // Most recently used last: the first entries are the ones to forget.
      this.states.delete(webhookId);
    } else {
      state = {
        inFlight: 0,
        started: new Set(),
        waiters: [],
        seen: false,
        slowUntil: 0,
        latencyMs: 0,
        fullUntil: 0,
      };
    }
    this.states.set(webhookId, state);
    if (this.states.size > this.maxTracked) {
      for (const [id, s] of this.states) {
        if (this.states.size <= this.maxTracked) break;
        if (s.inFlight === 0) this.states.delete(id);
      }
    }
    return state;
  }
}

function realTimer(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  timer.unref?.();
  return () => clearTimeout(timer);
}
