/**
 * The interfaces the core needs from the outside world. Adapters under lambdas/adapters/
 * implement them for AWS (DynamoDB, SQS, Step Functions, undici) and for memory (tests,
 * benchmarks). The core imports only these, never an SDK.
 */

import type { HealthRecord } from './core/health/model';
import type {
  Attempt,
  DeliveryJob,
  FailureReason,
  Notification,
  NotificationStatus,
  ParkReason,
  PendingResend,
  RenderedRequest,
  WaitingReason,
  WebhookDefinition,
} from './core/model';
import type { RetryStart } from './core/retry-contract';
import type { PlatformEventType } from './core/subscriptions';

export interface Clock {
  now(): Date;
}

export interface WebhookStore {
  /**
   * minVersion: a cache answers from memory only when its copy is at least this version
   * (stores always read the current one).
   */
  get(
    id: string,
    options?: { readonly minVersion?: number },
  ): Promise<WebhookDefinition | undefined>;
  list(): Promise<WebhookDefinition[]>;
  /**
   * Creates (expectedVersion undefined: must not exist) or replaces (must be at expectedVersion).
   * Bumps the definitions revision in the same atomic write.
   */
  put(definition: WebhookDefinition, expectedVersion?: number): Promise<void>;
  /** false when it did not exist. Bumps the definitions revision in the same atomic write. */
  delete(id: string): Promise<boolean>;
  /**
   * Turns a definition off (enabled false, version + 1, updatedAt `at`) if it is still at
   * expectedVersion, else a ConflictError; nothing else of it is written (its sealed secrets
   * stay as they are). Bumps the definitions revision in the same atomic write.
   */
  disable(id: string, expectedVersion: number, at: string): Promise<void>;
  /**
   * The definitions revision, read strongly consistent: it changes with every put and delete,
   * atomically with it, so a cached list() is current while the revision is unchanged.
   */
  revision(): Promise<number>;
}

/**
 * The webhooks the history may hold notifications of: a list across webhooks (SENT, or no
 * status) reads each one's partitions.
 */
export interface WebhookHistory {
  /** Live webhooks and deleted ones until their notifications' retention has passed. */
  historyIds(): Promise<readonly string[]>;
}

/** The templates a request is rendered from (what every request of a webhook shares). */
export type RequestTemplates = Pick<
  WebhookDefinition,
  'method' | 'url' | 'headers' | 'body' | 'contentType'
>;

export interface PayloadStore {
  /** Write-once (attribute_not_exists). 'exists' when an earlier write won; the stored value is unchanged. */
  putOnce(
    notificationId: string,
    request: RenderedRequest,
    expiresAtEpochSeconds: number,
    /** Whose data it is: the URL, headers and body are sealed with the subject's key. */
    subject?: string,
    /**
     * The templates it was rendered from: a store may keep what every request of the webhook
     * shares once (a compression dictionary) rather than in each item.
     */
    templates?: RequestTemplates,
  ): Promise<'created' | 'exists'>;
  /** Throws ErasedError when the request was sealed with a subject key since destroyed. */
  get(notificationId: string): Promise<RenderedRequest | undefined>;
}

/** What an erasure destroyed and who asked for it (kept as an audit entry, without data). */
export interface ErasureRecord {
  readonly subject: string;
  readonly erasedAt: string;
  readonly erasedBy: string;
  readonly auditId: string;
}

/**
 * Per-subject data keys (crypto-shredding), kept apart from the data they protect and
 * wrapped by the envelope's data keys. Erasing a subject destroys its key: every request
 * sealed with it becomes unreadable for good, though the Payloads items are never touched.
 */
export interface SubjectKeyStore {
  /** The subject's current key (made on first use), for sealing; cached briefly. */
  keyFor(subject: string): Promise<{ readonly keyId: string; readonly key: Buffer }>;
  /** A key by id, for opening; undefined once destroyed. Not cached: erasure applies at once. */
  keyById(keyId: string): Promise<Buffer | undefined>;
  /** Destroys the subject's key and records who erased it and when. */
  erase(subject: string, erasedBy: string, at: Date): Promise<ErasureRecord>;
}

