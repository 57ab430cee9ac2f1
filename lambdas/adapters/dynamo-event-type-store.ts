/** The event-type catalogue in DynamoDB (the EventTypes table). */
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { EventTypeRecord, EventTypeStore } from '../ports';
import { fromItem, isConditionFailure, scanAll } from './dynamo-item';
import { EVENT_TYPES_TABLE } from './dynamo-schema';

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
