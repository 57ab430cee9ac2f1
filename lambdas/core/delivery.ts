/**
 * The delivery engine (README "Delivery semantics"): render once, store the rendered request
 * write-once, attempt, record the attempt, schedule retries, resend on demand.
 *
 * Idempotency: every store write that can be repeated (SQS at-least-once, Lambda retries,
 * Step Functions task retries) is conditional, keyed by notification id and attempt number,
 * so a duplicate delivery never records a second attempt.
 */
import type {
  Clock,
  DeliveryObserver,
  DeliveryQueue,
  HttpResult,
  HttpSender,
  NotificationRef,
  NotificationStore,
  NotificationUpdate,
  OperationalEventPublisher,
  PayloadStore,
  ResendJobStore,
  RetryScheduler,
  WebhookStore,
} from '../ports';
import { attemptsToStore, nextAttemptNumber } from './attempt-history';
import { type ConcurrencyGate, type Permit, WebhookAtCapacityError } from './concurrency-gate';
import { ErasedError, TemplateError } from './errors';
import type { ParkedNotifications, ReleaseOptions, ReleaseOutcome } from './health/driver';
import type { Admission, HealthGate } from './health/gate';
import type { HealthRecord } from './health/model';
import {
  type Attempt,
  type AttemptTrigger,
  type DeliveryJob,
  type FailureReason,
  isParkReason,
  type Notification,
  type ParkReason,
  RESENDS_KEPT,
  type RenderedRequest,
  type ResendQuery,
  type WebhookDefinition,
} from './model';
import { redactorFor } from './redact';
import type { Renderer } from './render';
import { buildRenderContext } from './render-context';
import { MAX_RENDERED_REQUEST_BYTES, requestSizeBytes } from './request-rules';
import type { AttemptTaskOutput, RetryTaskInput } from './retry-contract';
import { RETRY_COUNT } from './retry-schedule';
import { nextRetryStart, retriesOf } from './retry-series';
import { nextWaitSeconds, parseRetryAfter } from './retry-timing';
import { sendTimeHeaders } from './signing';
import { isPlatformEventType } from './subscriptions';

export interface DeliverySettings {
  /** Nominal waits before retries 1..5, in seconds. */
  readonly schedule: readonly number[];
  /** Multiplies every back-off wait (local mode); 1 on AWS. */
  readonly timeScale: number;
  readonly retentionDays: number;
  /** Source of jitter; Math.random by default. */
  readonly random?: () => number;
  /**
   * How long a copy of a deliver job that finds the request stored, but no record yet, waits
   * before it looks again (seconds; default FIRST_ATTEMPT_WINDOW_SECONDS).
   */
  readonly firstAttemptWindowSeconds?: number;
}

/**
 * Longer than a first delivery takes from storing its request to recording its attempt: the
 * send's 15 s at most, a concurrency slot's wait, the store calls.
 */
export const FIRST_ATTEMPT_WINDOW_SECONDS = 30;

export interface DeliveryDeps {
  readonly webhooks: WebhookStore;
  readonly notifications: NotificationStore;
  readonly payloads: PayloadStore;
  readonly resendJobs: ResendJobStore;
  readonly queue: DeliveryQueue;
  readonly scheduler: RetryScheduler;
  readonly sender: HttpSender;
  /**
   * Renders first deliveries (deliver jobs). The attempt Lambda has none: retries and resends
   * send the request stored at the first delivery.
   */
  readonly renderer?: Renderer;
  readonly clock: Clock;
  readonly observer: DeliveryObserver;
  readonly settings: DeliverySettings;
  /**
   * The per-webhook concurrency cap of every request to a receiver: first attempts, resends,
   * retries and releases of waiting notifications (not a circuit's probe); absent: no cap.
   */
  readonly gate?: ConcurrencyGate;
  /** Publishes `platform.notification.failed` when retries are exhausted; none when absent. */
  readonly operationalEvents?: OperationalEventPublisher;
  /**
   * Destination health (circuit, pause, rate limit). Without it every notification is sent
   * as if its webhook were healthy.
   */
  readonly health?: HealthGate;
}

export interface JobContext {
  /** When the job entered the queue (SQS SentTimestamp): the start of DeliveryLatency. */
  readonly enqueuedAt?: Date;
  /** How many times SQS has handed out this message (ApproximateReceiveCount); 1 if unknown. */
  readonly receiveCount?: number;
}

/** How many notifications one resendQuery job expands before handing on a continuation. */
export const RESEND_PAGE_SIZE = 100;

/** The longest a throttled job is put back for (seconds). */
export const THROTTLED_MAX_DELAY_SECONDS = 300;

/** How often an attempt is re-recorded when a concurrent attempt took its number. */
const RECORD_RACE_RETRIES = 3;

/** What one HTTP result means for the notification. */
export type Verdict =
  | { readonly outcome: 'SENT' }
  | {
      readonly outcome: 'FAILED';
      readonly error: FailureReason;
      /** No automatic retry (410 Gone, blocked target). */
      readonly permanent: boolean;
      readonly retryAfterSeconds?: number;
    };

export function classifyResult(result: HttpResult, now: Date): Verdict {
  if (result.kind === 'error') {
    return { outcome: 'FAILED', error: result.error, permanent: result.error === 'BLOCKED_URL' };
  }
  if (result.statusCode >= 200 && result.statusCode < 300) return { outcome: 'SENT' };
  return {
    outcome: 'FAILED',
    error: 'INVALID_HTTP_RESPONSE',
    permanent: result.statusCode === 410,
    retryAfterSeconds: parseRetryAfter(result.headers['retry-after'], now),
  };
}

/** What a notification record starts from, before any outcome. */
type NotificationBase = Pick<
  Notification,
  'id' | 'webhookId' | 'eventId' | 'eventType' | 'createdAt'
>;

