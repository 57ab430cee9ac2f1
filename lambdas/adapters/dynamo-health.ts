/**
 * Destination health in DynamoDB. The items share the Notifications table under their own id
 * prefixes (dynamo-schema.ts HEALTH_ITEM_PREFIX) and carry no index attribute:
 *   health#<webhookId>                       the record (circuit, pause, driver)
 *   hcount#<webhookId>#<minute>#<shard>      attempt counters of one minute, one of COUNTER_SHARDS
 *   hrate#<webhookId>#<shard>                next free rate-limit slot of one shard
 * Counters and slots are spread over several items so no single key takes the write rate of a
 * busy webhook; the record itself is written only on failures and state changes.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type HealthRecord, initialHealth } from '../core/health/model';
import type { HealthStore } from '../ports';
import { HEALTH_ITEM_PREFIX } from './dynamo-schema';
import { fromItem, toAttribute } from './dynamo-stores';

type Item = Record<string, AttributeValue>;

/** Items each minute's counters are spread over (writers pick one at random). */
export const COUNTER_SHARDS = 4;
const COUNTER_RETENTION_SECONDS = 3600;
const SLOT_RACE_RETRIES = 20;
/** Rounds of a BatchGetItem of counters (the first and its retries of unprocessed keys). */
export const UNPROCESSED_ROUNDS = 6;
/** First back-off before asking again for unprocessed keys, doubled each round (25 ms .. 400 ms). */
const UNPROCESSED_BACKOFF_MS = 25;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The transition fields (everything but the key and the version). */
const RECORD_FIELDS = [
  'state',
  'since',
  'consecutiveFailures',
  'paused',
  'autoDisabled',
  'disabledAt',
  'openedAt',
  'cooldownSeconds',
  'nextProbeAt',
  'slowUntil',
  'driverSeq',
  'driverRunning',
  'driverWantedAt',
  'driverBeatAt',
] as const;

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

export function decodeHealth(webhookId: string, item: Item): HealthRecord {
  const raw = fromItem(item);
  const base = initialHealth(webhookId, new Date(0));
  const out: Record<string, unknown> = { ...base, webhookId };
  for (const field of [...RECORD_FIELDS, 'version'] as const) {
    if (raw[field] !== undefined) out[field] = raw[field];
  }
  if (raw.since === undefined) out.since = raw.createdAt ?? base.since;
  return out as unknown as HealthRecord;
}

