/** Notification records in DynamoDB (the Notifications table) and their list indexes. */
import {
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type Attempt,
  isParkReason,
  type Notification,
  type NotificationStatus,
  type ParkReason,
  type WaitingReason,
  waitingReasonOf,
} from '../core/model';
import { RETRY_COUNT } from '../core/retry-schedule';
import type {
  CursorKeySource,
  NotificationPage,
  NotificationQuery,
  NotificationStore,
  NotificationSummary,
  NotificationUpdate,
  OverdueRetryScan,
  WebhookHistory,
} from '../ports';
import { attemptAttribute, attemptOf } from './dynamo-attempts';
import {
  fromItem,
  type Item,
  isConditionFailure,
  putIfAbsent,
  toAttribute,
  toItem,
} from './dynamo-item';
import {
  createdAtOfKey,
  type IndexedSummary,
  indexKeysOf,
  inStatusIndex,
  type ListReadBudget,
  listPage,
  type ReadPartition,
  statusShardOf,
  webhookIdOfShard,
} from './dynamo-listing';
import { NOTIFICATION_INDEX_SHARDS, NOTIFICATIONS_TABLE } from './dynamo-schema';

/** Resend jobs share the notifications table under this id prefix, without index attributes. */
export const RESEND_JOB_ID_PREFIX = 'job#';

/**
 * The attributes a notification and its index projection (list summaries) have in common.
 * Items written before their keys stood in for them carry `webhookId` and `createdAt`; newer
 * ones leave them to the keys (see create), except `webhookId` while in byStatus.
 */
function commonFields(raw: Record<string, unknown>): Omit<NotificationSummary, 'attemptCount'> {
  const id = raw.id as string;
  return {
    id,
    webhookId: (raw.webhookId ?? webhookIdOfShard(raw.webhookShard as string)) as string,
    eventId: raw.eventId as string,
    eventType: raw.eventType as string,
    createdAt: (raw.createdAt ?? createdAtOfKey(raw.createdKey as string, id)) as string,
    status: raw.status as NotificationStatus,
    failureReason: (raw.failureReason ?? null) as Notification['failureReason'],
    nextAttemptAt: (raw.nextAttemptAt ?? null) as string | null,
    // Only a park reason is carried; the others follow from the status (model.waitingReasonOf).
    ...(raw.status === 'WAITING' && isParkReason(raw.waitingReason as WaitingReason)
      ? { waitingReason: raw.waitingReason as WaitingReason }
      : {}),
  };
}

function toNotification(raw: Record<string, unknown>): Notification {
  return {
    ...commonFields(raw),
    ...(typeof raw.failureDetail === 'string' ? { failureDetail: raw.failureDetail } : {}),
    ...(raw.pendingResend !== null && typeof raw.pendingResend === 'object'
      ? {
          pendingResend: {
            jobId: ((raw.pendingResend as { jobId?: unknown }).jobId ?? null) as string | null,
            ...(typeof (raw.pendingResend as { resendId?: unknown }).resendId === 'string'
              ? { resendId: (raw.pendingResend as { resendId: string }).resendId }
              : {}),
          },
        }
      : {}),
    ...(Array.isArray(raw.resends)
      ? { resends: (raw.resends as unknown[]).filter((r): r is string => typeof r === 'string') }
      : {}),
    // Either stored form, fields in the documented order (dynamo-attempts.ts).
    attempts: ((raw.attempts ?? []) as unknown[]).map(attemptOf),
  };
}

function toSummary(raw: Record<string, unknown>): NotificationSummary {
  return { ...commonFields(raw), attemptCount: (raw.attemptCount ?? 0) as number };
}