export interface NotificationUpdate {
  readonly status: NotificationStatus;
  readonly failureReason: FailureReason | null;
  readonly nextAttemptAt: string | null;
  /**
   * Why it waits (status WAITING); a park reason also puts it in the byParked index, anything
   * else takes it out. Default: RETRY_SCHEDULED when WAITING with a next attempt, else null.
   */
  readonly waitingReason?: WaitingReason | null;
  /** A manual resend waiting for its webhook: set it, clear it (null), or leave it (absent). */
  readonly pendingResend?: PendingResend | null;
  /** Replaces Notification.resends when given (a manual resend recorded). */
  readonly resends?: readonly string[];
}

export interface NotificationQuery {
  readonly webhookId?: string;
  readonly status?: NotificationStatus;
  readonly eventType?: string;
  /** Inclusive ISO lower bound on createdAt. */
  readonly from?: string;
  /** Exclusive ISO upper bound on createdAt. */
  readonly to?: string;
  readonly limit: number;
  /** Opaque, from a previous page; the adapter validates it (tampered -> InvalidCursorError). */
  readonly cursor?: string;
}

/** What list pages carry (the index projection): no attempts, no request. */
export interface NotificationSummary extends Omit<Notification, 'attempts'> {
  readonly attemptCount: number;
}

export interface NotificationPage {
  readonly items: NotificationSummary[];
  readonly nextCursor: string | null;
}

/**
 * The installation's secret for pagination cursors: the same bytes in every Lambda and process
 * of one installation, never stored beside the data. Cursors carry a MAC under it.
 */
export interface CursorKeySource {
  key(): Promise<Uint8Array>;
}

/** How far one sweep's scan of WAITING partitions goes (NotificationStore.listOverdueRetries). */
export interface OverdueRetryScan {
  /** Which shard is read first: the sweep's slot, so the starting shard moves every sweep. */
  readonly rotation?: number;
  /** No read starts after this many milliseconds (the first always runs). */
  readonly budgetMs?: number;
}

export interface NotificationStore {
  /** Conditional create; false when a notification with this id already exists. */
  create(notification: Notification, expiresAtEpochSeconds: number): Promise<boolean>;
  get(id: string): Promise<Notification | undefined>;
  /**
   * Appends an attempt and sets the status, only if the notification currently holds exactly
   * attempt.number - 1 attempts (idempotent per notification id and attempt number).
   * false when that condition failed (a duplicate delivery already recorded it). With
   * `attempts`, the whole list to store instead (those read plus this one, some excerpts
   * dropped: see attempt-history.ts), under the same condition.
   */
  recordAttempt(
    id: string,
    attempt: Attempt,
    update: NotificationUpdate,
    attempts?: readonly Attempt[],
  ): Promise<boolean>;
  /** Status change without an attempt (e.g. marking FAILED after the last retry). */
  setStatus(
    id: string,
    update: NotificationUpdate,
    expectedStatus?: NotificationStatus,
  ): Promise<boolean>;
  list(query: NotificationQuery): Promise<NotificationPage>;
  /** Ids of a webhook's parked notifications (byParked index), oldest first. */
  listParked(webhookId: string, limit: number): Promise<string[]>;
  /** A webhook's parked notifications per reason (at most about `cap` counted per index shard). */
  countParked(webhookId: string, cap: number): Promise<Record<ParkReason, number>>;
  /**
   * Notifications WAITING for a retry (not parked) whose nextAttemptAt is before `dueBefore`,
   * and those WAITING (not parked) for nothing after at least 1 + RETRY_COUNT attempts (a series
   * whose end was never marked: the index shows no attempt times, the caller checks them).
   * byStatus index, every WAITING shard, oldest created first within a shard, at most `limit`
   * ids. What the index shows: a caller reads the record before acting on it.
   * `rotation` picks the shard read first (successive sweeps start at successive shards), and
   * no further read starts once `budgetMs` has passed: a huge backlog of parked notifications,
   * which the reads pass over, cannot keep a sweep from ever reaching the last shards.
   */
  listOverdueRetries(
    dueBefore: string,
    limit: number,
    options?: OverdueRetryScan,
  ): Promise<string[]>;
}

export interface ResendJob {
  readonly jobId: string;
  readonly count: number;
  readonly queued: number;
  readonly sent: number;
  readonly failed: number;
  /** Notifications skipped because their request was erased. */
  readonly erased?: number;
  readonly createdAt: string;
}

