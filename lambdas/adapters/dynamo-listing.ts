/**
 * Listing notifications newest first over sharded index partitions (dynamo-schema.ts): which
 * partitions a query reads, the opaque cursor, and the k-way merge. Shared by the DynamoDB and
 * the memory store, so both page exactly alike; each supplies only how to read one partition.
 *
 * Every notification sits in exactly one partition of each index (`${webhookId}#${shard}`,
 * `${status}#${shard}`) under the unique sort key `${createdAt}#${id}`. A page merges the
 * partitions' newest-first streams; the cursor records, per partition, the sort key of the last
 * item taken from it (or that it is finished), so the next page resumes each stream exactly
 * after what was returned: nothing skipped, nothing repeated. A cursor carries a MAC under the
 * installation's cursor key: a client can hand back only cursors it was given.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parseDateTime } from '../core/date-time';
import { InvalidCursorError, ValidationError } from '../core/errors';
import { NOTIFICATION_STATUSES, type NotificationStatus } from '../core/model';
import type {
  CursorKeySource,
  NotificationPage,
  NotificationQuery,
  NotificationSummary,
} from '../ports';
import { NOTIFICATION_INDEX_SHARDS, NOTIFICATIONS_TABLE } from './dynamo-schema';

/** Stable shard of a notification id: FNV-1a 32-bit modulo the shard count. */
export function shardOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % NOTIFICATION_INDEX_SHARDS;
}

export function createdKeyOf(createdAt: string, id: string): string {
  return `${createdAt}#${id}`;
}

export function statusShardOf(id: string, status: NotificationStatus): string {
  return `${status}#${shardOf(id)}`;
}

/** The index key attributes a notification item carries. */
export function indexKeysOf(n: {
  id: string;
  webhookId: string;
  status: NotificationStatus;
  createdAt: string;
}) {
  return {
    webhookShard: `${n.webhookId}#${shardOf(n.id)}`,
    statusShard: statusShardOf(n.id, n.status),
    createdKey: createdKeyOf(n.createdAt, n.id),
  };
}

export type IndexName =
  | typeof NOTIFICATIONS_TABLE.byWebhookIndex.name
  | typeof NOTIFICATIONS_TABLE.byStatusIndex.name;

export interface Partition {
  readonly index: IndexName;
  /** The index partition key attribute and its value. */
  readonly keyAttribute: string;
  readonly key: string;
}

/** What a partition read must apply besides its key. */
export interface PartitionFilter {
  readonly status?: NotificationStatus;
  readonly eventType?: string;
  /** Inclusive lower bound on the sort key (normalized `from`). */
  readonly lower?: string;
  /** Upper bound on the sort key: items strictly below it. Never equal to a stored key. */
  readonly upper?: string;
}

export interface ListPlan {
  readonly partitions: readonly Partition[];
  readonly filter: PartitionFilter;
  readonly fingerprint: string;
}

/** A summary plus its sort key, as read from an index. */
export interface IndexedSummary {
  readonly createdKey: string;
  readonly summary: NotificationSummary;
}

export interface PartitionRead {
  /** Matching items, newest first, all with sort key strictly below `before`. */
  readonly items: readonly IndexedSummary[];
  /** Set when the partition may hold more; passed back to continue this read. */
  readonly continuation?: unknown;
}

/**
 * Reads one partition: items below `before` (exclusive; undefined = from the top), filtered.
 * `continuation` continues an earlier read of the same call chain. `limit` is a hint.
 */
export type ReadPartition = (
  partition: Partition,
  filter: PartitionFilter,
  opts: { readonly before?: string; readonly continuation?: unknown; readonly limit: number },
) => Promise<PartitionRead>;

const CURSOR_VERSION = 2;
/** Cursor entry of a partition that has nothing more to give. */
const FINISHED = 0;
type Position = string | typeof FINISHED | null;
/** A longer cursor is refused before any work (32 partitions of ~60 bytes need ~3 KiB). */
export const MAX_CURSOR_LENGTH = 8192;
/**
 * A position is a sort key `${createdAt}#${id}` as stored: an ISO instant and an id. Anything
 * else (in particular anything near DynamoDB's 1,024-byte key limit) is not one.
 */