export class DynamoNotificationStore implements NotificationStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    /** Signs and checks list cursors: the same key everywhere in one installation. */
    private readonly cursorKey: CursorKeySource,
    /** The webhooks a list across webhooks reads (the Webhooks table, tombstones included). */
    private readonly webhooks: WebhookHistory,
    /** How long a list page reads (LIST_READ_BUDGET_MS unless tests say otherwise). */
    private readonly listBudget: ListReadBudget = {},
  ) {}

  /**
   * `createdAt` is not stored: `createdKey` (the sort key of every index) carries it. Nor is
   * `webhookId` while the item stays out of byStatus (SENT): `webhookShard` carries it, but the
   * byStatus projection has no `webhookShard`, so an item in byStatus carries `webhookId` too.
   */
  async create(notification: Notification, expiresAtEpochSeconds: number): Promise<boolean> {
    const keys = indexKeysOf(notification);
    const item = toItem({
      id: notification.id,
      webhookId: keys.statusShard !== undefined ? notification.webhookId : undefined,
      eventId: notification.eventId,
      eventType: notification.eventType,
      status: notification.status,
      // Absent rather than null (readers answer null): bytes stored twice, item and index.
      failureReason: notification.failureReason ?? undefined,
      failureDetail: notification.failureDetail ?? undefined,
      attemptCount: notification.attempts.length,
      nextAttemptAt: notification.nextAttemptAt ?? undefined,
      waitingReason: waitingReasonOf(notification) ?? undefined,
      expiresAt: expiresAtEpochSeconds,
      ...keys,
    });
    item.attempts = { L: notification.attempts.map(attemptAttribute) };
    if (isParkReason(waitingReasonOf(notification)) && item.webhookShard)
      item.parkedShard = item.webhookShard;
    return putIfAbsent(this.client, this.tableName, item);
  }

  async get(id: string): Promise<Notification | undefined> {
    if (id.startsWith(RESEND_JOB_ID_PREFIX)) return undefined;
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: id } },
        ConsistentRead: true,
      }),
    );
    return out.Item ? toNotification(fromItem(out.Item)) : undefined;
  }

  async recordAttempt(
    id: string,
    attempt: Attempt,
    update: NotificationUpdate,
    attempts?: readonly Attempt[],
  ): Promise<boolean> {
    return this.updateStatus(id, update, {
      sets: [
        attempts === undefined
          ? 'attempts = list_append(attempts, :attempt)'
          : 'attempts = :attempt',
        'attemptCount = attemptCount + :one',
      ],
      condition: 'attemptCount = :previous',
      values: {
        ':attempt': { L: (attempts ?? [attempt]).map(attemptAttribute) },
        ':one': { N: '1' },
        ':previous': { N: String(attempt.number - 1) },
      },
    });
  }

  async setStatus(
    id: string,
    update: NotificationUpdate,
    expectedStatus?: NotificationStatus,
  ): Promise<boolean> {
    if (id.startsWith(RESEND_JOB_ID_PREFIX)) return false;
    return this.updateStatus(id, update, {
      sets: [],
      condition:
        expectedStatus === undefined
          ? 'attribute_exists(id)'
          : 'attribute_exists(id) AND #status = :expected',
      values: expectedStatus === undefined ? {} : { ':expected': { S: expectedStatus } },
    });
  }

  /**
   * A status change under `change.condition`; false when the condition failed. An item entering
   * byStatus needs `webhookId` (that index does not project `webhookShard`), which the caller
   * does not pass: the first write requires it present, as it is unless the item was created
   * SENT (then it holds no statusShard and no webhookId). Only then, the item returned by the
   * failed condition gives it (from `webhookShard`) and the change is written again with it:
   * once per item (it stays when the item is SENT again), on a resend of a sent notification.
   */
  private async updateStatus(
    id: string,
    update: NotificationUpdate,
    change: { readonly sets: string[]; readonly condition: string; readonly values: Item },
  ): Promise<boolean> {
    const entering = inStatusIndex(update.status);
    const write = (webhookId: string | undefined) =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { id: { S: id } },
          UpdateExpression: statusUpdateExpression(update, [
            ...change.sets,
            ...(webhookId !== undefined ? ['webhookId = :webhookId'] : []),
          ]),
          ConditionExpression:
            entering && webhookId === undefined
              ? `${change.condition} AND attribute_exists(webhookId)`
              : change.condition,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ...change.values,
            ...this.updateValues(id, update),
            ...(webhookId !== undefined ? { ':webhookId': { S: webhookId } } : {}),
          },
          ...(entering && webhookId === undefined
            ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const }
            : {}),
        }),
      );
    try {
      await write(undefined);
      return true;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // The item as it was: absent, or failing the caller's condition, or without webhookId.
      const old = (err as { Item?: Item }).Item;
      const shard = old?.webhookShard?.S;
      if (!entering || old === undefined || old.webhookId !== undefined || shard === undefined)
        return false;
      try {
        await write(webhookIdOfShard(shard));
        return true;
      } catch (again) {
        if (isConditionFailure(again)) return false;
        throw again;
      }
    }
  }

  list(query: NotificationQuery): Promise<NotificationPage> {
    return listPage(
      query,
      { read: this.readPartition, historyIds: () => this.webhooks.historyIds() },
      this.cursorKey,
      this.listBudget,
    );
  }

  /** Ids of parked notifications of a webhook, oldest first (k-way merge over the shards). */
  async listParked(webhookId: string, limit: number): Promise<string[]> {
    const perShard = await Promise.all(
      Array.from({ length: NOTIFICATION_INDEX_SHARDS }, (_, shard) =>
        this.client
          .send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: NOTIFICATIONS_TABLE.byParkedIndex.name,
              KeyConditionExpression: '#pk = :pk',
              ExpressionAttributeNames: { '#pk': NOTIFICATIONS_TABLE.byParkedIndex.partitionKey },
              ExpressionAttributeValues: { ':pk': { S: `${webhookId}#${shard}` } },
              ScanIndexForward: true,
              Limit: limit,
            }),
          )
          .then((out) =>
            (out.Items ?? []).map((item) => ({
              id: item.id?.S ?? '',
              key: item.createdKey?.S ?? '',
            })),
          ),
      ),
    );
    return perShard
      .flat()
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, limit)
      .map((entry) => entry.id);
  }

  /** Parked notifications of a webhook per reason, counting at most `cap` per shard. */
  async countParked(webhookId: string, cap: number): Promise<Record<ParkReason, number>> {
    const counts: Record<ParkReason, number> = { CIRCUIT_OPEN: 0, PAUSED: 0, RATE_LIMITED: 0 };
    await Promise.all(
      Array.from({ length: NOTIFICATION_INDEX_SHARDS }, async (_, shard) => {
        let start: Item | undefined;
        let seen = 0;
        do {
          const out = await this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: NOTIFICATIONS_TABLE.byParkedIndex.name,
              KeyConditionExpression: '#pk = :pk',
              ExpressionAttributeNames: {
                '#pk': NOTIFICATIONS_TABLE.byParkedIndex.partitionKey,
                '#reason': 'waitingReason',
              },
              ExpressionAttributeValues: { ':pk': { S: `${webhookId}#${shard}` } },
              ProjectionExpression: '#reason',
              ExclusiveStartKey: start,
            }),
          );
          for (const item of out.Items ?? []) {
            const reason = item.waitingReason?.S;
            if (isParkReason(reason as WaitingReason)) counts[reason as ParkReason]++;
          }
          seen += out.Items?.length ?? 0;
          start = out.LastEvaluatedKey;
        } while (start !== undefined && seen < cap);
      }),
    );
    return counts;
  }

  /**
   * WAITING notifications due before `dueBefore` and not parked: the WAITING partitions of
   * byStatus, one shard after the other, paged until `limit` are found. The filter reads only
   * projected attributes (no fetch from the table).
   */
  async listOverdueRetries(
    dueBefore: string,
    limit: number,
    options: OverdueRetryScan = {},
  ): Promise<string[]> {
    const found: string[] = [];
    const until = Date.now() + (options.budgetMs ?? Number.POSITIVE_INFINITY);
    const first = Math.abs(Math.trunc(options.rotation ?? 0)) % NOTIFICATION_INDEX_SHARDS;
    let reads = 0;
    for (let k = 0; k < NOTIFICATION_INDEX_SHARDS && found.length < limit; k++) {
      const shard = (first + k) % NOTIFICATION_INDEX_SHARDS;
      let start: Item | undefined;
      do {
        if (reads++ > 0 && Date.now() >= until) return found;
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: NOTIFICATIONS_TABLE.byStatusIndex.name,
            KeyConditionExpression: '#pk = :pk',
            // Due before the grace, or (the end of a series never marked FAILED) due at no
            // time after a full series of attempts; never parked. Items written before null
            // fields were left out carry a NULL nextAttemptAt instead of none.
            FilterExpression:
              '(#next < :dueBefore OR ((attribute_not_exists(#next) OR attribute_type(#next, :null))' +
              ' AND #count >= :seriesAttempts))' +
              ' AND (attribute_not_exists(#reason) OR #reason = :scheduled)',
            ExpressionAttributeNames: {
              '#pk': NOTIFICATIONS_TABLE.byStatusIndex.partitionKey,
              '#next': 'nextAttemptAt',
              '#reason': 'waitingReason',
              '#count': 'attemptCount',
            },
            ExpressionAttributeValues: {
              ':pk': { S: `WAITING#${shard}` },
              ':dueBefore': { S: dueBefore },
              ':null': { S: 'NULL' },
              ':seriesAttempts': { N: String(1 + RETRY_COUNT) },
              ':scheduled': { S: 'RETRY_SCHEDULED' },
            },
            ProjectionExpression: 'id',
            ScanIndexForward: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) {
          if (found.length >= limit) break;
          found.push(item.id?.S ?? '');
        }
        start = out.LastEvaluatedKey;
      } while (start !== undefined && found.length < limit);
    }
    return found;
  }

  private updateValues(id: string, update: NotificationUpdate): Item {
    const statusShard = statusShardOf(id, update.status);
    const values: Item = { ':status': { S: update.status } };
    for (const [name, value] of Object.entries(nullableFieldsOf(update)))
      if (value !== null) values[`:${name}`] = { S: value };
    return {
      ...values,
      ...(statusShard !== undefined ? { ':statusShard': { S: statusShard } } : {}),
      ...(update.pendingResend
        ? {
            ':pendingResend': {
              M: {
                jobId: toAttribute(update.pendingResend.jobId),
                ...(update.pendingResend.resendId !== undefined
                  ? { resendId: { S: update.pendingResend.resendId } }
                  : {}),
              },
            },
          }
        : {}),
      ...(update.resends ? { ':resends': { L: update.resends.map((r) => ({ S: r })) } } : {}),
    };
  }

  private readonly readPartition: ReadPartition = async (partition, filter, opts) => {
    const values: Item = { ':pk': { S: partition.key } };
    // The position is inclusive here (the item at it is dropped below); `upper` is never a stored key.
    let high = opts.before;
    if (filter.upper !== undefined && (high === undefined || filter.upper < high))
      high = filter.upper;
    const low = filter.lower;
    if (low !== undefined && high !== undefined && low > high) return { items: [] };
    let keyCondition = '#pk = :pk';
    if (low !== undefined && high !== undefined) keyCondition += ' AND #ck BETWEEN :low AND :high';
    else if (low !== undefined) keyCondition += ' AND #ck >= :low';
    else if (high !== undefined) keyCondition += ' AND #ck <= :high';
    if (low !== undefined) values[':low'] = { S: low };
    if (high !== undefined) values[':high'] = { S: high };
    const names: Record<string, string> = { '#pk': partition.keyAttribute };
    if (low !== undefined || high !== undefined) names['#ck'] = 'createdKey';
    const filters: string[] = [];
    if (filter.status !== undefined) {
      filters.push('#status = :status');
      names['#status'] = 'status';
      values[':status'] = { S: filter.status };
    }
    if (filter.eventType !== undefined) {
      filters.push('#eventType = :eventType');
      names['#eventType'] = 'eventType';
      values[':eventType'] = { S: filter.eventType };
    }
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: partition.index,
        KeyConditionExpression: keyCondition,
        ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        Limit: opts.limit,
        ...(opts.continuation !== undefined
          ? { ExclusiveStartKey: opts.continuation as Item }
          : {}),
      }),
    );
    const items: IndexedSummary[] = [];
    for (const item of out.Items ?? []) {
      const raw = fromItem(item);
      const createdKey = raw.createdKey as string;
      if (opts.before !== undefined && createdKey >= opts.before) continue;
      items.push({ createdKey, summary: toSummary(raw) });
    }
    const scannedTo = out.LastEvaluatedKey?.createdKey?.S;
    return {
      items,
      ...(out.LastEvaluatedKey !== undefined ? { continuation: out.LastEvaluatedKey } : {}),
      ...(scannedTo !== undefined ? { scannedTo } : {}),
    };
  };
}