export class DeliveryService implements ParkedNotifications {
  constructor(private readonly deps: DeliveryDeps) {}

  async handleJob(job: DeliveryJob, context: JobContext = {}): Promise<void> {
    try {
      switch (job.kind) {
        case 'deliver':
          return await this.deliver(job, context);
        case 'resend':
          return await this.resend(job.notificationId, job.jobId, job.resendId);
        case 'resendQuery':
          return await this.expandResendQuery(job.jobId, job.query, job.cursor);
        case 'health':
          return await this.deps.health?.ensureDriver(job.webhookId);
      }
    } catch (error) {
      if (
        error instanceof WebhookAtCapacityError &&
        job.kind !== 'resendQuery' &&
        job.kind !== 'health'
      )
        return this.defer(job, error.webhookId);
      throw error;
    }
  }

  /**
   * Puts a job back into the queue after AWS throttled one of its calls (a table, the queue,
   * StartExecution), as a new message hidden for a back-off that doubles with each throttling
   * (1 to 2 s first, at most 5 min): its receive count, which leads to the dead-letter queue,
   * does not grow, so a long throttling never sends it there. Whatever the job did before the
   * throttled call it finds done when it runs again (every write is conditional), and a deliver
   * job that stored its request sends at once. Answers the delay chosen.
   */
  async requeueThrottled(job: DeliveryJob): Promise<number> {
    const throttled = (job.throttled ?? 0) + 1;
    const random = this.deps.settings.random ?? Math.random;
    const base = 2 ** Math.min(throttled - 1, 9);
    const delaySeconds = Math.min(
      THROTTLED_MAX_DELAY_SECONDS,
      Math.max(1, Math.round(base * (1 + random()))),
    );
    await this.deps.queue.enqueue([{ ...job, throttled }], { delaySeconds });
    return delaySeconds;
  }

  /**
   * Puts a job whose webhook is at its concurrency cap back into the queue, hidden for a while,
   * as a new message: the Lambda is free for other webhooks at once, and the job's receive count
   * (which leads to the dead-letter queue) does not grow. Sent before the original is deleted,
   * so a crash in between only duplicates it (jobs are idempotent).
   */
  private async defer(
    job: Extract<DeliveryJob, { kind: 'deliver' | 'resend' }>,
    webhookId: string,
  ): Promise<void> {
    const gate = this.deps.gate;
    if (!gate) throw new Error('a job was turned away by a concurrency gate that is not wired');
    const deferrals = (job.deferrals ?? 0) + 1;
    const delaySeconds = gate.deferSeconds(webhookId, deferrals - 1);
    await this.deps.queue.enqueue([{ ...job, webhookId, deferrals }], { delaySeconds });
    this.deps.observer.deferred(
      { notificationId: job.notificationId, webhookId },
      deferrals,
      delaySeconds,
    );
  }

  /** First delivery: render once, store write-once, attempt 1, record, start retries on failure. */
  private async deliver(
    job: Extract<DeliveryJob, { kind: 'deliver' }>,
    context: JobContext,
  ): Promise<void> {
    const { notificationId: id, webhookId, event } = job;
    const ref = { notificationId: id, webhookId };
    const now = this.deps.clock.now();
    const base = {
      id,
      webhookId,
      eventId: event.id,
      eventType: event.type,
      createdAt: now.toISOString(),
    };

    // Never older than the version the event was matched against (the cache may hold one).
    const definition = await this.deps.webhooks.get(
      webhookId,
      job.webhookVersion === undefined ? undefined : { minVersion: job.webhookVersion },
    );
    if (!definition?.enabled) {
      return this.createSettled(
        base,
        'WEBHOOK_DISABLED',
        definition ? 'webhook is disabled' : 'webhook was deleted',
      );
    }

    const renderer = this.deps.renderer;
    if (!renderer) throw new Error('deliver jobs need a renderer; this runtime has none');
    let request: RenderedRequest;
    try {
      request = renderer.render(definition, buildRenderContext(definition, event, id));
    } catch (error) {
      if (error instanceof TemplateError)
        return this.createSettled(base, 'TEMPLATE_ERROR', redactorFor(definition)(error.message));
      throw error;
    }
    const size = requestSizeBytes(request);
    if (size > MAX_RENDERED_REQUEST_BYTES) {
      return this.createSettled(
        base,
        'PAYLOAD_TOO_LARGE',
        `rendered request is ${size} bytes, more than the ${MAX_RENDERED_REQUEST_BYTES} allowed`,
      );
    }

    const stored = await this.deps.payloads.putOnce(
      id,
      request,
      this.expiresAt(now),
      event.subject,
      definition,
    );
    if (stored === 'exists') {
      // A repeated job (SQS redelivery, repeated producer id): the first rendering wins.
      const existing = await this.deps.notifications.get(id);
      if (existing) {
        this.deps.observer.duplicate(ref, 'deliver job for a notification already attempted');
        return this.resumeRetries(existing);
      }
      // Stored by another copy of this job (a producer id posted again, a duplicated message),
      // whose first attempt may be in flight: look again once it must be recorded, rather than
      // send beside it. Not a copy that may have stored it itself (a message handed out again
      // after its visibility timeout, one put back at its webhook's cap) or that waited already:
      // the first copy died, and this one sends.
      if (
        job.awaitedFirst !== true &&
        (job.deferrals ?? 0) === 0 &&
        (job.throttled ?? 0) === 0 &&
        (context.receiveCount ?? 1) <= 1
      )
        return this.awaitFirstAttempt(job);
      try {
        request = (await this.deps.payloads.get(id)) ?? request;
      } catch (error) {
        // Erased between the first rendering and this repeat: nothing is sent any more.
        if (error instanceof ErasedError)
          return this.createSettled(base, 'ERASED', 'the request was erased');
        throw error;
      }
    }

    const admitted = await this.admit(definition);
    if (admitted.kind === 'park') return this.createParked(base, admitted.reason);
    const { permit, slot } = admitted;

    const attempt = await this.attempt(definition, id, request, 1, 'initial', { permit, slot });
    if (!attempt) return this.createParked(base, 'RATE_LIMITED');
    const verdict = classifyResult(attempt.result, this.deps.clock.now());
    const health = await this.observeHealth(webhookId, attempt.record, verdict);
    const decision = this.parkIfBlocked(this.decide(verdict, 0), health);
    const created = await this.deps.notifications.create(
      { ...base, ...decision.update, attempts: [attempt.record] },
      this.expiresAt(now),
    );
    if (!created) {
      this.deps.observer.duplicate(ref, 'first attempt already recorded by a concurrent delivery');
      return;
    }
    this.report(ref, attempt.record, decision, context.enqueuedAt);
    await this.afterParking(ref, decision);
    await this.continueSeries({ id, ...decision.update, attempts: [attempt.record] });
  }