export interface ResendJobStore {
  create(job: ResendJob): Promise<void>;
  get(jobId: string): Promise<ResendJob | undefined>;
  /**
   * Atomic counter increments. With `once`, at most once per (job, once): a repeat of the same
   * increment (a job delivered again after it counted) counts nothing.
   */
  increment(
    jobId: string,
    counters: Partial<Pick<ResendJob, 'queued' | 'sent' | 'failed' | 'erased'>>,
    once?: string,
  ): Promise<void>;
}

export interface EnqueueOptions {
  /** Hidden from consumers for this long (0..900 s, SQS DelaySeconds). Default 0. */
  readonly delaySeconds?: number;
}

export interface DeliveryQueue {
  /**
   * Sends in SendMessageBatch chunks (10 messages / size limit), each message in its webhook's
   * message group (messageGroupOf); throws if any entry could not be queued.
   */
  enqueue(jobs: readonly DeliveryJob[], options?: EnqueueOptions): Promise<void>;
}

export interface RetryScheduler {
  /**
   * Starts the retry machine's execution of one retry (retryExecutionName: notification,
   * retry, scheduling attempt) with input { notificationId, retry, nextAttemptAt }. Starting
   * it again is harmless (no second execution).
   */
  start(input: RetryStart): Promise<void>;
}

/** A request as sent on the wire: the stored request plus send-time headers (auth, signature). */
export interface OutgoingRequest extends RenderedRequest {}

export type HttpResult =
  | {
      readonly kind: 'response';
      readonly statusCode: number;
      readonly headers: Readonly<Record<string, string>>;
      /** At most 1 KiB of the body, decoded as UTF-8. */
      readonly body: string;
      readonly durationMs: number;
    }
  | {
      readonly kind: 'error';
      readonly error: Extract<
        FailureReason,
        'TIMEOUT' | 'CONNECTION_ERROR' | 'TLS_ERROR' | 'BLOCKED_URL'
      >;
      readonly message: string;
      readonly durationMs: number;
    };

export interface HttpSender {
  /** Runs the egress guard, then sends; never throws for network failures (they are results). */
  send(request: OutgoingRequest): Promise<HttpResult>;
}

/** What the delivery engine reports for logs and metrics; adapters map it to Powertools. */
export interface DeliveryObserver {
  sent(notification: NotificationRef, attempt: Attempt, latencyMs: number | undefined): void;
  failed(notification: NotificationRef, reason: FailureReason, attempt: Attempt | undefined): void;
  retryScheduled(notification: NotificationRef, attempt: Attempt, waitSeconds: number): void;
  attemptFailed(notification: NotificationRef, attempt: Attempt): void;
  duplicate(notification: NotificationRef, what: string): void;
  /** A job went back to the queue because its webhook was at its concurrency cap. */
  deferred(notification: NotificationRef, deferrals: number, delaySeconds: number): void;
  warn(message: string, notification: NotificationRef, detail?: Record<string, unknown>): void;
}

export interface NotificationRef {
  readonly notificationId: string;
  readonly webhookId?: string;
}

/** One entry of the event-type catalogue. */
export interface EventTypeRecord {
  readonly type: string;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
}

export interface EventTypeStore {
  /**
   * Records that the type was published at `seenAt`: sets firstSeenAt if absent, moves
   * lastSeenAt forward (never back).
   */
  record(type: string, seenAt: string): Promise<void>;
  list(): Promise<EventTypeRecord[]>;
}

/** The webhook an operational event is about, as the publisher needs it. */
export interface OperationalEventSubject {
  readonly id: string;
  /** null when the definition no longer exists. */
  readonly name: string | null;
  /** Its subscriptions: a webhook that takes only `platform.*` events causes no operational events. */
  readonly events?: readonly string[];
}

export interface OperationalEventOptions {
  /**
   * Identifies the occurrence (e.g. the notification id, the instant the circuit opened):
   * publishing the same type about the same webhook with the same key again creates no second
   * notification. Default: the current time (no deduplication).
   */
  readonly key?: string;
  /** The occurrence stems from an operational delivery: nothing is published (no loops). */
  readonly causedByOperational?: boolean;
}

export interface OperationalEventResult {
  /** undefined when nothing was published (see OperationalEventOptions.causedByOperational). */
  readonly eventId: string | undefined;
  readonly notifications: number;
}

/**
 * Publishes the platform's own events (`platform.circuit.opened`, ...) through the ingest
 * pipeline: matched against the definitions as producer events are, queued for delivery.
 */
