/**
 * In-memory stores and queue with the same semantics as the DynamoDB and SQS adapters
 * (conditional create, attempt idempotency, list order, filters and cursors), for unit tests
 * and benchmarks. Listing reuses the sharded merge of dynamo-listing.ts, so pages and cursors
 * behave exactly as on DynamoDB. Values are copied in and out, as a database would.
 */

import { randomBytes } from 'node:crypto';
import { fixedCursorKey } from '../../lambdas/adapters/cursor-key';
import {
  type IndexedSummary,
  indexKeysOf,
  listPage,
  matchesFilter,
  type ReadPartition,
} from '../../lambdas/adapters/dynamo-listing';
import { ConflictError } from '../../lambdas/core/errors';
import { type HealthRecord, initialHealth } from '../../lambdas/core/health/model';
import {
  type Attempt,
  type DeliveryJob,
  isParkReason,
  type Notification,
  type NotificationStatus,
  type ParkReason,
  type RenderedRequest,
  type WebhookDefinition,
  waitingReasonOf,
} from '../../lambdas/core/model';
import { RETRY_COUNT } from '../../lambdas/core/retry-schedule';
import type {
  CursorKeySource,
  DeliveryQueue,
  EnqueueOptions,
  ErasureRecord,
  EventTypeRecord,
  EventTypeStore,
  HealthStore,
  NotificationPage,
  NotificationQuery,
  NotificationStore,
  NotificationUpdate,
  PayloadStore,
  ResendJob,
  ResendJobStore,
  SubjectKeyStore,
  WebhookHistory,
  WebhookStore,
} from '../../lambdas/ports';

/**
 * Values are copied once on write and frozen, so reads can hand out the stored object itself:
 * no caller can change what the store holds, and the hot read paths copy nothing.
 */
function frozenCopy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const child = frozenCopy((value as Record<string, unknown>)[key]);
    // A `__proto__` key is data here, not a prototype to set.
    if (key === '__proto__') Object.defineProperty(out, key, { value: child, enumerable: true });
    else out[key] = child;
  }
  return Object.freeze(out);
}
/** Only a park reason is carried, as the DynamoDB store does; the others follow from the status. */
const parkedOnly = (reason: ReturnType<typeof waitingReasonOf>) =>
  isParkReason(reason) ? reason : undefined;

/** The store's values are plain JSON-shaped data; a frozen value is shared, never copied again. */
const copy = <T>(value: T): T => frozenCopy(value) as T;

export class MemoryWebhookStore implements WebhookStore, WebhookHistory {
  private readonly items = new Map<string, WebhookDefinition>();
  /** Deleted ids: tombstones, as on DynamoDB (kept for good here: no retention passes). */
  private readonly deleted = new Set<string>();
  private revisionCounter = 0;

  async historyIds(): Promise<string[]> {
    return [...this.items.keys(), ...this.deleted];
  }

  async revision(): Promise<number> {
    return this.revisionCounter;
  }

  async get(id: string): Promise<WebhookDefinition | undefined> {
    const item = this.items.get(id);
    return item;
  }

  async list(): Promise<WebhookDefinition[]> {
    return [...this.items.values()].map(copy);
  }

  async put(definition: WebhookDefinition, expectedVersion?: number): Promise<void> {
    const existing = this.items.get(definition.id);
    if (expectedVersion === undefined) {
      if (existing) throw new ConflictError(`webhook ${definition.id} already exists`);
    } else if (existing?.version !== expectedVersion) {
      throw new ConflictError(
        `webhook ${definition.id} was changed or deleted since version ${expectedVersion}`,
      );
    }
    this.items.set(definition.id, copy(definition));
    this.deleted.delete(definition.id);
    this.revisionCounter += 1;
  }

  async delete(id: string): Promise<boolean> {
    const deleted = this.items.delete(id);
    if (deleted) {
      this.deleted.add(id);
      this.revisionCounter += 1;
    }
    return deleted;
  }