  /** Puts a copy of a deliver job back, hidden until another copy's first attempt is recorded. */
  private async awaitFirstAttempt(job: Extract<DeliveryJob, { kind: 'deliver' }>): Promise<void> {
    const delaySeconds =
      this.deps.settings.firstAttemptWindowSeconds ?? FIRST_ATTEMPT_WINDOW_SECONDS;
    await this.deps.queue.enqueue([{ ...job, awaitedFirst: true }], { delaySeconds });
    this.deps.observer.duplicate(
      { notificationId: job.notificationId, webhookId: job.webhookId },
      `request stored by another copy of the job, no attempt recorded yet: looking again in ${delaySeconds} s`,
    );
  }

  /**
   * Retry k (1..5), from its execution of the retry machine. Unless the series is over, it
   * continues it: the execution of retry k+1, or FAILED after the last (continueSeries). A
   * repeated invocation (task retry) finds retry k recorded: it sends nothing and only makes
   * sure of what follows it. `chain: false` is an execution started before the chain, whose
   * own Choice and MarkFailed states continue the series.
   */
  async retry(
    input: Omit<RetryTaskInput, 'action'>,
    opts: { readonly chain: boolean } = { chain: true },
  ): Promise<AttemptTaskOutput> {
    const id = input.notificationId;
    for (let race = 0; race <= RECORD_RACE_RETRIES; race++) {
      const notification = await this.deps.notifications.get(id);
      if (notification?.status !== 'WAITING') return this.output(id, true, null);
      const ref = { notificationId: id, webhookId: notification.webhookId };
      const retriesDone = retriesOf(notification);
      if (retriesDone >= input.retry) {
        this.deps.observer.duplicate(ref, `retry ${input.retry} already recorded`);
        if (opts.chain && retriesDone === input.retry) await this.continueSeries(notification);
        return this.output(id, false, notification.nextAttemptAt);
      }
      const outcome = await this.retryOnce(notification, input.retry);
      if (outcome === 'raced') continue;
      if (outcome.settled) return this.output(id, true, null);
      const after = { ...notification, ...outcome.update, attempts: outcome.attempts };
      if (opts.chain) await this.continueSeries(after);
      return this.output(id, after.status !== 'WAITING', after.nextAttemptAt, outcome.waitSeconds);
    }
    throw new Error(
      `retry ${input.retry} of ${id} lost the race to record its attempt ${RECORD_RACE_RETRIES} times`,
    );
  }

  /** One retry attempt, recorded; 'raced' if the record changed meanwhile. */
  private async retryOnce(
    notification: Notification,
    retry: number,
  ): Promise<
    | 'raced'
    | { readonly settled: true }
    | {
        readonly settled: false;
        readonly update: NotificationUpdate;
        readonly attempts: readonly Attempt[];
        readonly waitSeconds: number;
      }
  > {
    const id = notification.id;
    const ref = { notificationId: id, webhookId: notification.webhookId };
    const definition = await this.deps.webhooks.get(notification.webhookId);
    if (!definition?.enabled) {
      await this.settleWithoutAttempt(notification, 'WEBHOOK_DISABLED');
      return { settled: true };
    }
    // At its concurrency cap the retry sends nothing and waits RATE_LIMITED (no attempt used):
    // the webhook's driver releases it, through the cap. Without destination health there is no
    // driver to release it, so it is not capped.
    const permit = this.deps.health ? await this.tryEnterGate(definition) : undefined;
    if (permit === 'busy')
      return (await this.park(notification, 'RATE_LIMITED')) ? { settled: true } : 'raced';
    let admission: Admission | undefined;
    let request: RenderedRequest | undefined;
    try {
      admission = await this.deps.health?.admit(definition);
      if (admission?.kind !== 'park') request = await this.payloadUnlessErased(notification);
    } catch (error) {
      await permit?.release();
      throw error;
    }
    if (admission?.kind === 'park') {
      await permit?.release();
      // Parked: this execution ends; the webhook's health driver releases it later.
      return (await this.park(notification, admission.reason)) ? { settled: true } : 'raced';
    }
    if (!request) {
      await permit?.release();
      return { settled: true };
    }
    const attempt = await this.attempt(
      definition,
      id,
      request,
      nextAttemptNumber(notification.attempts),
      'retry',
      { permit, slot: admission?.slot },
    );
    if (!attempt)
      return (await this.park(notification, 'RATE_LIMITED')) ? { settled: true } : 'raced';
    const verdict = classifyResult(attempt.result, this.deps.clock.now());
    const health = await this.observeHealth(notification.webhookId, attempt.record, verdict);
    const decision =
      retry < RETRY_COUNT
        ? this.parkIfBlocked(this.decide(verdict, retry), health)
        : this.decideLast(verdict);
    if (!(await this.record(notification, attempt.record, decision.update))) return 'raced';
    this.report(ref, attempt.record, decision, undefined);
    if (isParkReason(decision.update.waitingReason)) {
      await this.afterParking(ref, decision);
      return { settled: true };
    }
    return {
      settled: false,
      update: decision.update,
      attempts: [...notification.attempts, attempt.record],
      waitSeconds: decision.waitSeconds,
    };
  }