export interface OperationalEventPublisher {
  publish(
    type: PlatformEventType,
    about: OperationalEventSubject,
    data?: Readonly<Record<string, unknown>>,
    options?: OperationalEventOptions,
  ): Promise<OperationalEventResult>;
}

/** A data key for envelope encryption: the key itself, and how it is stored (wrapped). */
export interface DataKey {
  /** 32 bytes (AES-256). */
  readonly key: Buffer;
  /** The key wrapped by its provider (KMS ciphertext blob, or sealed by the local key file). */
  readonly wrapped: string;
}

/**
 * Where data keys come from: KMS GenerateDataKey on AWS, the installation key file locally.
 * Implementations cache: `current()` hands out the same key for a while, `unwrap()` remembers
 * what it unwrapped, so the hot paths make no KMS call.
 */
export interface DataKeyProvider {
  current(): Promise<DataKey>;
  /** The plain key of a wrapped one; throws when it cannot be unwrapped. */
  unwrap(wrapped: string): Promise<Buffer>;
}

// ---- destination health ------------------------------------------------------------------

/** Where health records, their counters and rate-limit slots live (lambdas/core/health). */
export interface HealthStore {
  /** Strongly consistent read; undefined when the webhook never had a health event. */
  get(webhookId: string): Promise<HealthRecord | undefined>;
  /** Adds one failure to the consecutive count (creating the record); the record after it. */
  addFailure(webhookId: string, now: Date): Promise<HealthRecord>;
  /** Sets the consecutive count to 0 if it was above 0. */
  resetFailures(webhookId: string): Promise<void>;
  /**
   * Writes the record if it is still at `expectedVersion` (0: never transitioned), with version
   * expectedVersion + 1. false when someone changed it first.
   */
  transition(next: HealthRecord, expectedVersion: number): Promise<boolean>;
  /** Raises slowUntil to `until` (never lowers it). */
  slowDown(webhookId: string, until: string): Promise<void>;
  /** Records that a notification was parked (bumps the version, so a driver about to end sees it). */
  markWanted(webhookId: string, now: Date): Promise<HealthRecord>;
  /**
   * The running driver `seq` says it is alive (sets driverBeatAt, no version bump); false when
   * another driver took over or none runs.
   */
  beat(webhookId: string, seq: number, now: Date): Promise<boolean>;
  /** Adds attempt outcomes to the minute bucket of `at` (sharded item; expires after an hour). */
  addCounts(webhookId: string, at: Date, counts: { sent: number; failed: number }): Promise<void>;
  /** Sums the buckets of the minutes in [from, to]. */
  readCounts(webhookId: string, from: Date, to: Date): Promise<{ sent: number; failed: number }>;
  /**
   * Reserves up to `count` next slots of a rate-limit shard, those at most `horizonMs` after
   * `nowMs`: their instants (epoch ms), none when the next one is further away.
   */
  reserveSlots(
    webhookId: string,
    shard: number,
    spacingMs: number,
    nowMs: number,
    horizonMs: number,
    count: number,
  ): Promise<number[]>;
}

/** Input of a health driver execution (one per webhook at a time). */
export interface HealthDriverInput {
  readonly webhookId: string;
  readonly seq: number;
  readonly steps: number;
}

export interface HealthDriverScheduler {
  /** Starts the driver execution named after the webhook and seq; starting it again is harmless. */
  startDriver(input: HealthDriverInput): Promise<void>;
}

/** What destination health reports for logs and metrics. */
export interface HealthObserver {
  parked(notification: NotificationRef, reason: ParkReason): void;
  released(webhookId: string, count: number): void;
  circuitOpened(webhookId: string, consecutiveFailures: number): void;
  circuitClosed(webhookId: string): void;
  webhookDisabled(webhookId: string): void;
  /** A driver step failed; the driver tries again shortly instead of failing its execution. */
  stepFailed(webhookId: string, error: unknown): void;
  /** A driver that stopped beating (its execution failed, timed out or was stopped) was replaced by `seq`. */
  driverRestarted(webhookId: string, seq: number, lastBeatAt: string): void;
  /** Gauges from a webhook's driver: its circuit is open, and what waits per reason. */
  heartbeat(
    webhookId: string,
    gauges: { readonly open: boolean; readonly waiting: Readonly<Record<ParkReason, number>> },
  ): void;
}
