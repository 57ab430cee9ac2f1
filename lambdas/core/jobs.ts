/** Decoding of queue messages into DeliveryJobs: a malformed message is an error, never a guess. */
import type { DeliveryJob } from './model';
import { NOTIFICATION_STATUSES } from './model';

/** A queue message that is no delivery job (the delivery handler reports it as a batch item failure). */
class MalformedJobError extends Error {
  override readonly name = 'MalformedJobError';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isCount = (value: unknown): boolean =>
  value === undefined || (Number.isInteger(value) && (value as number) >= 0);

export function parseDeliveryJob(body: string): DeliveryJob {
  let job: unknown;
  try {
    job = JSON.parse(body);
  } catch {
    throw new MalformedJobError('queue message is not JSON');
  }
  if (!isObject(job)) throw new MalformedJobError('queue message is not an object');
  if (!isCount(job.throttled))
    throw new MalformedJobError('queue message has an invalid throttled count');
  switch (job.kind) {
    case 'deliver': {
      const event = job.event;
      if (
        isString(job.notificationId) &&
        isString(job.webhookId) &&
        (job.webhookVersion === undefined || Number.isInteger(job.webhookVersion)) &&
        isObject(event) &&
        isString(event.id) &&
        isString(event.type) &&
        isString(event.occurredAt) &&
        isObject(event.data) &&
        isCount(job.deferrals) &&
        (job.awaitedFirst === undefined || job.awaitedFirst === true)
      ) {
        return job as unknown as DeliveryJob;
      }
      break;
    }
    case 'resend':
      if (
        isString(job.notificationId) &&
        (job.jobId === undefined || isString(job.jobId)) &&
        (job.resendId === undefined || isString(job.resendId)) &&
        (job.webhookId === undefined || isString(job.webhookId)) &&
        isCount(job.deferrals)
      )
        return job as unknown as DeliveryJob;
      break;
    case 'resendQuery': {
      const query = job.query;
      if (
        isString(job.jobId) &&
        isObject(query) &&
        isString(query.from) &&
        isString(query.to) &&
        (NOTIFICATION_STATUSES as readonly unknown[]).includes(query.status) &&
        (query.webhookId === undefined || isString(query.webhookId)) &&
        (job.cursor === undefined || isString(job.cursor))
      ) {
        return job as unknown as DeliveryJob;
      }
      break;
    }
    case 'health':
      if (isString(job.webhookId)) return job as unknown as DeliveryJob;
      break;
  }
  throw new MalformedJobError(
    `queue message is not a valid delivery job (kind ${String(job.kind)})`,
  );
}

/** Jobs with the same key do the same work: a second copy in one batch is redundant. */
export function jobKey(job: DeliveryJob): string {
  switch (job.kind) {
    case 'deliver':
      return `deliver:${job.notificationId}`;
    case 'resend':
      return `resend:${job.notificationId}:${job.jobId ?? job.resendId ?? ''}`;
    case 'resendQuery':
      return `resendQuery:${job.jobId}:${job.cursor ?? ''}`;
    case 'health':
      return `health:${job.webhookId}`;
  }
}

/**
 * The SQS message group of a job: the webhook it delivers to, so SQS fair queues see one
 * tenant per destination and serve quiet webhooks ahead of a slow or flooded one. A bulk
 * resend by range over all webhooks belongs to no webhook: its expansion is a tenant of its
 * own (the resend job). At most 128 characters, as SQS requires.
 */
export function messageGroupOf(job: DeliveryJob): string {
  switch (job.kind) {
    case 'deliver':
      return job.webhookId;
    case 'resend':
      // Messages queued before resend jobs carried their webhook: a tenant of their own.
      return job.webhookId ?? `resend:${job.notificationId}`;
    case 'resendQuery':
      return job.query.webhookId ?? `resend:${job.jobId}`;
    case 'health':
      return job.webhookId;
  }
}