  /**
   * What follows the last attempt of a notification's automatic series, from its record alone
   * (so a repeat does the same): while it waits for a next retry, that retry's execution
   * (named after the retry and the attempt that scheduled it: starting it again starts
   * nothing); when the last retry failed, FAILED. Parked, sent or failed: nothing.
   */
  private async continueSeries(
    n: Pick<Notification, 'id' | 'status' | 'nextAttemptAt' | 'waitingReason' | 'attempts'>,
  ): Promise<void> {
    if (n.status !== 'WAITING' || isParkReason(n.waitingReason)) return;
    if (n.nextAttemptAt === null) {
      if (retriesOf(n) >= RETRY_COUNT) await this.markFailed(n.id);
      return;
    }
    const start = nextRetryStart(n);
    if (start) await this.deps.scheduler.start(start);
  }

  /**
   * After the fifth failed retry: FAILED, nothing automatic any more. Operators hear of it
   * through `platform.notification.failed`, published before the status changes and keyed
   * by the notification id: a repeated task publishes the same event (one notification per
   * subscriber), and a failure between the two leaves the status WAITING for the retry.
   */
  async markFailed(notificationId: string): Promise<void> {
    const notification = await this.deps.notifications.get(notificationId);
    if (notification?.status !== 'WAITING') return;
    const last = notification.attempts.at(-1);
    const reason = last?.error ?? 'INVALID_HTTP_RESPONSE';
    await this.publishFailed(notification, reason);
    await this.settleWithoutAttempt(notification, reason);
  }

  private async publishFailed(notification: Notification, reason: FailureReason): Promise<void> {
    const events = this.deps.operationalEvents;
    if (!events) return;
    const definition = await this.deps.webhooks.get(notification.webhookId);
    const last = notification.attempts.at(-1);
    await events.publish(
      'platform.notification.failed',
      {
        id: notification.webhookId,
        name: definition?.name ?? null,
        ...(definition ? { events: definition.events } : {}),
      },
      {
        notificationId: notification.id,
        eventId: notification.eventId,
        eventType: notification.eventType,
        failureReason: reason,
        attempts: nextAttemptNumber(notification.attempts) - 1,
        lastStatusCode: last?.statusCode ?? null,
      },
      // Operational deliveries never cause operational events.
      { key: notification.id, causedByOperational: isPlatformEventType(notification.eventType) },
    );
  }

  /**
   * A manual resend: one attempt now with the stored request; no automatic retries after it.
   * While its webhook is blocked it waits parked instead (counted in its job once released).
   */
  private async resend(
    id: string,
    jobId: string | undefined,
    resendId: string | undefined,
  ): Promise<void> {
    const outcome = await this.resendOnce(id, jobId, jobId ?? resendId);
    if (outcome === 'WAITING') return;
    // Once per notification and job: a repeat of the job after it counted counts nothing.
    if (jobId) await this.deps.resendJobs.increment(jobId, countOf(outcome), id);
  }

  /**
   * 'ERASED': the request was erased with its subject's key; skipped, nothing recorded.
   * 'WAITING': the webhook is paused, its circuit open, or it is slowed or rate limited: the
   * notification waits parked with that reason, without an attempt, and the health driver sends
   * it (as this manual attempt) when the webhook lets it.
   */
  private async resendOnce(
    id: string,
    jobId: string | undefined,
    key: string | undefined,
  ): Promise<'SENT' | 'FAILED' | 'ERASED' | 'WAITING'> {
    for (let race = 0; race <= RECORD_RACE_RETRIES; race++) {
      const notification = await this.deps.notifications.get(id);
      if (!notification) {
        this.deps.observer.warn('resend of an unknown notification', { notificationId: id });
        return 'FAILED';
      }
      const ref = { notificationId: id, webhookId: notification.webhookId };
      // This resend's attempt is recorded already (the job delivered again): nothing is sent;
      // what followed the record is made sure of again (starting a retry again starts nothing).
      const recorded = key === undefined ? undefined : recordedResend(notification, key);
      if (recorded) {
        this.deps.observer.duplicate(ref, 'resend already recorded');
        await this.continueSeries(notification);
        return recorded;
      }
      const definition = await this.deps.webhooks.get(notification.webhookId);
      let request: RenderedRequest | undefined;
      try {
        request = await this.deps.payloads.get(id);
      } catch (error) {
        if (!(error instanceof ErasedError)) throw error;
        this.deps.observer.warn('resend skipped: the request was erased', ref);
        return 'ERASED';
      }
      if (!definition?.enabled || !request) {
        this.deps.observer.warn(
          request
            ? 'resend refused: the webhook is disabled or deleted'
            : 'resend refused: no stored request',
          ref,
        );
        return 'FAILED';
      }
      const admitted = await this.admit(definition);
      if (admitted.kind === 'park') {
        const parked = await this.parkResend(notification, admitted.reason, jobId, key);
        if (parked === 'raced') continue;
        return parked;
      }
      const { permit, slot } = admitted;
      const attempt = await this.attempt(
        definition,
        id,
        request,
        nextAttemptNumber(notification.attempts),
        'manual',
        { permit, slot },
      );
      if (!attempt) {
        const parked = await this.parkResend(notification, 'RATE_LIMITED', jobId, key);
        if (parked === 'raced') continue;
        return parked;
      }
      const verdict = classifyResult(attempt.result, this.deps.clock.now());
      // A failed manual attempt leaves scheduled automatic retries in place, and a parked
      // notification parked (its driver releases it and its retries go on from there).
      const parkedFor = isParkReason(notification.waitingReason)
        ? notification.waitingReason
        : undefined;
      const update: NotificationUpdate =
        verdict.outcome === 'SENT'
          ? { status: 'SENT', failureReason: null, nextAttemptAt: null }
          : notification.status === 'WAITING'
            ? {
                status: 'WAITING',
                failureReason: verdict.error,
                nextAttemptAt: notification.nextAttemptAt,
                ...(parkedFor ? { waitingReason: parkedFor } : {}),
              }
            : { status: 'FAILED', failureReason: verdict.error, nextAttemptAt: null };
      if (
        !(await this.record(notification, attempt.record, {
          ...update,
          ...withResend(notification, key, verdict.outcome),
        }))
      )
        continue;
      this.report(ref, attempt.record, { update, waitSeconds: 0 }, undefined);
      if (parkedFor && update.status === 'WAITING')
        await this.deps.health?.reportParked(ref, parkedFor);
      // Still waiting for its retries: make sure the next one's execution exists (it does
      // unless starting it failed for good; then this starts it).
      await this.continueSeries({
        ...notification,
        ...update,
        attempts: [...notification.attempts, attempt.record],
      });
      return verdict.outcome;
    }
    throw new Error(
      `resend of ${id} lost the race to record its attempt ${RECORD_RACE_RETRIES} times`,
    );
  }

