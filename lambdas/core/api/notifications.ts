/**
 * The communication history: list and read notifications, resend one, resend in bulk and
 * follow a bulk resend. The API never sends HTTP itself (it runs outside the VPC, so not
 * from the fixed sender IPs): every resend travels through the delivery queue.
 *
 * Bulk resend by ids: 1..1000 distinct ids, all of which must exist (an unknown id is a 404
 * naming it, and nothing is queued). By range: `from` (inclusive) .. `to` (exclusive),
 * optional `webhookId`, `status` (default FAILED); the matching notifications are counted
 * when the job is created (at most MAX_RANGE_RESEND) and expanded page by page by the
 * delivery Lambda. `queued` counts resend jobs placed on the queue so far; `sent` and
 * `failed` count their outcomes.
 */

import type {
  Clock,
  DeliveryQueue,
  NotificationQuery,
  NotificationStore,
  NotificationSummary,
  PayloadStore,
  ResendJob,
  ResendJobStore,
  WebhookStore,
} from '../../ports';
import { forEachBounded } from '../concurrency';
import {
  ErasedError,
  InvalidCursorError,
  NotFoundError,
  ValidationError,
  WebhookDisabledError,
} from '../errors';
import { newJobId } from '../ids';
import {
  type Attempt,
  type DeliveryJob,
  waitingReasonOf as impliedWaitingReason,
  NOTIFICATION_STATUSES,
  type NotificationStatus,
  type RenderedRequest,
  type ResendQuery,
  type WaitingReason,
} from '../model';
import { required } from '../required';
import { Issues, readEnum, readInteger, readIsoTime, readObject, readString } from './validation';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const MAX_RESEND_IDS = 1000;
/** A range resend counts its matches up front; beyond this, narrow the range (or split it). */
export const MAX_RANGE_RESEND = 10_000;
const COUNT_PAGE_SIZE = 100;
/**
 * How long a range resend may count its matches (the api Lambda has 29 s): a range whose count
 * takes longer (a filter the history is not keyed by, over a huge webhook; SENT across many
 * webhooks) is refused like one over MAX_RANGE_RESEND, to be narrowed, rather than cut off by
 * the timeout.
 */
export const RANGE_COUNT_BUDGET_MS = 20_000;
const LOOKUP_CONCURRENCY = 16;
const MAX_ID_LENGTH = 256;
/**
 * Every notification id is made by notificationIdFor ('ntf_' + 26 base32 characters). Anything
 * else cannot exist: 404 without a read (resend jobs share the table under other ids).
 */
const NOTIFICATION_ID = /^ntf_[0-9A-Z]{26}$/;
const MAX_CURSOR_LENGTH = 8192;
/** Failures decided before the rendered request is stored: no request to show (`request: null`). */
const NEVER_STORED: ReadonlySet<string> = new Set(['TEMPLATE_ERROR', 'PAYLOAD_TOO_LARGE']);

export const LIST_QUERY_PARAMS = [
  'webhookId',
  'status',
  'eventType',
  'from',
  'to',
  'limit',
  'cursor',
] as const;

export interface NotificationDetail {
  readonly id: string;
  readonly webhookId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly createdAt: string;
  readonly status: NotificationStatus;
  readonly failureReason: string | null;
  /** Detail of a failure that had no HTTP attempt (e.g. the template error); null otherwise. */
  readonly failureDetail: string | null;
  /** Why a WAITING notification waits (RETRY_SCHEDULED, CIRCUIT_OPEN, PAUSED, RATE_LIMITED); null otherwise. */
  readonly waitingReason: WaitingReason | null;
  /**
   * The request as first rendered; null when none was stored (TEMPLATE_ERROR,
   * PAYLOAD_TOO_LARGE, a webhook disabled or deleted before delivery, not yet delivered) or
   * it is no longer retained.
   */
  readonly request: RenderedRequest | ErasedRequestView | null;
  readonly attempts: readonly Attempt[];
  readonly nextAttemptAt: string | null;
}

/** A request erased with its subject's key: what stays is the method and the host. */
export interface ErasedRequestView {
  readonly erased: true;
  readonly method: string;
  readonly host: string;
}