/**
 * The UpdateExpression of a status change (after `extraSets`). The sparse indexes: byStatus holds
 * every status but SENT (statusShardOf), so moving to SENT removes statusShard and any other
 * status sets it again; parking puts the item in byParked (its own webhookShard), anything
 * else takes it out. A pending manual resend is set, cleared, or left as it is.
 */
function statusUpdateExpression(update: NotificationUpdate, extraSets: string[] = []): string {
  const sets = [...extraSets, '#status = :status'];
  const removes: string[] = [];
  // A null field is removed, not stored as NULL: the readers answer null for an absent one.
  for (const [name, value] of Object.entries(nullableFieldsOf(update)))
    if (value === null) removes.push(name);
    else sets.push(`${name} = :${name}`);
  if (inStatusIndex(update.status)) sets.push('statusShard = :statusShard');
  else removes.push('statusShard');
  if (isParkReason(waitingReasonOf(update))) sets.push('parkedShard = webhookShard');
  else removes.push('parkedShard');
  if (update.pendingResend) sets.push('pendingResend = :pendingResend');
  else if (update.pendingResend === null) removes.push('pendingResend');
  if (update.resends) sets.push('resends = :resends');
  return `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`;
}

/** The status fields a change sets or clears, by attribute name (string or null). */
function nullableFieldsOf(update: NotificationUpdate): Record<string, string | null> {
  return {
    failureReason: update.failureReason,
    nextAttemptAt: update.nextAttemptAt,
    waitingReason: waitingReasonOf(update),
  };
}