  /**
   * A resend its webhook does not let through now. A sent or failed notification waits parked
   * with the reason (no attempt consumed), marked as a pending manual resend. One that is
   * already WAITING will be sent without anyone acting: the resend adds nothing to it and is
   * reported as not carried out ('FAILED' for its job).
   */
  private async parkResend(
    notification: Notification,
    reason: ParkReason,
    jobId: string | undefined,
    key: string | undefined,
  ): Promise<'WAITING' | 'FAILED' | 'raced'> {
    const ref = { notificationId: notification.id, webhookId: notification.webhookId };
    if (
      notification.status === 'WAITING' &&
      isParkReason(notification.waitingReason) &&
      notification.pendingResend != null &&
      (notification.pendingResend.jobId ?? undefined) === jobId
    ) {
      // This resend parked it already (a repeat of the job after making sure of its driver
      // failed): make sure of the driver again; it is counted when released.
      await this.deps.health?.reportParked(ref, notification.waitingReason);
      return 'WAITING';
    }
    if (notification.status === 'WAITING') {
      this.deps.observer.warn(
        'resend not carried out: the notification already waits for its webhook',
        ref,
        { reason },
      );
      return 'FAILED';
    }
    const changed = await this.deps.notifications.setStatus(
      notification.id,
      {
        status: 'WAITING',
        failureReason: notification.failureReason,
        nextAttemptAt: null,
        waitingReason: reason,
        pendingResend: {
          jobId: jobId ?? null,
          ...(jobId === undefined && key !== undefined ? { resendId: key } : {}),
        },
      },
      notification.status,
    );
    if (!changed) return 'raced';
    await this.deps.health?.reportParked(ref, reason);
    return 'WAITING';
  }

  /** Counts a parked manual resend in its bulk resend job once it went out (or never will). */
  private async countPendingResend(
    notification: Notification,
    outcome: 'SENT' | 'FAILED' | 'ERASED',
  ): Promise<void> {
    const jobId = notification.pendingResend?.jobId;
    if (jobId) await this.deps.resendJobs.increment(jobId, countOf(outcome), notification.id);
  }

  /** Bulk resend by range: one page of resend jobs plus a continuation, through the queue. */
  private async expandResendQuery(
    jobId: string,
    query: ResendQuery,
    cursor: string | undefined,
  ): Promise<void> {
    const page = await this.deps.notifications.list({ ...query, limit: RESEND_PAGE_SIZE, cursor });
    const jobs: DeliveryJob[] = page.items.map((item) => ({
      kind: 'resend',
      notificationId: item.id,
      webhookId: item.webhookId,
      jobId,
    }));
    if (page.nextCursor) jobs.push({ kind: 'resendQuery', jobId, query, cursor: page.nextCursor });
    await this.deps.queue.enqueue(jobs);
    // Once per page: this job delivered again queues the same resend jobs (each carried out
    // once, see resendOnce) and counts them once.
    if (page.items.length > 0)
      await this.deps.resendJobs.increment(
        jobId,
        { queued: page.items.length },
        `page:${cursor ?? ''}`,
      );
  }