/** The stored request, or what is left of it after an erasure. */
async function readRequest(
  payloads: PayloadStore,
  id: string,
): Promise<RenderedRequest | ErasedRequestView | undefined> {
  try {
    return await payloads.get(id);
  } catch (error) {
    if (error instanceof ErasedError)
      return { erased: true, method: error.method, host: error.host };
    throw error;
  }
}

export interface NotificationListView {
  readonly items: NotificationSummary[];
  readonly nextCursor: string | null;
}

export interface ResendJobView {
  readonly jobId: string;
  readonly count: number;
  readonly queued: number;
  readonly sent: number;
  readonly failed: number;
  /** Skipped: their request was erased. */
  readonly erased: number;
  readonly createdAt: string;
}

export interface NotificationServiceDeps {
  readonly notifications: NotificationStore;
  readonly payloads: PayloadStore;
  readonly resendJobs: ResendJobStore;
  /** A single resend is refused at once when its webhook is disabled or deleted. */
  readonly webhooks: Pick<WebhookStore, 'get'>;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
  /** Most notifications a range resend may match (default MAX_RANGE_RESEND). */
  readonly maxRangeResend?: number;
  /** How long counting a range may take (default RANGE_COUNT_BUDGET_MS), and its clock. */
  readonly rangeCountBudget?: { readonly ms: number; readonly now: () => number };
}

