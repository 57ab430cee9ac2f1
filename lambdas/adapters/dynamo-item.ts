/** The small codec between the stores' plain values and DynamoDB attribute values. */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

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

export function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

/** A transaction cancelled because one of its conditions failed (and nothing else went wrong). */
export function isCancelledByCondition(err: unknown): boolean {
  const e = err as { name?: string; CancellationReasons?: { Code?: string }[] } | null;
  if (e?.name !== 'TransactionCanceledException' || !Array.isArray(e.CancellationReasons))
    return false;
  const codes = e.CancellationReasons.map((r) => r.Code ?? 'None');
  return (
    codes.includes('ConditionalCheckFailed') &&
    codes.every((c) => c === 'ConditionalCheckFailed' || c === 'None')
  );
}

/** Writes `item` unless one with its `id` exists: true when written, false when it existed. */
export async function putIfAbsent(
  client: DynamoDBClient,
  tableName: string,
  item: Item,
): Promise<boolean> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
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

/**
 * Every item of a (small) table, strongly consistent, page after page; only the `attributes`
 * named, when given (the read costs the same, less travels).
 */
export async function* scanAll(
  client: DynamoDBClient,
  tableName: string,
  attributes?: readonly string[],
): AsyncGenerator<Item> {
  const projection = attributes && {
    ProjectionExpression: attributes.map((_, i) => `#a${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(attributes.map((name, i) => [`#a${i}`, name])),
  };
  let start: Item | undefined;
  do {
    const out = await client.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ExclusiveStartKey: start,
        ...projection,
      }),
    );
    yield* out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
}