  /**
   * One attempt of a parked notification, from the health driver. It continues the
   * notification's retries: a failure schedules the next retry of its series (or ends it
   * FAILED after the last), unless the circuit is open again (it parks again) or this is the
   * circuit's probe (it stays parked; the probe was its attempt). With `slot` (a rate-limit
   * slot the driver reserved) it reads what it needs first, then waits for the slot; it stays
   * parked ('SKIPPED') when `stopped` says so by then, or when it cannot start on time, and
   * ('BUSY') when its webhook is at its concurrency cap (the probe excepted).
   */
  async release(id: string, opts: ReleaseOptions): Promise<ReleaseOutcome> {
    let slotSpent = false;
    for (let race = 0; race <= RECORD_RACE_RETRIES; race++) {
      const notification = await this.deps.notifications.get(id);
      if (notification?.status !== 'WAITING' || !isParkReason(notification.waitingReason))
        return 'SKIPPED';
      const ref = { notificationId: id, webhookId: notification.webhookId };
      const definition = await this.deps.webhooks.get(notification.webhookId);
      if (!definition?.enabled) {
        await this.settleWithoutAttempt(notification, 'WEBHOOK_DISABLED');
        return 'FAILED';
      }
      // Erased while it waited: it ends FAILED ERASED, as a retry would, so the driver's next
      // page moves past it instead of meeting it first again.
      const request = await this.payloadUnlessErased(notification);
      if (!request) return 'FAILED';
      // Parked by a manual resend: this is that attempt, and nothing automatic follows it.
      const manual = notification.pendingResend != null;
      const trigger: AttemptTrigger = manual
        ? 'manual'
        : notification.attempts.length === 0
          ? 'initial'
          : 'retry';
      const retriesDone = retriesOf(notification) + (trigger === 'retry' ? 1 : 0);
      // One attempt per slot: a second one (after a lost race) waits for a later page.
      if (opts.slot !== undefined && slotSpent) return 'SKIPPED';
      // The permit comes first and then the slot's wait, so the attempt starts on time. The
      // probe (one request while the circuit is open) does not wait for the cap.
      const permit = opts.probe ? undefined : await this.tryEnterGate(definition);
      if (permit === 'busy') return 'BUSY';
      if (opts.slot !== undefined) {
        slotSpent = true;
        await this.deps.health?.waitUntil(opts.slot);
        if (opts.stopped?.()) {
          await permit?.release();
          return 'SKIPPED';
        }
      }
      const attempt = await this.attempt(
        definition,
        id,
        request,
        nextAttemptNumber(notification.attempts),
        trigger,
        { permit, slot: opts.slot },
      );
      if (!attempt) return 'SKIPPED';
      const verdict = classifyResult(attempt.result, this.deps.clock.now());
      const health = await this.observeHealth(notification.webhookId, attempt.record, verdict);
      let decision: Decision;
      if (verdict.outcome === 'SENT' || verdict.permanent) decision = this.decide(verdict, 0);
      else if (opts.probe)
        decision = this.parked(verdict.error, health?.paused ? 'PAUSED' : 'CIRCUIT_OPEN');
      else if (manual)
        decision = health?.paused
          ? this.parked(verdict.error, 'PAUSED')
          : health?.state === 'OPEN'
            ? this.parked(verdict.error, 'CIRCUIT_OPEN')
            : {
                update: { status: 'FAILED', failureReason: verdict.error, nextAttemptAt: null },
                waitSeconds: 0,
              };
      else if (retriesDone < RETRY_COUNT)
        decision = this.parkIfBlocked(this.decide(verdict, retriesDone), health);
      else
        decision = {
          update: { status: 'FAILED', failureReason: verdict.error, nextAttemptAt: null },
          waitSeconds: 0,
        };
      // A manual resend that went out for good is no longer pending.
      const resendDone = manual && decision.update.status !== 'WAITING';
      const update = resendDone
        ? {
            ...decision.update,
            pendingResend: null,
            ...withResend(
              notification,
              notification.pendingResend?.jobId ?? notification.pendingResend?.resendId,
              verdict.outcome === 'SENT' ? 'SENT' : 'FAILED',
            ),
          }
        : decision.update;
      if (!(await this.record(notification, attempt.record, update))) continue;
      this.report(ref, attempt.record, decision, undefined);
      if (resendDone)
        await this.countPendingResend(notification, verdict.outcome === 'SENT' ? 'SENT' : 'FAILED');
      if (!opts.probe) await this.afterParking(ref, decision);
      await this.continueSeries({
        id,
        ...update,
        attempts: [...notification.attempts, attempt.record],
      });
      const { status } = decision.update;
      return status === 'WAITING' ? 'WAITING' : status === 'SENT' ? 'SENT' : 'FAILED';
    }
    throw new Error(
      `release of ${id} lost the race to record its attempt ${RECORD_RACE_RETRIES} times`,
    );
  }

  /** Ends a parked notification without an attempt (its webhook was disabled or deleted). */
  async settleParked(id: string, reason: FailureReason): Promise<void> {
    const notification = await this.deps.notifications.get(id);
    if (notification?.status !== 'WAITING' || !isParkReason(notification.waitingReason)) return;
    await this.settleWithoutAttempt(notification, reason);
  }

  /** A new notification that must wait: recorded WAITING without an attempt. */
  private async createParked(base: NotificationBase, reason: ParkReason): Promise<void> {
    const ref = { notificationId: base.id, webhookId: base.webhookId };
    const created = await this.createWithoutAttempt(base, {
      status: 'WAITING',
      waitingReason: reason,
      failureReason: null,
    });
    if (!created) {
      this.deps.observer.duplicate(ref, 'parked notification already recorded');
      return;
    }
    await this.deps.health?.reportParked(ref, reason);
  }

  /** Records an attempt made after those `notification` holds (see attempt-history.ts). */
  private record(
    notification: Notification,
    attempt: Attempt,
    update: NotificationUpdate,
  ): Promise<boolean> {
    return this.deps.notifications.recordAttempt(
      notification.id,
      attempt,
      update,
      attemptsToStore(notification.attempts, attempt),
    );
  }

  /** A notification whose retry found its webhook blocked: parked, no attempt consumed. */
  private async park(notification: Notification, reason: ParkReason): Promise<boolean> {
    const ref = { notificationId: notification.id, webhookId: notification.webhookId };
    const changed = await this.deps.notifications.setStatus(
      notification.id,
      {
        status: 'WAITING',
        failureReason: notification.failureReason,
        nextAttemptAt: null,
        waitingReason: reason,
      },
      'WAITING',
    );
    if (!changed) return false;
    await this.deps.health?.reportParked(ref, reason);
    return true;
  }

  private async observeHealth(
    webhookId: string,
    attempt: Attempt,
    verdict: Verdict,
  ): Promise<HealthRecord | undefined> {
    if (!this.deps.health) return undefined;
    return this.deps.health.observe(
      webhookId,
      attempt,
      verdict.outcome === 'FAILED' ? verdict.retryAfterSeconds : undefined,
    );
  }

