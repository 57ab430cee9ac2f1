/**
 * The shared lease sets of the concurrency cap, in the Notifications table (LEASE_ITEM). One
 * conditional UpdateItem takes a lease (`ADD` to a string set while it holds fewer than `cap`),
 * one returns it (`DELETE` from the set). A refused take reads back the set it was refused on
 * (ReturnValuesOnConditionCheckFailure) and sweeps the leases that expired there, so a lease
 * lost with its Lambda costs its webhook one slot for at most the lease lifetime.
 *
 * A take throttled on the lease item (once the SDK's own retries are spent) counts as refused:
 * the item is contended, so the webhook is busy, and its job goes back to the queue like any
 * other turned away at the cap, with no attempt used. Failing the job instead would climb its
 * receive count toward the dead-letter queue while the receiver is merely busy.
 */
import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { ConcurrencyLeases } from '../core/concurrency-gate';
import { LEASE_ITEM, NOTIFICATIONS_TABLE } from './dynamo-schema';

export class DynamoConcurrencyLeases implements ConcurrencyLeases {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async acquire(
    webhookId: string,
    cap: number,
    nowMs: number,
    ttlMs: number,
  ): Promise<string | undefined> {
    const token = `${randomBytes(9).toString('base64url')}@${nowMs + ttlMs}`;
    for (let round = 0; round < 2; round++) {
      const held = await this.tryAdd(webhookId, token, cap, nowMs);
      if (held === undefined) return token;
      const expired = held.filter((t) => expiryOf(t) <= nowMs);
      if (expired.length === 0) return undefined;
      await this.remove(webhookId, expired);
    }
    return undefined;
  }

  async release(webhookId: string, token: string): Promise<void> {
    await this.remove(webhookId, [token]);
  }

  /** undefined when the token was added, else the tokens held when it was refused. */
  private async tryAdd(
    webhookId: string,
    token: string,
    cap: number,
    nowMs: number,
  ): Promise<string[] | undefined> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [NOTIFICATIONS_TABLE.partitionKey]: { S: LEASE_ITEM.prefix + webhookId } },
          UpdateExpression: 'ADD #leases :token SET #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(#leases) OR size(#leases) < :cap',
          ExpressionAttributeNames: {
            '#leases': LEASE_ITEM.setAttribute,
            '#ttl': NOTIFICATIONS_TABLE.ttlAttribute,
          },
          ExpressionAttributeValues: {
            ':token': { SS: [token] },
            ':cap': { N: String(cap) },
            ':ttl': { N: String(Math.floor(nowMs / 1000) + LEASE_ITEM.idleTtlSeconds) },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (CONTENDED.has(name)) return [];
      if (name !== 'ConditionalCheckFailedException') throw error;
      const item = (error as { Item?: Record<string, { SS?: string[] }> }).Item;
      return item?.[LEASE_ITEM.setAttribute]?.SS ?? [];
    }
  }

  private async remove(webhookId: string, tokens: readonly string[]): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { [NOTIFICATIONS_TABLE.partitionKey]: { S: LEASE_ITEM.prefix + webhookId } },
        UpdateExpression: 'DELETE #leases :tokens',
        ExpressionAttributeNames: { '#leases': LEASE_ITEM.setAttribute },
        ExpressionAttributeValues: { ':tokens': { SS: [...tokens] } },
      }),
    );
  }
}

/** Errors that say the lease item is contended rather than broken. */
const CONTENDED = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
]);

function expiryOf(token: string): number {
  const at = Number(token.slice(token.lastIndexOf('@') + 1));
  return Number.isFinite(at) ? at : 0;
}