  async disable(id: string, expectedVersion: number, at: string): Promise<void> {
    const existing = this.items.get(id);
    if (existing?.version !== expectedVersion)
      throw new ConflictError(
        `webhook ${id} was changed or deleted since version ${expectedVersion}`,
      );
    this.items.set(
      id,
      copy({ ...existing, enabled: false, version: expectedVersion + 1, updatedAt: at }),
    );
    this.revisionCounter += 1;
  }
}

interface StoredNotification {
  notification: Notification;
  expiresAt: number;
  /** Index keys, kept current as DynamoDB keeps its indexes. */
  keys: ReturnType<typeof indexKeysOf>;
}

export class MemoryNotificationStore implements NotificationStore {
  /**
   * Cursors are signed as in DynamoDB; by default under a key of this store's own. Lists across
   * webhooks read the partitions of `webhooks`' history ids, as on DynamoDB; without it, of
   * every webhook this store holds notifications of.
   */
  constructor(
    private readonly cursorKey: CursorKeySource = fixedCursorKey(),
    private readonly webhooks?: WebhookHistory,
  ) {}

  private readonly items = new Map<string, StoredNotification>();
  /** Index partition key -> members, one map per index, so a partition read touches only its items. */
  private readonly partitions = {
    webhookShard: new Map<string, Set<string>>(),
    statusShard: new Map<string, Set<string>>(),
  };

  async create(notification: Notification, expiresAtEpochSeconds: number): Promise<boolean> {
    if (this.items.has(notification.id)) return false;
    const stored: StoredNotification = {
      notification: copy({
        ...notification,
        waitingReason: parkedOnly(waitingReasonOf(notification)),
      }),
      expiresAt: expiresAtEpochSeconds,
      keys: indexKeysOf(notification),
    };
    this.items.set(notification.id, stored);
    this.index(stored);
    return true;
  }

  async get(id: string): Promise<Notification | undefined> {
    const stored = this.items.get(id);
    return stored?.notification;
  }

  async recordAttempt(
    id: string,
    attempt: Attempt,
    update: NotificationUpdate,
    attempts?: readonly Attempt[],
  ): Promise<boolean> {
    const stored = this.items.get(id);
    if (!stored || (stored.notification.attempts.at(-1)?.number ?? 0) !== attempt.number - 1)
      return false;
    stored.notification = Object.freeze({
      ...stored.notification,
      ...copy(update),
      waitingReason: parkedOnly(waitingReasonOf(update)),
      attempts: Object.freeze(
        attempts === undefined
          ? [...stored.notification.attempts, copy(attempt)]
          : attempts.map((a) => copy(a)),
      ),
    });
    this.reindex(stored);
    return true;
  }

  async setStatus(
    id: string,
    update: NotificationUpdate,
    expectedStatus?: NotificationStatus,
  ): Promise<boolean> {
    const stored = this.items.get(id);
    if (!stored || (expectedStatus !== undefined && stored.notification.status !== expectedStatus))
      return false;
    stored.notification = Object.freeze({
      ...stored.notification,
      ...copy(update),
      waitingReason: parkedOnly(waitingReasonOf(update)),
    });
    this.reindex(stored);
    return true;
  }

  list(query: NotificationQuery): Promise<NotificationPage> {
    return listPage(
      query,
      { read: this.readPartition, historyIds: () => this.historyIds() },
      this.cursorKey,
    );
  }

  private async historyIds(): Promise<readonly string[]> {
    if (this.webhooks) return this.webhooks.historyIds();
    return [...this.partitions.webhookShard.keys()].map((key) =>
      key.slice(0, key.lastIndexOf('#')),
    );
  }

  async listParked(webhookId: string, limit: number): Promise<string[]> {
    return this.parked(webhookId)
      .slice(0, limit)
      .map((n) => n.id);
  }

