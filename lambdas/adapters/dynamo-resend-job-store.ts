/** Bulk resend jobs in DynamoDB (in the Notifications table, under their own id prefix). */
import { createHash } from 'node:crypto';
import {
  type DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ConflictError } from '../core/errors';
import { DEFAULTS } from '../defaults';
import type { ResendJob, ResendJobStore } from '../ports';
import {
  fromItem,
  isCancelledByCondition,
  isConditionFailure,
  putIfAbsent,
  toItem,
} from './dynamo-item';
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

  /**
   * A job that no longer exists (expired) is not recreated: the increment is dropped. With
   * `once`, the increment and a marker item (`job#<jobId>#<hash of once>`, expiring with the
   * job) are written in one transaction that requires the marker absent: a repeat counts nothing.
   */
  async increment(
    jobId: string,
    counters: Partial<Pick<ResendJob, 'queued' | 'sent' | 'failed' | 'erased'>>,
    once?: string,
  ): Promise<void> {
    const entries = (['queued', 'sent', 'failed', 'erased'] as const)
      .map((name) => [name, counters[name] ?? 0] as const)
      .filter(([, n]) => n !== 0);
    if (entries.length === 0) return;
    const update = {
      TableName: this.notificationsTableName,
      Key: { id: { S: `${RESEND_JOB_ID_PREFIX}${jobId}` } },
      UpdateExpression: `ADD ${entries.map(([name]) => `#${name} :${name}`).join(', ')}`,
      ConditionExpression: 'attribute_exists(id)',
      ExpressionAttributeNames: Object.fromEntries(entries.map(([name]) => [`#${name}`, name])),
      ExpressionAttributeValues: Object.fromEntries(
        entries.map(([name, n]) => [`:${name}`, { N: String(n) }]),
      ),
    };
    try {
      if (once === undefined) {
        await this.client.send(new UpdateItemCommand(update));
        return;
      }
      const marker = createHash('sha256').update(once).digest('base64url').slice(0, 32);
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.notificationsTableName,
                Item: {
                  id: { S: `${RESEND_JOB_ID_PREFIX}${jobId}#${marker}` },
                  expiresAt: {
                    N: String(Math.floor(Date.now() / 1000) + this.retentionSeconds),
                  },
                },
                ConditionExpression: 'attribute_not_exists(id)',
              },
            },
            { Update: update },
          ],
        }),
      );
    } catch (err) {
      // Counted before (the marker exists), or the job is gone: nothing to count.
      if (!isConditionFailure(err) && !isCancelledByCondition(err)) throw err;
    }
  }
}
