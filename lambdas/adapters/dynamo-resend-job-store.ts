/** Bulk resend jobs in DynamoDB (in the Notifications table, under their own id prefix). */
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ConflictError } from '../core/errors';
import { DEFAULTS } from '../defaults';
import type { ResendJob, ResendJobStore } from '../ports';
import { fromItem, isConditionFailure, putIfAbsent, toItem } from './dynamo-item';
import { RESEND_JOB_ID_PREFIX } from './dynamo-notification-store';

export interface DynamoResendJobStoreOptions {
  /** How long a job's progress stays readable (TTL on expiresAt). Default DEFAULTS.retentionDays. */
  readonly retentionSeconds?: number;
}

export class DynamoResendJobStore implements ResendJobStore {
  private readonly retentionSeconds: number;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly notificationsTableName: string,
    options: DynamoResendJobStoreOptions = {},
  ) {
    this.retentionSeconds = options.retentionSeconds ?? DEFAULTS.retentionDays * 24 * 3600;
  }

  async create(job: ResendJob): Promise<void> {
    const createdMs = Date.parse(job.createdAt);
    const base = Number.isNaN(createdMs) ? Date.now() : createdMs;
    const item = toItem({
      id: `${RESEND_JOB_ID_PREFIX}${job.jobId}`,
      jobId: job.jobId,
      count: job.count,
      queued: job.queued,
      sent: job.sent,
      failed: job.failed,
      createdAt: job.createdAt,
      expiresAt: Math.floor(base / 1000) + this.retentionSeconds,
    });
    if (!(await putIfAbsent(this.client, this.notificationsTableName, item)))
      throw new ConflictError(`resend job ${job.jobId} already exists`);
  }

  async get(jobId: string): Promise<ResendJob | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.notificationsTableName,
        Key: { id: { S: `${RESEND_JOB_ID_PREFIX}${jobId}` } },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    const raw = fromItem(out.Item);
    return {
      jobId: raw.jobId as string,
      count: raw.count as number,
      queued: raw.queued as number,
      sent: raw.sent as number,
      failed: raw.failed as number,
      erased: (raw.erased ?? 0) as number,
      createdAt: raw.createdAt as string,
    };
  }

  /** A job that no longer exists (expired) is not recreated: the increment is dropped. */
  async increment(
    jobId: string,
    counters: Partial<Pick<ResendJob, 'queued' | 'sent' | 'failed' | 'erased'>>,
  ): Promise<void> {
    const entries = (['queued', 'sent', 'failed', 'erased'] as const)
      .map((name) => [name, counters[name] ?? 0] as const)
      .filter(([, n]) => n !== 0);
    if (entries.length === 0) return;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.notificationsTableName,
          Key: { id: { S: `${RESEND_JOB_ID_PREFIX}${jobId}` } },
          UpdateExpression: `ADD ${entries.map(([name]) => `#${name} :${name}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeNames: Object.fromEntries(entries.map(([name]) => [`#${name}`, name])),
          ExpressionAttributeValues: Object.fromEntries(
            entries.map(([name, n]) => [`:${name}`, { N: String(n) }]),
          ),
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