  /** A failure that would be retried while the circuit is open (or paused) waits parked instead. */
  private parkIfBlocked(decision: Decision, health: HealthRecord | undefined): Decision {
    const { status, nextAttemptAt, failureReason } = decision.update;
    if (status !== 'WAITING' || nextAttemptAt === null || !health) return decision;
    if (health.paused) return this.parked(failureReason, 'PAUSED');
    if (health.state === 'OPEN') return this.parked(failureReason, 'CIRCUIT_OPEN');
    return decision;
  }

  /** A notification parked after its attempt: counted, and its driver made sure of. */
  private async afterParking(
    ref: { notificationId: string; webhookId: string },
    decision: Decision,
  ): Promise<void> {
    const reason = decision.update.waitingReason;
    if (!this.deps.health || !isParkReason(reason)) return;
    await this.deps.health.reportParked(ref, reason);
  }

  private parked(failureReason: FailureReason | null, reason: ParkReason): Decision {
    return {
      update: { status: 'WAITING', failureReason, nextAttemptAt: null, waitingReason: reason },
      waitSeconds: 0,
    };
  }

  /** A repeated deliver job whose first attempt failed: make sure its retries are running. */
  private async resumeRetries(notification: Notification): Promise<void> {
    if (notification.status === 'WAITING' && isParkReason(notification.waitingReason)) {
      if (notification.waitingReason !== 'PAUSED')
        await this.deps.health?.ensureDriver(notification.webhookId);
      return;
    }
    await this.continueSeries(notification);
  }

  private async createSettled(
    base: NotificationBase,
    reason: FailureReason,
    detail: string,
  ): Promise<void> {
    const ref = { notificationId: base.id, webhookId: base.webhookId };
    const created = await this.createWithoutAttempt(base, {
      status: 'FAILED',
      failureReason: reason,
      failureDetail: detail,
    });
    if (created) this.deps.observer.failed(ref, reason, undefined);
    else this.deps.observer.duplicate(ref, 'failed notification already recorded');
  }

  /** Records a new notification that made no attempt (parked or settled); false if it exists. */
  private createWithoutAttempt(
    base: NotificationBase,
    outcome: Pick<Notification, 'status' | 'failureReason' | 'waitingReason' | 'failureDetail'>,
  ): Promise<boolean> {
    return this.deps.notifications.create(
      { ...base, ...outcome, attempts: [], nextAttemptAt: null },
      this.expiresAt(this.deps.clock.now()),
    );
  }

  private async settleWithoutAttempt(
    notification: Notification,
    reason: FailureReason,
  ): Promise<void> {
    const ref = { notificationId: notification.id, webhookId: notification.webhookId };
    const pending = notification.pendingResend != null;
    const changed = await this.deps.notifications.setStatus(
      notification.id,
      {
        status: 'FAILED',
        failureReason: reason,
        nextAttemptAt: null,
        ...(pending ? { pendingResend: null } : {}),
      },
      'WAITING',
    );
    if (changed) this.deps.observer.failed(ref, reason, undefined);
    // Once, by the write that ended it: an erased request counts as erased, not failed.
    if (changed && pending)
      await this.countPendingResend(notification, reason === 'ERASED' ? 'ERASED' : 'FAILED');
  }

  /**
   * A first attempt or a resend may go now (holding the webhook's concurrency permit, if any), or
   * must park with the reason its webhook's health gives. The permit comes first, then the
   * rate-limit slot: a slot taken before waiting for a permit would be spent late, and late sends
   * arrive bunched, over the rate limit.
   */
  private async admit(
    definition: WebhookDefinition,
  ): Promise<
    | { kind: 'send'; permit: Permit | undefined; slot: number | undefined }
    | { kind: 'park'; reason: ParkReason }
  > {
    const permit = await this.enterGate(definition);
    let admission: Admission | undefined;
    try {
      admission = await this.deps.health?.admit(definition);
    } catch (error) {
      await permit?.release();
      throw error;
    }
    if (admission?.kind === 'park') {
      await permit?.release();
      return { kind: 'park', reason: admission.reason };
    }
    return { kind: 'send', permit, slot: admission?.slot };
  }

  /**
   * A first attempt or a resend on the shared delivery Lambdas passes the webhook's concurrency
   * cap; turned away, its job goes back to the queue (WebhookAtCapacityError, see defer).
   */
  private async enterGate(definition: WebhookDefinition): Promise<Permit | undefined> {
    const permit = await this.tryEnterGate(definition);
    if (permit === 'busy') throw new WebhookAtCapacityError(definition.id);
    return permit;
  }

  /** The webhook's concurrency permit, 'busy' at its cap, undefined without a cap. */
  private async tryEnterGate(definition: WebhookDefinition): Promise<Permit | 'busy' | undefined> {
    const gate = this.deps.gate;
    if (!gate) return undefined;
    return (await gate.enter(definition.id, definition.maxConcurrency)) ?? 'busy';
  }

  /** How many requests may be in flight to the webhook at once (its driver's releases included). */
  capOf(definition: WebhookDefinition): number {
    return this.deps.gate?.capOf(definition.maxConcurrency) ?? Number.POSITIVE_INFINITY;
  }

