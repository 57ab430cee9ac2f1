/**
 * Listing notifications newest first over sharded index partitions (dynamo-schema.ts): which
 * partitions a query reads, the opaque cursor, and the k-way merge. Shared by the DynamoDB and
 * the memory store, so both page exactly alike; each supplies only how to read one partition
 * and which webhooks the history holds.
 *
 * Every notification sits in exactly one partition of byWebhook (`${webhookId}#${shard}`) and,
 * unless it is SENT, in one of byStatus (`${status}#${shard}`), under the unique sort key
 * `${createdAt}#${id}`. A page merges the partitions' newest-first streams. Since the sort key
 * is unique across partitions, the last key returned is enough to resume every stream exactly
 * (strictly below it): nothing skipped, nothing repeated. The cursor carries that key (or, for
 * a page that ran out of read budget, the highest point its stopped partitions were read to,
 * below every item it answered) and which partitions have nothing more to give (a bitmap), so
 * it stays small with many webhooks. A
 * cursor carries a MAC under the installation's cursor key: a client can hand back only cursors
 * it was given.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { forEachBounded } from '../core/concurrency';
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

/** The creation instant a sort key carries: createdKeyOf's inverse, given the id. */
export function createdAtOfKey(createdKey: string, id: string): string {
  return createdKey.slice(0, createdKey.length - id.length - 1);
}

/**
 * The webhook id a byWebhook partition key `${webhookId}#${shard}` carries: everything before
 * the last '#' (the shard is digits; webhook ids are `wh_` and base32 anyway, no '#').
 */
export function webhookIdOfShard(webhookShard: string): string {
  return webhookShard.slice(0, webhookShard.lastIndexOf('#'));
}

/**
 * The byStatus partition key of a notification in `status`; none when SENT: the index is
 * sparse (NOTIFICATIONS_TABLE.byStatusIndex), sent notifications are listed by webhook.
 */
export function statusShardOf(id: string, status: NotificationStatus): string | undefined {
  return inStatusIndex(status) ? `${status}#${shardOf(id)}` : undefined;
}

/** Whether notifications in `status` have a byStatus entry (all but SENT). */
export function inStatusIndex(status: NotificationStatus): boolean {
  return status !== NOTIFICATIONS_TABLE.byStatusIndex.omits;
}