const POSITION =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z#[A-Za-z0-9_-]{1,64}$/;
const MAC_LABEL = 'webhooks cursor v2\n';
const MAC_CHARS = 43; // base64url of 32 bytes

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 22);
}

function macOf(key: Uint8Array, body: string): Buffer {
  return createHmac('sha256', key).update(MAC_LABEL).update(body).digest();
}

function normalizeInstant(value: string | undefined, name: 'from' | 'to'): string | undefined {
  if (value === undefined) return undefined;
  // Sort keys hold toISOString() values; comparing against the same form keeps bounds exact.
  const iso = parseDateTime(value);
  if (iso === undefined)
    throw new ValidationError(`${name} must be an ISO 8601 date-time`, [
      { path: name, message: 'not a date-time' },
    ]);
  return iso;
}

export function planList(query: NotificationQuery): ListPlan {
  if (!Number.isInteger(query.limit) || query.limit < 1) {
    throw new ValidationError('limit must be a positive integer', [
      { path: 'limit', message: 'must be a positive integer' },
    ]);
  }
  if (query.status !== undefined && !NOTIFICATION_STATUSES.includes(query.status)) {
    throw new ValidationError(`status must be one of ${NOTIFICATION_STATUSES.join(', ')}`, [
      { path: 'status', message: 'unknown status' },
    ]);
  }
  const from = normalizeInstant(query.from, 'from');
  const to = normalizeInstant(query.to, 'to');
  const shards = Array.from({ length: NOTIFICATION_INDEX_SHARDS }, (_, s) => s);
  const { byWebhookIndex, byStatusIndex } = NOTIFICATIONS_TABLE;
  let partitions: Partition[];
  let filter: PartitionFilter;
  if (query.webhookId !== undefined) {
    partitions = shards.map((s) => ({
      index: byWebhookIndex.name,
      keyAttribute: byWebhookIndex.partitionKey,
      key: `${query.webhookId}#${s}`,
    }));
    filter = { status: query.status, eventType: query.eventType };
  } else {
    const statuses = query.status !== undefined ? [query.status] : NOTIFICATION_STATUSES;
    partitions = statuses.flatMap((status) =>
      shards.map((s) => ({
        index: byStatusIndex.name,
        keyAttribute: byStatusIndex.partitionKey,
        key: `${status}#${s}`,
      })),
    );
    filter = { eventType: query.eventType };
  }
  filter = {
    ...(filter.status !== undefined ? { status: filter.status } : {}),
    ...(filter.eventType !== undefined ? { eventType: filter.eventType } : {}),
    ...(from !== undefined ? { lower: from } : {}),
    ...(to !== undefined ? { upper: to } : {}),
  };
  const fingerprint = digest([
    query.webhookId ?? null,
    query.status ?? null,
    query.eventType ?? null,
    from ?? null,
    to ?? null,
  ]);
  return { partitions, filter, fingerprint };
}

/** `base64url(JSON body).base64url(HMAC-SHA256 under the installation key)`. */
export function encodeCursor(
  key: Uint8Array,
  fingerprint: string,
  positions: readonly Position[],
): string {
  const body = Buffer.from(
    JSON.stringify({ v: CURSOR_VERSION, f: fingerprint, p: positions }),
    'utf8',
  ).toString('base64url');
  return `${body}.${macOf(key, body).toString('base64url')}`;
}

/**
 * The positions of a cursor issued by this installation for this query. The MAC is checked
 * before anything is parsed; every field is checked after. Anything else: InvalidCursorError.
 */