export class NotificationService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  /** Query parameters as strings (unknown names are refused at the edge). */
  async list(params: Readonly<Record<string, string | undefined>>): Promise<NotificationListView> {
    const query = parseListQuery(params);
    const page = await this.deps.notifications.list(query);
    return { items: page.items.map(toSummary), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<NotificationDetail> {
    if (!NOTIFICATION_ID.test(id)) throw notFound(id);
    const [notification, stored] = await Promise.all([
      this.deps.notifications.get(id),
      readRequest(this.deps.payloads, id),
    ]);
    if (!notification) throw notFound(id);
    // These end a notification before its request is stored: whatever the Payloads table may
    // hold under the id (a repeated job rendering again), it was never this notification's.
    const request =
      notification.failureReason !== null &&
      NEVER_STORED.has(notification.failureReason) &&
      notification.attempts.length === 0
        ? undefined
        : stored;
    return {
      id: notification.id,
      webhookId: notification.webhookId,
      eventId: notification.eventId,
      eventType: notification.eventType,
      createdAt: notification.createdAt,
      status: notification.status,
      failureReason: notification.failureReason,
      failureDetail: notification.failureDetail ?? null,
      waitingReason: waitingReasonOf(notification, notification.waitingReason),
      request: !request
        ? null
        : 'erased' in request
          ? request
          : {
              method: request.method,
              url: request.url,
              headers: { ...request.headers },
              body: request.body,
            },
      attempts: notification.attempts,
      nextAttemptAt: notification.nextAttemptAt,
    };
  }

  async resendOne(id: string): Promise<{ notificationId: string; queued: true }> {
    const notification = NOTIFICATION_ID.test(id)
      ? await this.deps.notifications.get(id)
      : undefined;
    if (!notification) throw notFound(id);
    // 409 ERASED when the request was erased: there is nothing left to send.
    await this.deps.payloads.get(id);
    // The delivery path refuses it too (a webhook disabled while the job waits in the queue),
    // but only the caller can be told here.
    const definition = await this.deps.webhooks.get(notification.webhookId);
    if (!definition?.enabled) {
      throw new WebhookDisabledError(
        definition
          ? `Webhook ${notification.webhookId} is disabled: enable it to resend its notifications.`
          : `Webhook ${notification.webhookId} was deleted: its notifications cannot be resent.`,
      );
    }
    await this.deps.queue.enqueue([
      {
        kind: 'resend',
        notificationId: id,
        webhookId: notification.webhookId,
        resendId: newJobId(),
      },
    ]);
    return { notificationId: id, queued: true };
  }

  async resendBulk(body: unknown): Promise<{ jobId: string; count: number }> {
    const request = parseBulkResend(body);
    return 'ids' in request ? this.resendIds(request.ids) : this.resendRange(request.query);
  }

  async getJob(jobId: string): Promise<ResendJobView> {
    const job = await this.deps.resendJobs.get(jobId);
    if (!job) throw new NotFoundError(`Resend job ${jobId} not found.`);
    return {
      jobId: job.jobId,
      count: job.count,
      queued: job.queued,
      sent: job.sent,
      failed: job.failed,
      erased: job.erased ?? 0,
      createdAt: job.createdAt,
    };
  }

  private async resendIds(ids: readonly string[]): Promise<{ jobId: string; count: number }> {
    const missing: { index: number; id: string }[] = [];
    const webhookIds: string[] = [];
    await forEachBounded(ids, LOOKUP_CONCURRENCY, async (id, index) => {
      const notification = NOTIFICATION_ID.test(id)
        ? await this.deps.notifications.get(id)
        : undefined;
      if (notification) webhookIds[index] = notification.webhookId;
      else missing.push({ index, id });
    });
    if (missing.length > 0) {
      missing.sort((a, b) => a.index - b.index);
      throw new NotFoundError(
        `${missing.length} of ${ids.length} notifications not found; nothing was queued.`,
        missing.map((m) => ({
          index: m.index,
          path: `ids[${m.index}]`,
          message: `notification ${m.id} not found`,
        })),
      );
    }
    const job = await this.createJob(ids.length);
    await this.deps.queue.enqueue(
      ids.map((notificationId, index) => ({
        kind: 'resend',
        notificationId,
        webhookId: webhookIds[index],
        jobId: job.jobId,
      })),
    );
    await this.deps.resendJobs.increment(job.jobId, { queued: ids.length });
    return { jobId: job.jobId, count: job.count };
  }

  private async resendRange(query: ResendQuery): Promise<{ jobId: string; count: number }> {
    const count = await this.countMatches(query);
    const job = await this.createJob(count);
    if (count > 0) {
      const expand: DeliveryJob = { kind: 'resendQuery', jobId: job.jobId, query };
      await this.deps.queue.enqueue([expand]);
    }
    return { jobId: job.jobId, count };
  }

  private async countMatches(query: ResendQuery): Promise<number> {
    const max = this.deps.maxRangeResend ?? MAX_RANGE_RESEND;
    const budget = this.deps.rangeCountBudget ?? { ms: RANGE_COUNT_BUDGET_MS, now: Date.now };
    const until = budget.now() + budget.ms;
    let count = 0;
    let cursor: string | undefined;
    do {
      const page = await this.deps.notifications.list({ ...query, limit: COUNT_PAGE_SIZE, cursor });
      count += page.items.length;
      if (count > max) {
        throw new ValidationError(
          `The range matches more than ${max} notifications; narrow it (from/to, webhookId, status) and resend in parts.`,
          [{ path: 'from', message: `matches more than ${max} notifications` }],
        );
      }
      cursor = page.nextCursor ?? undefined;
      if (cursor && budget.now() >= until) {
        throw new ValidationError(
          `The range takes too long to count (${count} matches in the first ${budget.ms} ms); narrow it (from/to, webhookId, status) and resend in parts.`,
          [{ path: 'from', message: `could not be counted within ${budget.ms} ms` }],
        );
      }
    } while (cursor);
    return count;
  }

  private async createJob(count: number): Promise<ResendJob> {
    const job: ResendJob = {
      jobId: newJobId(),
      count,
      queued: 0,
      sent: 0,
      failed: 0,
      createdAt: this.deps.clock.now().toISOString(),
    };
    await this.deps.resendJobs.create(job);
    return job;
  }
}

/** Exactly the documented fields, whatever else an adapter's index projection carries. */
function toSummary(item: NotificationSummary): NotificationSummary {
  return {
    id: item.id,
    webhookId: item.webhookId,
    eventId: item.eventId,
    eventType: item.eventType,
    createdAt: item.createdAt,
    status: item.status,
    failureReason: item.failureReason,
    waitingReason: waitingReasonOf(item, item.waitingReason),
    nextAttemptAt: item.nextAttemptAt,
    attemptCount: item.attemptCount,
  };
}

/** The recorded reason; records from before reasons were recorded imply it from the status. */
function waitingReasonOf(
  n: { readonly status: NotificationStatus },
  recorded: WaitingReason | null | undefined,
): WaitingReason | null {
  return impliedWaitingReason({ status: n.status, waitingReason: recorded ?? undefined });
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Notification ${id} not found.`);
}

export function parseListQuery(
  raw: Readonly<Record<string, string | undefined>>,
): NotificationQuery {
  // `?webhookId=&status=` (a form with empty fields) means "no filter".
  const params = Object.fromEntries(
    Object.entries(raw).filter(([, v]) => v !== undefined && v !== ''),
  );
  const issues = new Issues();
  const idRule = { min: 1, max: MAX_ID_LENGTH };
  const webhookId =
    params.webhookId !== undefined
      ? readString(params.webhookId, 'webhookId', idRule, issues)
      : undefined;
  const status =
    params.status !== undefined
      ? readEnum(params.status, 'status', NOTIFICATION_STATUSES, issues)
      : undefined;
  const eventType =
    params.eventType !== undefined
      ? readString(params.eventType, 'eventType', idRule, issues)
      : undefined;
  const from = params.from !== undefined ? readIsoTime(params.from, 'from', issues) : undefined;
  const to = params.to !== undefined ? readIsoTime(params.to, 'to', issues) : undefined;
  if (from !== undefined && to !== undefined && from >= to)
    issues.add('to', 'must be later than from');
  const limit =
    params.limit !== undefined
      ? readInteger(params.limit, 'limit', 1, MAX_PAGE_SIZE, issues)
      : DEFAULT_PAGE_SIZE;
  issues.throwIfAny('Invalid notification query');
  // Any cursor the store did not issue is INVALID_CURSOR; the store checks its MAC and fields.
  const cursor = params.cursor;
  if (cursor !== undefined && (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH))
    throw new InvalidCursorError(cursor.length === 0 ? 'empty' : 'too long');
  return {
    limit: required(limit, 'limit'),
    ...(webhookId !== undefined ? { webhookId } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(eventType !== undefined ? { eventType } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  };
}

export type BulkResendRequest =
  | { readonly ids: readonly string[] }
  | { readonly query: ResendQuery };

export function parseBulkResend(body: unknown): BulkResendRequest {
  const issues = new Issues();
  const obj = readObject(body, '', ['ids', 'from', 'to', 'webhookId', 'status'], issues);
  issues.throwIfAny('Invalid resend request');
  if (Object.hasOwn(obj, 'ids')) {
    for (const key of ['from', 'to', 'webhookId', 'status']) {
      if (Object.hasOwn(obj, key))
        issues.add(key, 'cannot be combined with ids (send either ids or a range)');
    }
    const ids = obj.ids;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_RESEND_IDS) {
      issues.add('ids', `must be a list of 1 to ${MAX_RESEND_IDS} notification ids`);
      issues.throwIfAny('Invalid resend request');
      return { ids: [] };
    }
    const seen = new Map<string, number>();
    ids.forEach((id, i) => {
      const value = readString(id, `ids[${i}]`, { min: 1, max: MAX_ID_LENGTH }, issues);
      if (value === undefined) return;
      const first = seen.get(value);
      if (first !== undefined) issues.add(`ids[${i}]`, `repeats ids[${first}]`);
      else seen.set(value, i);
    });
    issues.throwIfAny('Invalid resend request');
    return { ids: ids as string[] };
  }
  if (!Object.hasOwn(obj, 'from')) issues.add('from', 'is required (or send ids)');
  if (!Object.hasOwn(obj, 'to')) issues.add('to', 'is required (or send ids)');
  const from = Object.hasOwn(obj, 'from') ? readIsoTime(obj.from, 'from', issues) : undefined;
  const to = Object.hasOwn(obj, 'to') ? readIsoTime(obj.to, 'to', issues) : undefined;
  if (from !== undefined && to !== undefined && from >= to)
    issues.add('to', 'must be later than from');
  const webhookId = Object.hasOwn(obj, 'webhookId')
    ? readString(obj.webhookId, 'webhookId', { min: 1, max: MAX_ID_LENGTH }, issues)
    : undefined;
  const status: NotificationStatus | undefined = Object.hasOwn(obj, 'status')
    ? readEnum(obj.status, 'status', NOTIFICATION_STATUSES, issues)
    : 'FAILED';
  issues.throwIfAny('Invalid resend request');
  return {
    query: {
      from: required(from, 'from'),
      to: required(to, 'to'),
      status: required(status, 'status'),
      ...(webhookId !== undefined ? { webhookId } : {}),
    },
  };
}
