/**
 * Counts DynamoDB capacity units the way on-demand billing does, for the writes and reads the
 * real store adapters make: items are read back after every write (through a client that is
 * not metered) and sized by DynamoDB's item-size rules; GSI entries are derived from the table
 * layout (lambdas/adapters/dynamo-schema.ts).
 */
import {
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  NOTIFICATION_INDEX_PROJECTION,
  NOTIFICATIONS_TABLE,
} from '../../lambdas/adapters/dynamo-schema';
import { required } from '../../lambdas/core/required';

type Item = Record<string, AttributeValue>;

/** Bytes of a number as DynamoDB sizes it: about 1 byte per 2 significant digits, plus 1. */
function numberBytes(n: string): number {
  const digits = n
    .replace(/^-/, '')
    .replace('.', '')
    .replace(/e.*$/i, '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function attributeBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S, 'utf8');
  if (v.N !== undefined) return numberBytes(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  // Lists and maps: 3 bytes, plus 1 byte per element; map elements add their names.
  if (v.L !== undefined) return 3 + v.L.reduce((a, e) => a + 1 + attributeBytes(e), 0);
  if (v.M !== undefined)
    return (
      3 +
      Object.entries(v.M).reduce(
        (a, [k, e]) => a + 1 + Buffer.byteLength(k, 'utf8') + attributeBytes(e),
        0,
      )
    );
  if (v.SS !== undefined) return v.SS.reduce((a, s) => a + Buffer.byteLength(s, 'utf8'), 0);
  if (v.NS !== undefined) return v.NS.reduce((a, s) => a + numberBytes(s), 0);
  return 0;
}

export function itemBytes(item: Item | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce(
    (a, [k, v]) => a + Buffer.byteLength(k, 'utf8') + attributeBytes(v),
    0,
  );
}

/** The notification indexes whose entries hold the projection (sparse ones are sized the same way). */
const INDEXES = [NOTIFICATIONS_TABLE.byWebhookIndex, NOTIFICATIONS_TABLE.byStatusIndex];
/** Per index entry, on top of its attributes (DynamoDB's documented index overhead). */
export const INDEX_ENTRY_OVERHEAD = 100;

interface IndexEntry {
  readonly key: string;
  readonly bytes: number;
  readonly fingerprint: string;
}

function indexEntry(
  item: Item | undefined,
  index: (typeof INDEXES)[number],
): IndexEntry | undefined {
  if (!item?.[index.partitionKey] || !item[index.sortKey]) return undefined;
  const names = new Set<string>([
    NOTIFICATIONS_TABLE.partitionKey,
    index.partitionKey,
    index.sortKey,
    ...NOTIFICATION_INDEX_PROJECTION,
  ]);
  const projected: Item = {};
  for (const n of names) if (item[n] !== undefined) projected[n] = required(item[n], 'item[n]');
  return {
    key: JSON.stringify([item[index.partitionKey], item[index.sortKey]]),
    bytes: itemBytes(projected) + INDEX_ENTRY_OVERHEAD,
    fingerprint: JSON.stringify(projected),
  };
}

const kb = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

export interface MeteredOp {
  readonly command: string;
  readonly table: string;
  /** Capacity units DynamoDB reported (ReturnConsumedCapacity INDEXES): total, and of it the indexes. */
  readonly consumed: number;
  readonly consumedIndexes: number;
  readonly wru: number;
  readonly indexWru: number;
  readonly rru: number;
  readonly itemBytesAfter: number;
}

export interface Meter {
  readonly ops: MeteredOp[];
  /** Latest size of each item seen (table/id -> bytes), for storage. */
  readonly sizes: Map<string, number>;
  /** Latest index entry sizes of each notification (table/id -> bytes of all its entries). */
  readonly indexSizes: Map<string, number>;
  reset(): void;
}

/**
 * Adds a middleware to `client` that meters every command; `peek` (another client on the same
 * endpoint) reads items back without being metered. `notificationsTable` names the table with
 * the two GSIs.
 */
export function meterDynamo(
  client: DynamoDBClient,
  peek: DynamoDBClient,
  notificationsTable: string,
): Meter {
  const meter: Meter = {
    ops: [],
    sizes: new Map(),
    indexSizes: new Map(),
    reset() {
      this.ops.length = 0;
    },
  };
  const items = new Map<string, Item | undefined>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(
        (context as { commandName?: string }).commandName ?? 'unknown',
      ).replace(/Command$/, '');
      const input = args.input as { TableName?: string; Key?: Item; Item?: Item };
      const table = input.TableName ?? '';
      const key = input.Key ?? (input.Item?.id ? { id: input.Item.id } : undefined);
      const id = key?.id?.S;
      const ref = `${table}/${id}`;
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'INDEXES';
      let result: Awaited<ReturnType<typeof next>>;
      try {
        result = await next(args);
      } catch (err) {
        // A failed conditional write still consumes write units (1 per KB of the item).
        if (/^(PutItem|UpdateItem|DeleteItem)$/.test(command)) {
          meter.ops.push({
            command: `${command} (condition failed)`,
            table,
            consumed: kb(itemBytes(items.get(ref))),
            consumedIndexes: 0,
            wru: kb(itemBytes(items.get(ref))),
            indexWru: 0,
            rru: 0,
            itemBytesAfter: itemBytes(items.get(ref)),
          });
        }
        throw err;
      }
      const reported = (result.output as { ConsumedCapacity?: ConsumedCapacity }).ConsumedCapacity;
      const consumed = reported?.CapacityUnits ?? 0;
      const consumedIndexes = Object.values(reported?.GlobalSecondaryIndexes ?? {}).reduce(
        (a, c) => a + (c.CapacityUnits ?? 0),
        0,
      );
      if (command === 'GetItem') {
        const out = result.output as { Item?: Item };
        const bytes = itemBytes(out.Item);
        meter.ops.push({
          command,
          table,
          consumed,
          consumedIndexes,
          wru: 0,
          indexWru: 0,
          rru: Math.max(1, Math.ceil(bytes / 4096)),
          itemBytesAfter: bytes,
        });
      } else if (/^(PutItem|UpdateItem|DeleteItem)$/.test(command) && id !== undefined) {
        const before = items.get(ref);
        const after = (
          await peek.send(
            new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }),
          )
        ).Item;
        items.set(ref, after);
        const wru = kb(Math.max(itemBytes(before), itemBytes(after)));
        let indexWru = 0;
        let indexBytes = 0;
        if (table === notificationsTable) {
          for (const index of INDEXES) {
            const b = indexEntry(before, index);
            const a = indexEntry(after, index);
            indexBytes += a?.bytes ?? 0;
            if (b && a && b.key !== a.key)
              indexWru += kb(b.bytes) + kb(a.bytes); // delete old + put new
            else if (a && (!b || b.fingerprint !== a.fingerprint)) indexWru += kb(a.bytes);
            else if (b && !a) indexWru += kb(b.bytes);
          }
          meter.indexSizes.set(ref, indexBytes);
        }
        meter.sizes.set(ref, itemBytes(after));
        meter.ops.push({
          command,
          table,
          consumed,
          consumedIndexes,
          wru,
          indexWru,
          rru: 0,
          itemBytesAfter: itemBytes(after),
        });
      } else {
        meter.ops.push({
          command,
          table,
          consumed,
          consumedIndexes,
          wru: 0,
          indexWru: 0,
          rru: 0,
          itemBytesAfter: 0,
        });
      }
      return result;
    },
    { step: 'initialize', name: 'benchCapacityMeter' },
  );
  return meter;
}