/** The index key attributes a notification item carries (no statusShard when SENT). */
export function indexKeysOf(n: {
  id: string;
  webhookId: string;
  status: NotificationStatus;
  createdAt: string;
}): { webhookShard: string; statusShard?: string; createdKey: string } {
  const statusShard = statusShardOf(n.id, n.status);
  return {
    webhookShard: `${n.webhookId}#${shardOf(n.id)}`,
    ...(statusShard !== undefined ? { statusShard } : {}),
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

/**
 * Which partitions a list reads: one webhook's (byWebhook), one status's (byStatus, never
 * SENT), or every webhook's of the history (SENT, or no status, across webhooks).
 */
export type ListScope =
  | { readonly kind: 'webhook'; readonly webhookId: string }
  | { readonly kind: 'status'; readonly status: NotificationStatus }
  | { readonly kind: 'history' };

export interface ListPlan {
  readonly scope: ListScope;
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
  /**
   * With a continuation: the sort key of the last item the read looked at, matching or not
   * (everything newer in the partition has been looked at). Without it a page cannot stop
   * this partition early (see LIST_READ_BUDGET_MS).
   */
  readonly scannedTo?: string;
}

/**
 * How long one page reads before it stops reading a partition that has not yet yielded a
 * match (a filter the partitions do not key, over a huge webhook, can read on and on): the
 * page then answers what it can prove is newest, possibly nothing, and a cursor below the
 * point the stopped partitions were read to. Every partition reads at least once per page,
 * so each page moves on. The api Lambda has 29 s.
 */
export const LIST_READ_BUDGET_MS = 10_000;

/** A page's read budget (tests set the clock). */
export interface ListReadBudget {
  readonly budgetMs?: number;
  readonly now?: () => number;
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

/** What a store gives the listing: how to read a partition, and the webhooks of the history. */
export interface ListSource {
  readonly read: ReadPartition;
  /**
   * Ids of every webhook whose notifications may still be retained (deleted ones too, until
   * their retention has passed). Read once per page of a list across webhooks.
   */
  historyIds(): Promise<readonly string[]>;
}

/** Where the next page resumes, as a cursor carries it. */
export interface Resume {
  /** Sort key of the last item returned: every partition continues strictly below it. */
  readonly after: string;
  /** Digest of the partition list `drained` refers to (the webhooks may differ next page). */
  readonly layout: string;
  /** Bit i set: partition i has nothing below `after`. Empty: not known, every one is read. */
  readonly drained: Uint8Array;
}

const CURSOR_VERSION = 3;
/** A longer cursor is refused before any work; a longer bitmap is left out (see encodeCursor). */
export const MAX_CURSOR_LENGTH = 8192;
/**
 * A position is a sort key `${createdAt}#${id}` as stored: an ISO instant and an id. Anything
 * else (in particular anything near DynamoDB's 1,024-byte key limit) is not one.
 */
const POSITION =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z#[A-Za-z0-9_-]{1,64}$/;
const DIGEST = /^[A-Za-z0-9_-]{22}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
// The label stays: a cursor of an earlier version is then refused as such, not as foreign.
const MAC_LABEL = 'webhooks cursor v2\n';
const MAC_CHARS = 43; // base64url of 32 bytes
/** Partitions read at once while filling a page (a list across webhooks has 8 per webhook). */
const READ_CONCURRENCY = 16;
/** Fewest items asked of a partition; DynamoDB caps a query at 1 MB anyway. */
const MIN_READ = 4;
const MAX_READ = 1000;

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

function validateQuery(query: NotificationQuery): void {
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
}

/**
 * By webhook when one is given; by status for a status the index holds; else across every
 * webhook of the history, by webhook, filtered by status where asked (SENT).
 */
function scopeOf(query: NotificationQuery): ListScope {
  if (query.webhookId !== undefined) return { kind: 'webhook', webhookId: query.webhookId };
  if (query.status !== undefined && inStatusIndex(query.status))
    return { kind: 'status', status: query.status };
  return { kind: 'history' };
}

export function planList(query: NotificationQuery): ListPlan {
  validateQuery(query);
  const from = normalizeInstant(query.from, 'from');
  const to = normalizeInstant(query.to, 'to');
  const scope = scopeOf(query);
  const filter: PartitionFilter = {
    ...(query.status !== undefined && scope.kind !== 'status' ? { status: query.status } : {}),
    ...(query.eventType !== undefined ? { eventType: query.eventType } : {}),
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
  return { scope, filter, fingerprint };
}

const shards = Array.from({ length: NOTIFICATION_INDEX_SHARDS }, (_, s) => s);

/** The partitions of a scope, in a stable order; `historyIds` only matter across webhooks. */
export function partitionsOf(scope: ListScope, historyIds: readonly string[]): Partition[] {
  const { byWebhookIndex, byStatusIndex } = NOTIFICATIONS_TABLE;
  if (scope.kind === 'status') {
    return shards.map((s) => ({
      index: byStatusIndex.name,
      keyAttribute: byStatusIndex.partitionKey,
      key: `${scope.status}#${s}`,
    }));
  }
  const ids = scope.kind === 'webhook' ? [scope.webhookId] : [...new Set(historyIds)].sort();
  return ids.flatMap((id) =>
    shards.map((s) => ({
      index: byWebhookIndex.name,
      keyAttribute: byWebhookIndex.partitionKey,
      key: `${id}#${s}`,
    })),
  );
}

/** Digest of a partition list: a drained bitmap applies only to the list it was made for. */
export function layoutOf(partitions: readonly Partition[]): string {
  return digest(partitions.map((p) => p.key));
}

function signed(key: Uint8Array, value: unknown): string {
  const body = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  return `${body}.${macOf(key, body).toString('base64url')}`;
}

/**
 * `base64url(JSON body).base64url(HMAC-SHA256 under the installation key)`. With thousands of
 * webhooks the bitmap could make it longer than MAX_CURSOR_LENGTH: it is then left out, and
 * the next page reads every partition once more (an empty query for the drained ones).
 */
export function encodeCursor(key: Uint8Array, fingerprint: string, resume: Resume): string {
  const body = { v: CURSOR_VERSION, f: fingerprint, k: resume.after, l: resume.layout };
  const cursor = signed(key, { ...body, d: Buffer.from(resume.drained).toString('base64url') });
  return cursor.length <= MAX_CURSOR_LENGTH ? cursor : signed(key, { ...body, d: '' });
}

/** The cursor's text, once its MAC is checked; anything else: InvalidCursorError. */
function verifiedBody(key: Uint8Array, cursor: string): unknown {
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
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('malformed');
  }
}

/**
 * Where a cursor issued by this installation for this query resumes. The MAC is checked
 * before anything is parsed; every field is checked after. Anything else: InvalidCursorError.
 */
export function decodeCursor(key: Uint8Array, cursor: string, fingerprint: string): Resume {
  const parsed = verifiedBody(key, cursor);
  if (typeof parsed !== 'object' || parsed === null) throw new InvalidCursorError('malformed');
  const { v, f, k, l, d } = parsed as Record<string, unknown>;
  if (v !== CURSOR_VERSION) throw new InvalidCursorError('unknown version');
  if (f !== fingerprint) throw new InvalidCursorError('it belongs to a different query');
  if (
    typeof k !== 'string' ||
    !POSITION.test(k) ||
    typeof l !== 'string' ||
    !DIGEST.test(l) ||
    typeof d !== 'string' ||
    !BASE64URL.test(d)
  )
    throw new InvalidCursorError('malformed');
  return { after: k, layout: l, drained: Buffer.from(d, 'base64url') };
}

function bitSet(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

function bitmapOf(flags: readonly boolean[]): Uint8Array {
  const bits = new Uint8Array(Math.ceil(flags.length / 8));
  flags.forEach((flag, i) => {
    if (flag) bits[i >> 3] = (bits[i >> 3] ?? 0) | (1 << (i & 7));
  });
  return bits;
}

/**
 * Items first asked of each partition: about twice its share of the page, so a page over many
 * partitions reads a few items from each rather than a page from each; a stream that runs dry
 * is refilled with twice as many as before.
 */
function firstReadLimit(limit: number, partitions: number): number {
  const share = Math.ceil((limit + 1) / Math.max(1, partitions));
  return Math.min(limit + 1, MAX_READ, Math.max(MIN_READ, 2 * share));
}

interface Stream {
  readonly partition: Partition;
  buffer: IndexedSummary[];
  continuation: unknown;
  /** Nothing left in the partition beyond the buffer. */
  drained: boolean;
  readLimit: number;
  /** Reads this page made of the partition. */
  reads: number;
  /** Sort key of the last item looked at, when the partition may hold more. */
  scannedTo: string | undefined;
  /** Out of read budget with nothing buffered: matches it may hold are below scannedTo. */
  stopped: boolean;
}

/** When the page's reads end: no read starts after `until` but a partition's first. */
interface ReadClock {
  readonly until: number;
  readonly now: () => number;
}

/** Reads into the streams that are empty but not drained, a bounded number at once. */
async function fillStreams(
  streams: readonly Stream[],
  read: ReadPartition,
  filter: PartitionFilter,
  before: string | undefined,
  clock: ReadClock,
): Promise<void> {
  const fill = async (s: Stream): Promise<void> => {
    while (s.buffer.length === 0 && !s.drained) {
      if (s.reads > 0 && s.scannedTo !== undefined && clock.now() >= clock.until) {
        s.stopped = true;
        return;
      }
      const out = await read(s.partition, filter, {
        ...(before !== undefined ? { before } : {}),
        ...(s.continuation !== undefined ? { continuation: s.continuation } : {}),
        limit: s.readLimit,
      });
      s.reads++;
      s.buffer.push(...out.items);
      s.continuation = out.continuation;
      s.drained = out.continuation === undefined;
      s.scannedTo = s.drained ? undefined : out.scannedTo;
      s.readLimit = Math.min(2 * s.readLimit, MAX_READ);
    }
  };
  const empty = streams.filter((s) => s.buffer.length === 0 && !s.drained);
  await forEachBounded(empty, READ_CONCURRENCY, fill);
}

/**
 * The highest point a stopped stream was read to: what it may still hold is below it, so
 * only what is above it can be answered as newest.
 */
function stopFloor(streams: readonly Stream[]): string | undefined {
  let floor: string | undefined;
  for (const s of streams)
    if (s.stopped && s.buffer.length === 0 && !s.drained && s.scannedTo !== undefined)
      if (floor === undefined || s.scannedTo > floor) floor = s.scannedTo;
  return floor;
}

/**
 * Takes up to `limit` items newest first, refilling a stream whenever it runs dry, and only
 * items above the stop floor once streams ran out of read budget.
 */
async function merge(
  streams: readonly Stream[],
  limit: number,
  refill: () => Promise<void>,
): Promise<IndexedSummary[]> {
  const taken: IndexedSummary[] = [];
  while (taken.length < limit) {
    await refill();
    let best: { stream: Stream; head: IndexedSummary } | undefined;
    for (const stream of streams) {
      const head = stream.buffer[0];
      if (head !== undefined && (best === undefined || head.createdKey > best.head.createdKey))
        best = { stream, head };
    }
    if (best === undefined) break;
    const floor = stopFloor(streams);
    if (floor !== undefined && best.head.createdKey <= floor) break;
    best.stream.buffer.shift();
    taken.push(best.head);
  }
  return taken;
}

/** The partitions a page reads: across webhooks, those of the history's webhooks now. */
async function pagePartitions(plan: ListPlan, source: ListSource): Promise<Partition[]> {
  // One read of the webhook ids per page (the source says how consistent it is).
  return partitionsOf(plan.scope, plan.scope.kind === 'history' ? await source.historyIds() : []);
}

/** One page of `query`, newest first, reading partitions through `source`. */
export async function listPage(
  query: NotificationQuery,
  source: ListSource,
  cursorKey: CursorKeySource,
  budget: ListReadBudget = {},
): Promise<NotificationPage> {
  const now = budget.now ?? Date.now;
  const clock: ReadClock = { now, until: now() + (budget.budgetMs ?? LIST_READ_BUDGET_MS) };
  const plan = planList(query);
  // The cursor is checked before anything is read.
  const resume =
    query.cursor !== undefined
      ? decodeCursor(await cursorKey.key(), query.cursor, plan.fingerprint)
      : undefined;
  const partitions = await pagePartitions(plan, source);
  const layout = layoutOf(partitions);
  const known = resume?.layout === layout ? resume.drained : new Uint8Array(0);
  const { lower, upper } = plan.filter;
  const emptyRange = lower !== undefined && upper !== undefined && lower >= upper;
  const readLimit = firstReadLimit(query.limit, partitions.length);
  const streams: Stream[] = partitions.map((partition, i) => ({
    partition,
    buffer: [],
    continuation: undefined,
    drained: emptyRange || bitSet(known, i),
    readLimit,
    reads: 0,
    scannedTo: undefined,
    stopped: false,
  }));
  const refill = () => fillStreams(streams, source.read, plan.filter, resume?.after, clock);
  const taken = await merge(streams, query.limit, refill);
  // Look one item ahead, so the last page says so instead of leading to an empty one.
  await refill();
  const last = taken.at(-1);
  // Out of read budget before the page was full: it resumes below the stop floor (every item
  // taken is above it), so the next page goes on where the stopped partitions were.
  const floor = taken.length < query.limit ? stopFloor(streams) : undefined;
  const after = floor ?? last?.createdKey;
  const more =
    after !== undefined &&
    (floor !== undefined || streams.some((s) => s.buffer.length > 0 || s.stopped));
  return {
    items: taken.map((t) => t.summary),
    nextCursor: more
      ? encodeCursor(await cursorKey.key(), plan.fingerprint, {
          after,
          layout,
          drained: bitmapOf(streams.map((s) => s.drained && s.buffer.length === 0)),
        })
      : null,
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
