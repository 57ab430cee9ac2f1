/**
 * Webhook definitions in DynamoDB (the Webhooks table), with the revision and cursor-key items.
 * A deleted webhook leaves a tombstone (`id`, `deletedAt`, `expiresAt`; nothing of the
 * definition, no secret) until its notifications' retention has passed: lists across webhooks
 * read the history of every id in the table (historyIds). Definitions never see tombstones.
 */
import {
  type DynamoDBClient,
  GetItemCommand,
  type TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { forEachBounded } from '../core/concurrency';
import type { EnvelopeCipher } from '../core/crypto/envelope';
import { ConflictError } from '../core/errors';
import type { WebhookDefinition } from '../core/model';
import { DEFAULTS } from '../defaults';
import type { WebhookHistory, WebhookStore } from '../ports';
import { fromItem, type Item, scanAll, toItem } from './dynamo-item';
import { isReservedWebhooksItem, WEBHOOKS_TABLE } from './dynamo-schema';
import { openDefinition, sealDefinition } from './webhook-secrets';

export interface DynamoWebhookStoreOptions {
  /** RETENTION_DAYS in seconds: how long a deleted webhook's history stays. Default DEFAULTS. */
  readonly retentionSeconds?: number;
}

/**
 * Beyond the retention, how long a tombstone stays: a delivery job can still arrive for a
 * deleted webhook while the delivery queue keeps it (14 days), and is then recorded as a new
 * FAILED notification (WEBHOOK_DISABLED) with a full retention of its own.
 */
const TOMBSTONE_MARGIN_SECONDS = 15 * 86_400;

const isTombstone = (item: Item): boolean => item[WEBHOOKS_TABLE.deletedAttribute] !== undefined;

/** Secrets are sealed in the item (webhook-secrets.ts); older items with clear secrets still read. */
export class DynamoWebhookStore implements WebhookStore, WebhookHistory {
  private readonly retentionSeconds: number;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly cipher: EnvelopeCipher,
    options: DynamoWebhookStoreOptions = {},
  ) {
    this.retentionSeconds = options.retentionSeconds ?? DEFAULTS.retentionDays * 86_400;
  }

  async get(id: string): Promise<WebhookDefinition | undefined> {
    if (isReservedWebhooksItem(id)) return undefined;
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: id } },
        ConsistentRead: true,
      }),
    );
    return out.Item && !isTombstone(out.Item)
      ? openDefinition(fromItem(out.Item), this.cipher)
      : undefined;
  }

  /**
   * Secrets are opened OPEN_CONCURRENCY at a time: definitions saved by different containers
   * carry different data keys, each one KMS Decrypt the first time a container meets it, and
   * one after the other they would add up at a cold start with many definitions.
   */
  async list(): Promise<WebhookDefinition[]> {
    const raw: Record<string, unknown>[] = [];
    for await (const item of scanAll(this.client, this.tableName)) {
      if (isReservedWebhooksItem(item.id?.S) || isTombstone(item)) continue;
      raw.push(fromItem(item));
    }
    const items: WebhookDefinition[] = new Array(raw.length);
    await forEachBounded(raw, OPEN_CONCURRENCY, async (item, index) => {
      items[index] = await openDefinition(item, this.cipher);
    });
    return items;
  }

  /**
   * Every webhook id in the table, live or tombstone, unless its tombstone expired (TTL deletes
   * lazily). Strongly consistent (scanAll): a notification is written only after its webhook
   * was, and a delete replaces the item by its tombstone in one write, so a list page that
   * reads the ids first never misses a webhook whose notifications it could return.
   */
  historyIds(): Promise<string[]> {
    return webhookHistoryIds(this.client, this.tableName);
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
          ? {
              // A tombstone does not hold its id: ids are random, but a definition may be restored.
              ConditionExpression: 'attribute_not_exists(id) OR attribute_exists(#deleted)',
              ExpressionAttributeNames: { '#deleted': WEBHOOKS_TABLE.deletedAttribute },
            }
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

  /** UpdateItem of three attributes only: the health driver may not rewrite a definition. */
  async disable(id: string, expectedVersion: number, at: string): Promise<void> {
    const write = await this.transact({
      Update: {
        TableName: this.tableName,
        Key: { id: { S: id } },
        UpdateExpression: 'SET #enabled = :off, #version = :next, #updatedAt = :at',
        ConditionExpression: '#version = :expected AND attribute_not_exists(#deleted)',
        ExpressionAttributeNames: {
          '#enabled': 'enabled',
          '#version': 'version',
          '#updatedAt': 'updatedAt',
          '#deleted': WEBHOOKS_TABLE.deletedAttribute,
        },
        ExpressionAttributeValues: {
          ':off': { BOOL: false },
          ':next': { N: String(expectedVersion + 1) },
          ':at': { S: at },
          ':expected': { N: String(expectedVersion) },
        },
      },
    });
    if (write === 'condition-failed')
      throw new ConflictError(
        `webhook ${id} was changed or deleted since version ${expectedVersion}`,
      );
  }

  /** Replaces the definition by its tombstone (see the class comment). */
  async delete(id: string): Promise<boolean> {
    if (isReservedWebhooksItem(id)) return false;
    const now = Math.floor(Date.now() / 1000);
    const write = await this.transact({
      Put: {
        TableName: this.tableName,
        Item: toItem({
          id,
          [WEBHOOKS_TABLE.deletedAttribute]: new Date(now * 1000).toISOString(),
          [WEBHOOKS_TABLE.ttlAttribute]: now + this.retentionSeconds + TOMBSTONE_MARGIN_SECONDS,
        }),
        ConditionExpression: 'attribute_exists(id) AND attribute_not_exists(#deleted)',
        ExpressionAttributeNames: { '#deleted': WEBHOOKS_TABLE.deletedAttribute },
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

/** Definitions whose secrets are opened at once by list(). */
const OPEN_CONCURRENCY = 16;

/** How often a definition write is retried when another write held the revision item. */
const TRANSACTION_CONFLICT_RETRIES = 5;

/**
 * The ids of the webhooks in a Webhooks table, live or tombstone, unless the tombstone expired
 * (DynamoWebhookStore.historyIds). Reads ids and TTLs only: no secret is read or opened.
 */
export async function webhookHistoryIds(
  client: DynamoDBClient,
  tableName: string,
): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const ids: string[] = [];
  const { partitionKey, ttlAttribute } = WEBHOOKS_TABLE;
  for await (const item of scanAll(client, tableName, [partitionKey, ttlAttribute])) {
    const id = item.id?.S;
    const expiresAt = item[WEBHOOKS_TABLE.ttlAttribute]?.N;
    if (id === undefined || isReservedWebhooksItem(id)) continue;
    if (expiresAt === undefined || Number(expiresAt) > now) ids.push(id);
  }
  return ids;
}