export function decodeCursor(key: Uint8Array, cursor: string, plan: ListPlan): Position[] {
  if (cursor.length > MAX_CURSOR_LENGTH) throw new InvalidCursorError('too long');
  const dot = cursor.indexOf('.');
  const body = cursor.slice(0, dot);
  const mac = cursor.slice(dot + 1);
  if (dot < 1 || mac.length !== MAC_CHARS || !/^[A-Za-z0-9_-]+$/.test(body + mac))
    throw new InvalidCursorError('malformed');
  // Compared as text: base64url's last character has spare bits, so decoded bytes could match.
  const given = Buffer.from(mac, 'latin1');
  const expected = Buffer.from(macOf(key, body).toString('base64url'), 'latin1');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new InvalidCursorError('not issued by this installation');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('malformed');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new InvalidCursorError('malformed');
  const { v, f, p } = parsed as { v?: unknown; f?: unknown; p?: unknown };
  if (v !== CURSOR_VERSION) throw new InvalidCursorError('unknown version');
  if (f !== plan.fingerprint) throw new InvalidCursorError('it belongs to a different query');
  if (!Array.isArray(p) || p.length !== plan.partitions.length)
    throw new InvalidCursorError('malformed');
  for (const position of p) {
    if (
      !(
        position === null ||
        position === FINISHED ||
        (typeof position === 'string' && POSITION.test(position))
      )
    ) {
      throw new InvalidCursorError('malformed');
    }
  }
  return p as Position[];
}

interface Stream {
  readonly partition: Partition;
  /** Where this page starts reading the partition (exclusive). */
  readonly start: Position;
  buffer: IndexedSummary[];
  continuation: unknown;
  /** Nothing left in the partition beyond the buffer. */
  drained: boolean;
  /** Sort key of the last item taken from it in this page. */
  taken?: string;
}

/** One page of `query`, newest first, reading partitions through `read`. */
export async function listPage(
  query: NotificationQuery,
  read: ReadPartition,
  cursorKey: CursorKeySource,
): Promise<NotificationPage> {
  const plan = planList(query);
  const starts: Position[] =
    query.cursor !== undefined
      ? decodeCursor(await cursorKey.key(), query.cursor, plan)
      : plan.partitions.map(() => null);
  const { lower, upper } = plan.filter;
  const empty = lower !== undefined && upper !== undefined && lower >= upper;
  const readLimit = Math.min(query.limit + 1, 1000);
  const streams: Stream[] = plan.partitions.map((partition, i) => {
    const start = starts[i] ?? null;
    return {
      partition,
      start,
      buffer: [],
      continuation: undefined,
      drained: empty || start === FINISHED,
    };
  });

  const fill = async (s: Stream): Promise<void> => {
    while (s.buffer.length === 0 && !s.drained) {
      const out = await read(s.partition, plan.filter, {
        ...(typeof s.start === 'string' ? { before: s.start } : {}),
        ...(s.continuation !== undefined ? { continuation: s.continuation } : {}),
        limit: readLimit,
      });
      s.buffer.push(...out.items);
      s.continuation = out.continuation;
      s.drained = out.continuation === undefined;
    }
  };
  const fillAll = () =>
    Promise.all(streams.filter((s) => s.buffer.length === 0 && !s.drained).map(fill));

  const items: NotificationSummary[] = [];
  while (items.length < query.limit) {
    await fillAll();
    let best: { stream: Stream; head: IndexedSummary } | undefined;
    for (const stream of streams) {
      const head = stream.buffer[0];
      if (head !== undefined && (best === undefined || head.createdKey > best.head.createdKey))
        best = { stream, head };
    }
    if (best === undefined) break;
    const { stream, head } = best;
    stream.buffer.shift();
    stream.taken = head.createdKey;
    items.push(head.summary);
  }
  // Look one item ahead, so the last page says so instead of leading to an empty one.
  await fillAll();
  const more = streams.some((s) => s.buffer.length > 0);
  const positions = streams.map((s): Position => {
    if (s.buffer.length === 0 && s.drained) return FINISHED;
    return s.taken ?? s.start;
  });
  return {
    items,
    nextCursor: more ? encodeCursor(await cursorKey.key(), plan.fingerprint, positions) : null,
  };
}

/** Whether an item passes a partition filter (memory store; DynamoDB does it server-side). */
export function matchesFilter(
  item: IndexedSummary,
  filter: PartitionFilter,
  before: string | undefined,
): boolean {
  const { createdKey, summary } = item;
  if (before !== undefined && createdKey >= before) return false;
  if (filter.upper !== undefined && createdKey >= filter.upper) return false;
  if (filter.lower !== undefined && createdKey < filter.lower) return false;
  if (filter.status !== undefined && summary.status !== filter.status) return false;
  if (filter.eventType !== undefined && summary.eventType !== filter.eventType) return false;
  return true;
}