export class DynamoHealthStore implements HealthStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly random: () => number = Math.random,
  ) {}

  private key(webhookId: string): Item {
    return { id: { S: `${HEALTH_ITEM_PREFIX.state}${webhookId}` } };
  }

  async get(webhookId: string): Promise<HealthRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: this.key(webhookId),
        ConsistentRead: true,
      }),
    );
    return out.Item ? decodeHealth(webhookId, out.Item) : undefined;
  }

  async addFailure(webhookId: string, now: Date): Promise<HealthRecord> {
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(webhookId),
        UpdateExpression:
          'SET webhookId = :w, lastFailureAt = :now, createdAt = if_not_exists(createdAt, :now) ADD consecutiveFailures :one',
        ExpressionAttributeValues: {
          ':w': { S: webhookId },
          ':now': { S: now.toISOString() },
          ':one': { N: '1' },
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return decodeHealth(webhookId, out.Attributes ?? {});
  }

  async resetFailures(webhookId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(webhookId),
          UpdateExpression: 'SET consecutiveFailures = :zero',
          ConditionExpression: 'consecutiveFailures > :zero',
          ExpressionAttributeValues: { ':zero': { N: '0' } },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async transition(next: HealthRecord, expectedVersion: number): Promise<boolean> {
    const names: Record<string, string> = { '#version': 'version' };
    const values: Item = {
      ':w': { S: next.webhookId },
      ':next': { N: String(expectedVersion + 1) },
      ':expected': { N: String(expectedVersion) },
    };
    const sets = ['webhookId = :w', '#version = :next'];
    for (const field of RECORD_FIELDS) {
      names[`#${field}`] = field;
      values[`:${field}`] = toAttribute(next[field]);
      sets.push(`#${field} = :${field}`);
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(next.webhookId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression:
            expectedVersion === 0
              ? 'attribute_not_exists(#version) OR #version = :expected'
              : '#version = :expected',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async slowDown(webhookId: string, until: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(webhookId),
          UpdateExpression: 'SET webhookId = :w, slowUntil = :until',
          ConditionExpression:
            'attribute_not_exists(slowUntil) OR attribute_type(slowUntil, :null) OR slowUntil < :until',
          ExpressionAttributeValues: {
            ':w': { S: webhookId },
            ':until': { S: until },
            ':null': { S: 'NULL' },
          },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async markWanted(webhookId: string, now: Date): Promise<HealthRecord> {
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(webhookId),
        UpdateExpression:
          'SET webhookId = :w, driverWantedAt = :now, createdAt = if_not_exists(createdAt, :now) ADD #version :one',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: {
          ':w': { S: webhookId },
          ':now': { S: now.toISOString() },
          ':one': { N: '1' },
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return decodeHealth(webhookId, out.Attributes ?? {});
  }

  async beat(webhookId: string, seq: number, now: Date): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(webhookId),
          UpdateExpression: 'SET driverBeatAt = :now',
          ConditionExpression: 'driverSeq = :seq AND driverRunning = :running',
          ExpressionAttributeValues: {
            ':now': { S: now.toISOString() },
            ':seq': { N: String(seq) },
            ':running': { BOOL: true },
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async addCounts(
    webhookId: string,
    at: Date,
    counts: { sent: number; failed: number },
  ): Promise<void> {
    if (counts.sent === 0 && counts.failed === 0) return;
    const minute = Math.floor(at.getTime() / 60_000);
    const shard = Math.floor(this.random() * COUNTER_SHARDS);
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { id: { S: `${HEALTH_ITEM_PREFIX.counter}${webhookId}#${minute}#${shard}` } },
        UpdateExpression: 'SET expiresAt = :exp ADD sent :sent, failed :failed',
        ExpressionAttributeValues: {
          ':exp': { N: String(Math.floor(at.getTime() / 1000) + COUNTER_RETENTION_SECONDS) },
          ':sent': { N: String(counts.sent) },
          ':failed': { N: String(counts.failed) },
        },
      }),
    );
  }

  async readCounts(
    webhookId: string,
    from: Date,
    to: Date,
  ): Promise<{ sent: number; failed: number }> {
    const keys: Item[] = [];
    const first = Math.floor(from.getTime() / 60_000);
    const last = Math.floor(to.getTime() / 60_000);
    for (let minute = first; minute <= last; minute++)
      for (let shard = 0; shard < COUNTER_SHARDS; shard++)
        keys.push({ id: { S: `${HEALTH_ITEM_PREFIX.counter}${webhookId}#${minute}#${shard}` } });
    let sent = 0;
    let failed = 0;
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Item[] | undefined = keys.slice(i, i + 100);
      for (let round = 0; pending && pending.length > 0; round++) {
        // Keys DynamoDB left unprocessed (throttling) are asked for again after a back-off;
        // still left after that, the counts would be short: an error, not a wrong number.
        if (round === UNPROCESSED_ROUNDS)
          throw new Error(
            `health counters of ${webhookId}: ${pending.length} keys still unprocessed after ${round} rounds`,
          );
        if (round > 0) await sleep(UNPROCESSED_BACKOFF_MS * 2 ** (round - 1));
        const out = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          sent += Number(item.sent?.N ?? 0);
          failed += Number(item.failed?.N ?? 0);
        }
        pending = out.UnprocessedKeys?.[this.tableName]?.Keys as Item[] | undefined;
      }
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
    const key = { id: { S: `${HEALTH_ITEM_PREFIX.rate}${webhookId}#${shard}` } };
    for (let race = 0; race < SLOT_RACE_RETRIES; race++) {
      const current = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      const tatRaw = current.Item?.tat?.N;
      const now = Math.max(nowMs, Date.now());
      const first = Math.max(tatRaw === undefined ? 0 : Number(tatRaw), now);
      const granted = Math.min(count, Math.floor((now + horizonMs - first) / spacingMs) + 1);
      if (granted <= 0) return [];
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET tat = :next, expiresAt = :exp',
            ConditionExpression: tatRaw === undefined ? 'attribute_not_exists(tat)' : 'tat = :old',
            ExpressionAttributeValues: {
              ':next': { N: String(first + granted * spacingMs) },
              ':exp': { N: String(Math.floor(first / 1000) + COUNTER_RETENTION_SECONDS) },
              ...(tatRaw === undefined ? {} : { ':old': { N: tatRaw } }),
            },
          }),
        );
        return Array.from({ length: granted }, (_, i) => first + i * spacingMs);
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    return [];
  }
}
