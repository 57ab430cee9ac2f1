/**
 * DynamoDB implementations of the stores (lambdas/ports.ts), on the low-level client with a
 * small codec for the few shapes stored. One request per operation, no read-before-write:
 * conditions make repeated writes (SQS at-least-once, Lambda retries) idempotent.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  type TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { EnvelopeCipher } from '../core/crypto/envelope';
import { ConflictError } from '../core/errors';
import {
  type Attempt,
  isParkReason,
  type Notification,
  type NotificationStatus,
  type ParkReason,
  type RenderedRequest,
  type WaitingReason,
  type WebhookDefinition,
  waitingReasonOf,
} from '../core/model';
import { DEFAULTS } from '../defaults';
import type {
  CursorKeySource,
  EventTypeRecord,
  EventTypeStore,
  NotificationPage,
  NotificationQuery,
  NotificationStore,
  NotificationSummary,
  NotificationUpdate,
  PayloadStore,
  ResendJob,
  ResendJobStore,
  SubjectKeyStore,
  WebhookStore,
} from '../ports';
import {
  type IndexedSummary,
  indexKeysOf,
  listPage,
  type ReadPartition,
  statusShardOf,
} from './dynamo-listing';
import {
  EVENT_TYPES_TABLE,
  NOTIFICATION_INDEX_SHARDS,
  NOTIFICATIONS_TABLE,
  WEBHOOKS_TABLE,
} from './dynamo-schema';
import {
  PACKED_ATTRIBUTES,
  PACKING_DEFLATE_JSON,
  packRequest,
  unpackRequest,
} from './payload-packing';
import { isSealedPayload, openSealedPayload, sealedPayloadItem } from './payload-sealing';
import { openDefinition, sealDefinition } from './webhook-secrets';

type Item = Record<string, AttributeValue>;

// ---- codec -------------------------------------------------------------------------------

/** Plain JSON-like value -> attribute value; undefined (in objects) is left out. */
export function toAttribute(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot store non-finite number ${value}`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'object':
      if (Array.isArray(value))
        return { L: value.map((v) => toAttribute(v === undefined ? null : v)) };
      return { M: toItem(value as Record<string, unknown>) };
    default:
      throw new TypeError(`cannot store a value of type ${typeof value}`);
  }
}

export function toItem(value: Record<string, unknown>): Item {
  const item: Item = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) item[key] = toAttribute(v);
  return item;
}

export function fromAttribute(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.L !== undefined) return value.L.map(fromAttribute);
  if (value.M !== undefined) return fromItem(value.M);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(Number);
  throw new TypeError('unsupported attribute type');
}

export function fromItem(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(item)) out[key] = fromAttribute(v);
  return out;
}

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

// ---- webhooks ----------------------------------------------------------------------------

/** Secrets are sealed in the item (webhook-secrets.ts); older items with clear secrets still read. */
export class DynamoWebhookStore implements WebhookStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly cipher: EnvelopeCipher,
  ) {}

  async get(id: string): Promise<WebhookDefinition | undefined> {
    if (id === WEBHOOKS_TABLE.revisionItemId) return undefined;
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: id } },
        ConsistentRead: true,
      }),
    );
    return out.Item ? openDefinition(fromItem(out.Item), this.cipher) : undefined;
  }

  async list(): Promise<WebhookDefinition[]> {
    const items: WebhookDefinition[] = [];
    for await (const item of scanAll(this.client, this.tableName)) {
      if (item.id?.S === WEBHOOKS_TABLE.revisionItemId) continue;
      items.push(await openDefinition(fromItem(item), this.cipher));
    }
    return items;
  }

  /** One strongly consistent GetItem of a small item: 1 read unit. 0 before the first write. */
  async revision(): Promise<number> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: WEBHOOKS_TABLE.revisionItemId } },
        ConsistentRead: true,
        ProjectionExpression: '#revision',
        ExpressionAttributeNames: { '#revision': WEBHOOKS_TABLE.revisionAttribute },
      }),
    );
    const value = out.Item?.[WEBHOOKS_TABLE.revisionAttribute]?.N;
    return value === undefined ? 0 : Number(value);
  }

  async put(definition: WebhookDefinition, expectedVersion?: number): Promise<void> {
    const create = expectedVersion === undefined;
    const write = await this.transact({
      Put: {
        TableName: this.tableName,
        Item: toItem(await sealDefinition(definition, this.cipher)),
        ...(create
          ? { ConditionExpression: 'attribute_not_exists(id)' }
          : {
              ConditionExpression: '#version = :expected',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } },
            }),
      },
    });
    if (write === 'condition-failed') {
      throw create
        ? new ConflictError(`webhook ${definition.id} already exists`)
        : new ConflictError(
            `webhook ${definition.id} was changed or deleted since version ${expectedVersion}`,
          );
    }
  }

  async delete(id: string): Promise<boolean> {
    if (id === WEBHOOKS_TABLE.revisionItemId) return false;
    const write = await this.transact({
      Delete: {
        TableName: this.tableName,
        Key: { id: { S: id } },
        ConditionExpression: 'attribute_exists(id)',
      },
    });
    return write === 'written';
  }

  /**
   * The definition write and the revision increment in one transaction: no reader can see
   * the new definition under the old revision, nor the new revision without the definition.
   * Two writes racing on the revision item cancel one another (TransactionConflict): retried.
   */
  private async transact(write: TransactWriteItem): Promise<'written' | 'condition-failed'> {
    const bump: TransactWriteItem = {
      Update: {
        TableName: this.tableName,
        Key: { id: { S: WEBHOOKS_TABLE.revisionItemId } },
        UpdateExpression: 'ADD #revision :one',
        ExpressionAttributeNames: { '#revision': WEBHOOKS_TABLE.revisionAttribute },
        ExpressionAttributeValues: { ':one': { N: '1' } },
      },
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems: [write, bump] }));
        return 'written';
      } catch (err) {
        if ((err as { name?: string })?.name !== 'TransactionCanceledException') throw err;
        const reasons = (err as TransactionCanceledException).CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'condition-failed';
        const conflict = reasons.some((r) => r.Code === 'TransactionConflict');
        if (!conflict || attempt >= TRANSACTION_CONFLICT_RETRIES) throw err;
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * Math.random()));
      }
    }
  }
}

/** How often a definition write is retried when another write held the revision item. */
const TRANSACTION_CONFLICT_RETRIES = 5;

// ---- notifications -----------------------------------------------------------------------

/** Resend jobs share the notifications table under this id prefix, without index attributes. */
export const RESEND_JOB_ID_PREFIX = 'job#';

/** The attributes a notification and its index projection (list summaries) have in common. */
function commonFields(raw: Record<string, unknown>): Omit<NotificationSummary, 'attemptCount'> {
  return {
    id: raw.id as string,
    webhookId: raw.webhookId as string,
    eventId: raw.eventId as string,
    eventType: raw.eventType as string,
    createdAt: raw.createdAt as string,
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
          },
        }
      : {}),
    // DynamoDB maps come back in no particular key order; answer in the documented one.
    attempts: ((raw.attempts ?? []) as Attempt[]).map((a) => ({
      number: a.number,
      trigger: a.trigger,
      startedAt: a.startedAt,
      durationMs: a.durationMs,
      statusCode: a.statusCode ?? null,
      outcome: a.outcome,
      error: a.error ?? null,
      responseBody: a.responseBody ?? null,
    })),
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
  ) {}

  async create(notification: Notification, expiresAtEpochSeconds: number): Promise<boolean> {
    const item = toItem({
      id: notification.id,
      webhookId: notification.webhookId,
      eventId: notification.eventId,
      eventType: notification.eventType,
      createdAt: notification.createdAt,
      status: notification.status,
      failureReason: notification.failureReason,
      failureDetail: notification.failureDetail ?? undefined,
      attempts: notification.attempts,
      attemptCount: notification.attempts.length,
      nextAttemptAt: notification.nextAttemptAt,
      waitingReason: waitingReasonOf(notification),
      expiresAt: expiresAtEpochSeconds,
      ...indexKeysOf(notification),
    });
    if (isParkReason(waitingReasonOf(notification)) && item.webhookShard)
      item.parkedShard = item.webhookShard;
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
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

  async recordAttempt(id: string, attempt: Attempt, update: NotificationUpdate): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { id: { S: id } },
          UpdateExpression:
            'SET attempts = list_append(attempts, :attempt), attemptCount = attemptCount + :one, ' +
            '#status = :status, failureReason = :failureReason, nextAttemptAt = :nextAttemptAt, statusShard = :statusShard, waitingReason = :waitingReason' +
            parkedClause(update),
          ConditionExpression: 'attemptCount = :previous',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':attempt': { L: [toAttribute(attempt)] },
            ':one': { N: '1' },
            ':previous': { N: String(attempt.number - 1) },
            ...this.updateValues(id, update),
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async setStatus(
    id: string,
    update: NotificationUpdate,
    expectedStatus?: NotificationStatus,
  ): Promise<boolean> {
    if (id.startsWith(RESEND_JOB_ID_PREFIX)) return false;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { id: { S: id } },
          UpdateExpression:
            'SET #status = :status, failureReason = :failureReason, nextAttemptAt = :nextAttemptAt, statusShard = :statusShard, waitingReason = :waitingReason' +
            parkedClause(update),
          ConditionExpression:
            expectedStatus === undefined
              ? 'attribute_exists(id)'
              : 'attribute_exists(id) AND #status = :expected',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ...this.updateValues(id, update),
            ...(expectedStatus === undefined ? {} : { ':expected': { S: expectedStatus } }),
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  list(query: NotificationQuery): Promise<NotificationPage> {
    return listPage(query, this.readPartition, this.cursorKey);
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

  private updateValues(id: string, update: NotificationUpdate): Item {
    return {
      ':waitingReason': toAttribute(waitingReasonOf(update)),
      ':status': { S: update.status },
      ':failureReason': toAttribute(update.failureReason),
      ':nextAttemptAt': toAttribute(update.nextAttemptAt),
      ':statusShard': { S: statusShardOf(id, update.status) },
      ...(update.pendingResend
        ? { ':pendingResend': { M: { jobId: toAttribute(update.pendingResend.jobId) } } }
        : {}),
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
    return {
      items,
      ...(out.LastEvaluatedKey !== undefined ? { continuation: out.LastEvaluatedKey } : {}),
    };
  };
}

/**
 * What a status change adds to its SET clause and removes: parking puts the item in the sparse
 * byParked index (its own webhookShard), anything else takes it out; a pending manual resend is
 * set, cleared, or left as it is.
 */
function parkedClause(update: NotificationUpdate): string {
  const sets: string[] = [];
  const removes: string[] = [];
  if (isParkReason(waitingReasonOf(update))) sets.push('parkedShard = webhookShard');
  else removes.push('parkedShard');
  if (update.pendingResend) sets.push('pendingResend = :pendingResend');
  else if (update.pendingResend === null) removes.push('pendingResend');
  return (
    (sets.length > 0 ? `, ${sets.join(', ')}` : '') +
    (removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : '')
  );
}

// ---- payloads (write-once) ----------------------------------------------------------------

/** The Payloads item of a request: packed when that makes it smaller (payload-packing.ts). */
export function payloadItem(
  notificationId: string,
  request: RenderedRequest,
  expiresAtEpochSeconds: number,
): Item {
  const packed = packRequest(request);
  if (packed !== undefined) {
    return {
      id: { S: notificationId },
      [PACKED_ATTRIBUTES.packing]: { S: PACKING_DEFLATE_JSON },
      [PACKED_ATTRIBUTES.request]: { B: packed },
      expiresAt: { N: String(expiresAtEpochSeconds) },
    };
  }
  return toItem({
    id: notificationId,
    method: request.method,
    url: request.url,
    headers: { ...request.headers },
    body: request.body,
    expiresAt: expiresAtEpochSeconds,
  });
}

/**
 * PutItem (attribute_not_exists) and GetItem only: the table's IAM grants nothing else.
 * Requests about a subject are sealed with the subject's key (payload-sealing.ts); without a
 * subject key store, such requests cannot be written or read.
 */
export class DynamoPayloadStore implements PayloadStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly subjectKeys?: SubjectKeyStore,
  ) {}

  async putOnce(
    notificationId: string,
    request: RenderedRequest,
    expiresAtEpochSeconds: number,
    subject?: string,
  ): Promise<'created' | 'exists'> {
    let item: Item;
    if (subject !== undefined) {
      if (!this.subjectKeys) throw new Error('a request about a subject needs subject keys');
      const key = await this.subjectKeys.keyFor(subject);
      item = sealedPayloadItem(notificationId, request, expiresAtEpochSeconds, key);
    } else {
      item = payloadItem(notificationId, request, expiresAtEpochSeconds);
    }
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      return 'created';
    } catch (err) {
      if (isConditionFailure(err)) return 'exists';
      throw err;
    }
  }

  async get(notificationId: string): Promise<RenderedRequest | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: notificationId } },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    if (isSealedPayload(out.Item)) {
      const keys = this.subjectKeys;
      if (!keys) throw new Error('a request about a subject needs subject keys');
      return openSealedPayload(out.Item, (keyId) => keys.keyById(keyId));
    }
    const packing = out.Item[PACKED_ATTRIBUTES.packing]?.S;
    if (packing !== undefined)
      return unpackRequest(packing, out.Item[PACKED_ATTRIBUTES.request]?.B ?? new Uint8Array());
    const raw = fromItem(out.Item);
    return {
      method: raw.method as RenderedRequest['method'],
      url: raw.url as string,
      headers: (raw.headers ?? {}) as Record<string, string>,
      body: raw.body as string,
    };
  }
}

// ---- resend jobs ---------------------------------------------------------------------------

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
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.notificationsTableName,
          Item: toItem({
            id: `${RESEND_JOB_ID_PREFIX}${job.jobId}`,
            jobId: job.jobId,
            count: job.count,
            queued: job.queued,
            sent: job.sent,
            failed: job.failed,
            createdAt: job.createdAt,
            expiresAt: Math.floor(base / 1000) + this.retentionSeconds,
          }),
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
    } catch (err) {
      if (isConditionFailure(err))
        throw new ConflictError(`resend job ${job.jobId} already exists`);
      throw err;
    }
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

// ---- event-type catalogue ------------------------------------------------------------------

export class DynamoEventTypeStore implements EventTypeStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** One UpdateItem; a write older than the stored lastSeenAt changes nothing. */
  async record(type: string, seenAt: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [EVENT_TYPES_TABLE.partitionKey]: { S: type } },
          UpdateExpression:
            'SET firstSeenAt = if_not_exists(firstSeenAt, :seenAt), lastSeenAt = :seenAt',
          ConditionExpression: 'attribute_not_exists(lastSeenAt) OR lastSeenAt < :seenAt',
          ExpressionAttributeValues: { ':seenAt': { S: seenAt } },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async list(): Promise<EventTypeRecord[]> {
    const items: EventTypeRecord[] = [];
    for await (const item of scanAll(this.client, this.tableName)) {
      const raw = fromItem(item);
      items.push({
        type: raw[EVENT_TYPES_TABLE.partitionKey] as string,
        firstSeenAt: raw.firstSeenAt as string,
        lastSeenAt: raw.lastSeenAt as string,
      });
    }
    return items;
  }
}

/** Every item of a (small) table, strongly consistent, page after page. */
async function* scanAll(client: DynamoDBClient, tableName: string): AsyncGenerator<Item> {
  let start: Item | undefined;
  do {
    const out = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    yield* out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
}