  /**
   * One attempt. With a rate-limit `slot` it starts at the slot; undefined when it cannot start
   * on time for it (HealthGate.startAt): nothing was sent, and the caller parks the
   * notification RATE_LIMITED (no attempt consumed).
   */
  private async attempt(
    definition: WebhookDefinition,
    id: string,
    request: RenderedRequest,
    number: number,
    trigger: AttemptTrigger,
    { permit: held, slot }: { readonly permit?: Permit; readonly slot?: number } = {},
  ): Promise<{ record: Attempt; result: HttpResult } | undefined> {
    const permit = held;
    let startedAt = this.deps.clock.now();
    if (slot !== undefined && this.deps.health) {
      const onTime = await this.deps.health.startAt(definition, slot);
      if (!onTime) {
        await permit?.release();
        return undefined;
      }
      startedAt = onTime;
    }
    const headers = {
      ...request.headers,
      ...sendTimeHeaders(definition, id, startedAt, request.body),
    };
    let result: HttpResult | undefined;
    try {
      result = await this.deps.sender.send({ ...request, headers });
    } finally {
      await permit?.release(result?.durationMs);
    }
    const sent = result.kind === 'response' && result.statusCode >= 200 && result.statusCode < 300;
    return {
      result,
      record: {
        number,
        trigger,
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(result.durationMs),
        statusCode: result.kind === 'response' ? result.statusCode : null,
        outcome: sent ? 'SENT' : 'FAILED',
        error: sent ? null : result.kind === 'error' ? result.error : 'INVALID_HTTP_RESPONSE',
        // A receiver echoing the request must not make the history keep the webhook's secrets.
        responseBody: result.kind === 'response' ? redactorFor(definition)(result.body) : null,
      },
    };
  }

  /** Outcome of an attempt followed by retry `step` + 1 (step 0 = the first attempt). */
  private decide(verdict: Verdict, step: number): Decision {
    if (verdict.outcome === 'SENT')
      return {
        update: { status: 'SENT', failureReason: null, nextAttemptAt: null },
        waitSeconds: 0,
      };
    if (verdict.permanent) {
      return {
        update: { status: 'FAILED', failureReason: verdict.error, nextAttemptAt: null },
        waitSeconds: 0,
      };
    }
    const { schedule, timeScale, random } = this.deps.settings;
    const waitSeconds = nextWaitSeconds({
      schedule,
      step,
      retryAfterSeconds: verdict.retryAfterSeconds,
      random,
      timeScale,
    });
    const nextAttemptAt = new Date(
      this.deps.clock.now().getTime() + waitSeconds * 1000,
    ).toISOString();
    return {
      update: { status: 'WAITING', failureReason: verdict.error, nextAttemptAt },
      waitSeconds,
    };
  }

  /** The fifth retry: a failure stays WAITING without a next attempt until the machine marks it FAILED. */
  private decideLast(verdict: Verdict): Decision {
    if (verdict.outcome === 'FAILED' && !verdict.permanent) {
      return {
        update: { status: 'WAITING', failureReason: verdict.error, nextAttemptAt: null },
        waitSeconds: 0,
      };
    }
    return this.decide(verdict, 0);
  }

  private report(
    ref: NotificationRef,
    attempt: Attempt,
    decision: Decision,
    enqueuedAt: Date | undefined,
  ): void {
    const { observer, clock } = this.deps;
    const { status, failureReason } = decision.update;
    if (status === 'SENT') {
      observer.sent(
        ref,
        attempt,
        enqueuedAt ? clock.now().getTime() - enqueuedAt.getTime() : undefined,
      );
    } else if (status === 'FAILED') {
      observer.failed(ref, failureReason ?? 'INVALID_HTTP_RESPONSE', attempt);
    } else if (decision.update.nextAttemptAt !== null && attempt.trigger !== 'manual') {
      observer.retryScheduled(ref, attempt, decision.waitSeconds);
    } else {
      observer.attemptFailed(ref, attempt);
    }
  }

  /**
   * The stored request of an automatic or released attempt; undefined once its subject was
   * erased, after settling the notification FAILED ERASED (and counting a pending manual
   * resend as erased in its job).
   */
  private async payloadUnlessErased(
    notification: Notification,
  ): Promise<RenderedRequest | undefined> {
    try {
      return await this.requirePayload(notification.id);
    } catch (error) {
      if (!(error instanceof ErasedError)) throw error;
      await this.settleWithoutAttempt(notification, 'ERASED');
      return undefined;
    }
  }

  private async requirePayload(id: string): Promise<RenderedRequest> {
    const request = await this.deps.payloads.get(id);
    if (!request) throw new Error(`stored request of ${id} is missing`);
    return request;
  }

  /** What the state machine gets back: whether to stop, and when the next retry is due. */
  private output(
    notificationId: string,
    done: boolean,
    nextAttemptAt: string | null,
    waitSeconds?: number,
  ): AttemptTaskOutput {
    const due = nextAttemptAt ?? this.deps.clock.now().toISOString();
    return {
      notificationId,
      done,
      waitSeconds: waitSeconds ?? this.secondsUntil(due),
      nextAttemptAt: due,
    };
  }

  private secondsUntil(iso: string): number {
    return Math.max(0, (Date.parse(iso) - this.deps.clock.now().getTime()) / 1000);
  }

  private expiresAt(now: Date): number {
    return Math.floor(now.getTime() / 1000) + this.deps.settings.retentionDays * 86_400;
  }
}

interface Decision {
  readonly update: NotificationUpdate;
  readonly waitSeconds: number;
}

/** What a resend's outcome adds to its bulk resend job. */
function countOf(
  outcome: 'SENT' | 'FAILED' | 'ERASED',
): { sent: 1 } | { failed: 1 } | { erased: 1 } {
  return outcome === 'SENT' ? { sent: 1 } : outcome === 'ERASED' ? { erased: 1 } : { failed: 1 };
}

/** The outcome of the resend `key` if the notification's record holds it. */
function recordedResend(notification: Notification, key: string): 'SENT' | 'FAILED' | undefined {
  const entry = notification.resends?.find((r) => r.startsWith(`${key}=`));
  if (entry === undefined) return undefined;
  return entry.endsWith('=SENT') ? 'SENT' : 'FAILED';
}

/** The record's resends with this one added (the latest RESENDS_KEPT); nothing without a key. */
function withResend(
  notification: Notification,
  key: string | undefined,
  outcome: 'SENT' | 'FAILED',
): { resends?: readonly string[] } {
  if (key === undefined) return {};
  return { resends: [...(notification.resends ?? []), `${key}=${outcome}`].slice(-RESENDS_KEPT) };
}
