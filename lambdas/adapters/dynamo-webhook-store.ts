/** Webhook definitions in DynamoDB (the Webhooks table), with the revision and cursor-key items. */
import {
  type DynamoDBClient,
  GetItemCommand,
  type TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { EnvelopeCipher } from '../core/crypto/envelope';
import { ConflictError } from '../core/errors';
import type { WebhookDefinition } from '../core/model';
import type { WebhookStore } from '../ports';
import { fromItem, scanAll, toItem } from './dynamo-item';
import { isReservedWebhooksItem, WEBHOOKS_TABLE } from './dynamo-schema';
import { openDefinition, sealDefinition } from './webhook-secrets';

/** Secrets are sealed in the item (webhook-secrets.ts); older items with clear secrets still read. */
export class DynamoWebhookStore implements WebhookStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly cipher: EnvelopeCipher,
  ) {}

  async get(id: string): Promise<WebhookDefinition | undefined> {
    if (isReservedWebhooksItem(id)) return undefined;
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
      if (isReservedWebhooksItem(item.id?.S)) continue;
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
    if (isReservedWebhooksItem(id)) return false;
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