  async countParked(webhookId: string, _cap: number): Promise<Record<ParkReason, number>> {
    const counts: Record<ParkReason, number> = { CIRCUIT_OPEN: 0, PAUSED: 0, RATE_LIMITED: 0 };
    for (const n of this.parked(webhookId)) counts[n.waitingReason as ParkReason]++;
    return counts;
  }

  private parked(webhookId: string): Notification[] {
    const out: { key: string; n: Notification }[] = [];
    for (const { notification: n, keys } of this.items.values()) {
      if (n.webhookId === webhookId && n.status === 'WAITING' && isParkReason(n.waitingReason))
        out.push({ key: keys.createdKey, n });
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out.map((e) => e.n);
  }

  async listOverdueRetries(dueBefore: string, limit: number): Promise<string[]> {
    const out: { key: string; id: string }[] = [];
    for (const { notification: n, keys } of this.items.values()) {
      if (n.status !== 'WAITING' || isParkReason(n.waitingReason)) continue;
      const due = n.nextAttemptAt != null && n.nextAttemptAt < dueBefore;
      const seriesEnd = n.nextAttemptAt == null && n.attempts.length >= 1 + RETRY_COUNT;
      if (!due && !seriesEnd) continue;
      out.push({ key: keys.createdKey, id: n.id });
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out.slice(0, limit).map((e) => e.id);
  }

  /** The retention instant recorded at create (epoch seconds), for tests. */
  expiresAtOf(id: string): number | undefined {
    return this.items.get(id)?.expiresAt;
  }

  get size(): number {
    return this.items.size;
  }

  /** As DynamoDB's sparse indexes: an item without an index's key (SENT: statusShard) is not in it. */
  private index(stored: StoredNotification): void {
    for (const attribute of ['webhookShard', 'statusShard'] as const) {
      const key = stored.keys[attribute];
      if (key === undefined) continue;
      const members = this.partitions[attribute].get(key) ?? new Set<string>();
      members.add(stored.notification.id);
      this.partitions[attribute].set(key, members);
    }
  }

  private reindex(stored: StoredNotification): void {
    // Index keys depend on the status only (webhook, id and creation time never change).
    if (stored.keys.statusShard === indexKeysOf(stored.notification).statusShard) return;
    for (const attribute of ['webhookShard', 'statusShard'] as const) {
      const key = stored.keys[attribute];
      if (key !== undefined) this.partitions[attribute].get(key)?.delete(stored.notification.id);
    }
    stored.keys = indexKeysOf(stored.notification);
    this.index(stored);
  }

  private readonly readPartition: ReadPartition = async (partition, filter, opts) => {
    const items: IndexedSummary[] = [];
    const attribute = partition.keyAttribute === 'webhookShard' ? 'webhookShard' : 'statusShard';
    for (const id of this.partitions[attribute].get(partition.key) ?? []) {
      const { notification: n, keys } = this.items.get(id)!;
      const { attempts, failureDetail: _detail, ...rest } = n;
      const item: IndexedSummary = {
        createdKey: keys.createdKey,
        summary: { ...rest, attemptCount: attempts.length },
      };
      if (matchesFilter(item, filter, opts.before)) items.push(item);
    }
    items.sort((a, b) => (a.createdKey < b.createdKey ? 1 : a.createdKey > b.createdKey ? -1 : 0));
    return { items };
  };
}

export class MemoryPayloadStore implements PayloadStore {
  private readonly items = new Map<string, { request: RenderedRequest; expiresAt: number }>();

  async putOnce(
    notificationId: string,
    request: RenderedRequest,
    expiresAtEpochSeconds: number,
  ): Promise<'created' | 'exists'> {
    if (this.items.has(notificationId)) return 'exists';
    this.items.set(notificationId, { request: copy(request), expiresAt: expiresAtEpochSeconds });
    return 'created';
  }

  async get(notificationId: string): Promise<RenderedRequest | undefined> {
    const stored = this.items.get(notificationId);
    return stored?.request;
  }

  get size(): number {
    return this.items.size;
  }
}

export class MemoryResendJobStore implements ResendJobStore {
  private readonly items = new Map<string, ResendJob>();

  async create(job: ResendJob): Promise<void> {
    if (this.items.has(job.jobId))
      throw new ConflictError(`resend job ${job.jobId} already exists`);
    this.items.set(job.jobId, copy(job));
  }

  async get(jobId: string): Promise<ResendJob | undefined> {
    return this.items.get(jobId);
  }

  private readonly counted = new Set<string>();

  /** As on DynamoDB: a job that does not exist is not recreated; `once` counts once. */
  async increment(
    jobId: string,
    counters: Partial<Pick<ResendJob, 'queued' | 'sent' | 'failed' | 'erased'>>,
    once?: string,
  ): Promise<void> {
    const job = this.items.get(jobId);
    if (!job) return;
    if (once !== undefined) {
      const key = `${jobId}\n${once}`;
      if (this.counted.has(key)) return;
      this.counted.add(key);
    }
    this.items.set(
      jobId,
      Object.freeze({
        ...job,
        queued: job.queued + (counters.queued ?? 0),
        sent: job.sent + (counters.sent ?? 0),
        failed: job.failed + (counters.failed ?? 0),
        erased: (job.erased ?? 0) + (counters.erased ?? 0),
      }),
    );
  }
}

/** Subject keys in memory: one random key per subject until erased. */
export class MemorySubjectKeyStore implements SubjectKeyStore {
  private readonly keys = new Map<string, Buffer>();
  private readonly current = new Map<string, string>();
  readonly erasures: ErasureRecord[] = [];

  async keyFor(subject: string): Promise<{ keyId: string; key: Buffer }> {
    let keyId = this.current.get(subject);
    if (keyId === undefined) {
      keyId = `k#${subject}#${this.erasures.length}`;
      this.current.set(subject, keyId);
      this.keys.set(keyId, randomBytes(32));
    }
    return { keyId, key: this.keys.get(keyId)! };
  }

  async keyById(keyId: string): Promise<Buffer | undefined> {
    return this.keys.get(keyId);
  }

  async erase(subject: string, erasedBy: string, at: Date): Promise<ErasureRecord> {
    const keyId = this.current.get(subject);
    if (keyId !== undefined) this.keys.delete(keyId);
    this.current.delete(subject);
    const record = {
      subject,
      erasedBy,
      erasedAt: at.toISOString(),
      auditId: `a#${at.toISOString()}#${this.erasures.length}`,
    };
    this.erasures.push(record);
    return record;
  }
}

/** Records every job enqueued, in order, with the delay it was queued with. */
export class MemoryDeliveryQueue implements DeliveryQueue {
  readonly jobs: DeliveryJob[] = [];
  /** delaySeconds of each entry of `jobs` (same index). */
  readonly delays: number[] = [];

  async enqueue(jobs: readonly DeliveryJob[], options: EnqueueOptions = {}): Promise<void> {
    this.jobs.push(...jobs.map(copy));
    this.delays.push(...jobs.map(() => options.delaySeconds ?? 0));
  }

  /** Removes and returns everything queued so far (for tests that act as the consumer). */
  drain(): DeliveryJob[] {
    this.delays.splice(0, this.delays.length);
    return this.jobs.splice(0, this.jobs.length);
  }
}

/** The event-type catalogue in memory, with the DynamoDB adapter's rules (lastSeenAt never moves back). */
export class MemoryEventTypeStore implements EventTypeStore {
  readonly items = new Map<string, EventTypeRecord>();
  writes = 0;

  async record(type: string, seenAt: string): Promise<void> {
    this.writes += 1;
    const current = this.items.get(type);
    if (current && current.lastSeenAt >= seenAt) return;
    this.items.set(type, { type, firstSeenAt: current?.firstSeenAt ?? seenAt, lastSeenAt: seenAt });
  }

  async list(): Promise<EventTypeRecord[]> {
    return [...this.items.values()];
  }
}

/** Destination health records, counters and rate-limit slots in memory (DynamoHealthStore's semantics). */
export class MemoryHealthStore implements HealthStore {
  private readonly records = new Map<string, HealthRecord>();
  private readonly counts = new Map<string, { sent: number; failed: number }>();
  private readonly slots = new Map<string, number>();

  async get(webhookId: string): Promise<HealthRecord | undefined> {
    return this.records.get(webhookId);
  }

  private current(webhookId: string, now: Date): HealthRecord {
    return this.records.get(webhookId) ?? initialHealth(webhookId, now);
  }

  async addFailure(webhookId: string, now: Date): Promise<HealthRecord> {
    const r = this.current(webhookId, now);
    const next = { ...r, consecutiveFailures: r.consecutiveFailures + 1 };
    this.records.set(webhookId, next);
    return next;
  }

  async resetFailures(webhookId: string): Promise<void> {
    const r = this.records.get(webhookId);
    if (r && r.consecutiveFailures > 0)
      this.records.set(webhookId, { ...r, consecutiveFailures: 0 });
  }

  async transition(next: HealthRecord, expectedVersion: number): Promise<boolean> {
    const version = this.records.get(next.webhookId)?.version ?? 0;
    if (version !== expectedVersion) return false;
    this.records.set(next.webhookId, { ...next, version: expectedVersion + 1 });
    return true;
  }

  async slowDown(webhookId: string, until: string): Promise<void> {
    const r = this.current(webhookId, new Date());
    if (r.slowUntil === null || r.slowUntil < until)
      this.records.set(webhookId, { ...r, slowUntil: until });
  }

  async markWanted(webhookId: string, now: Date): Promise<HealthRecord> {
    const r = this.current(webhookId, now);
    const next = { ...r, driverWantedAt: now.toISOString(), version: r.version + 1 };
    this.records.set(webhookId, next);
    return next;
  }

  async beat(webhookId: string, seq: number, now: Date): Promise<boolean> {
    const r = this.records.get(webhookId);
    if (!r?.driverRunning || r.driverSeq !== seq) return false;
    this.records.set(webhookId, { ...r, driverBeatAt: now.toISOString() });
    return true;
  }

  async addCounts(
    webhookId: string,
    at: Date,
    counts: { sent: number; failed: number },
  ): Promise<void> {
    const key = `${webhookId}#${Math.floor(at.getTime() / 60_000)}`;
    const c = this.counts.get(key) ?? { sent: 0, failed: 0 };
    this.counts.set(key, { sent: c.sent + counts.sent, failed: c.failed + counts.failed });
  }

  async readCounts(
    webhookId: string,
    from: Date,
    to: Date,
  ): Promise<{ sent: number; failed: number }> {
    let sent = 0;
    let failed = 0;
    for (let m = Math.floor(from.getTime() / 60_000); m <= Math.floor(to.getTime() / 60_000); m++) {
      const c = this.counts.get(`${webhookId}#${m}`);
      sent += c?.sent ?? 0;
      failed += c?.failed ?? 0;
    }
    return { sent, failed };
  }

  async reserveSlots(
    webhookId: string,
    shard: number,
    spacingMs: number,
    nowMs: number,
    horizonMs: number,
    count: number,
  ): Promise<number[]> {
    const key = `${webhookId}#${shard}`;
    const first = Math.max(this.slots.get(key) ?? 0, nowMs);
    const granted = Math.min(count, Math.floor((nowMs + horizonMs - first) / spacingMs) + 1);
    if (granted <= 0) return [];
    this.slots.set(key, first + granted * spacingMs);
    return Array.from({ length: granted }, (_, i) => first + i * spacingMs);
  }
}
