/**
 * Table layout shared by the CDK tables construct, the DynamoDB adapters and local mode's
 * table creation. Plain constants: no SDK import, so lib/ can use them too.
 *
 * Write distribution (README "Listing the history"): index partition keys are sharded by a hash of the
 * notification id, so no single key takes more than 1/SHARDS of the write rate; list queries
 * fan out over the shards and merge newest first.
 */
export const NOTIFICATION_INDEX_SHARDS = 8;

export const WEBHOOKS_TABLE = {
  partitionKey: 'id',
  /**
   * The definitions revision: one small item beside the definitions, incremented in the same
   * transaction as every definition write. Its id cannot be a webhook id (those are `wh_...`).
   */
  revisionItemId: '#revision',
  revisionAttribute: 'revision',
  /** The installation's pagination-cursor secret, sealed (cursor-key.ts). */
  cursorKeyItemId: '#cursor-key',
  /** A deleted webhook's tombstone carries this (ISO instant) and expires by TTL. */
  deletedAttribute: 'deletedAt',
  ttlAttribute: 'expiresAt',
} as const;

/** Items of the Webhooks table that are not definitions: their ids start with '#'. */
export function isReservedWebhooksItem(id: string | undefined): boolean {
  return id?.startsWith('#') === true;
}

/** The event-type catalogue (GET /event-types): one small item per type producers published. */
export const EVENT_TYPES_TABLE = {
  partitionKey: 'type',
} as const;

export const PAYLOADS_TABLE = {
  partitionKey: 'id',
  ttlAttribute: 'expiresAt',
} as const;

/** Subject keys (`s#`, `k#` items) and erasure audit entries (`a#`): see subject-keys.ts. */
export const SUBJECT_KEYS_TABLE = {
  partitionKey: 'id',
} as const;

export const NOTIFICATIONS_TABLE = {
  partitionKey: 'id',
  ttlAttribute: 'expiresAt',
  /** GSI: list by webhook, newest first. pk `${webhookId}#${shard}`, sk `${createdAt}#${id}`. */
  byWebhookIndex: { name: 'byWebhook', partitionKey: 'webhookShard', sortKey: 'createdKey' },
  /**
   * GSI: list by status, newest first. pk `${status}#${shard}`, sk `${createdAt}#${id}`.
   * Sparse: a SENT notification carries no statusShard (one index write less per notification
   * sent); SENT and unfiltered lists across webhooks read byWebhook instead.
   */
  byStatusIndex: {
    name: 'byStatus',
    partitionKey: 'statusShard',
    sortKey: 'createdKey',
    omits: 'SENT',
  },
  /**
   * Sparse GSI of parked notifications (WAITING for CIRCUIT_OPEN, PAUSED or RATE_LIMITED),
   * oldest first. pk `parkedShard` = the item's `webhookShard` while parked, removed on release.
   */
  byParkedIndex: { name: 'byParked', partitionKey: 'parkedShard', sortKey: 'createdKey' },
} as const;

/** What the byParked index projects besides its keys: enough to count per reason. */
export const PARKED_INDEX_PROJECTION = ['waitingReason'] as const;

/**
 * Destination health shares the Notifications table under these id prefixes (as resend jobs
 * do): one state item per webhook, short-lived counter buckets and rate-limit slots.
 */
export const HEALTH_ITEM_PREFIX = {
  state: 'health#',
  counter: 'hcount#',
  rate: 'hrate#',
} as const;

/**
 * Attributes projected into both notification indexes (list pages show summaries). Items
 * written since the keys stand in for them leave `createdAt` out (the sort key `createdKey`
 * carries it) and carry `webhookId` only while in byStatus, whose projection has no
 * `webhookShard` (dynamo-notification-store.ts). The list stays as it is: changing a GSI's
 * projection makes CloudFormation replace the index.
 */
export const NOTIFICATION_INDEX_PROJECTION = [
  'webhookId',
  'eventId',
  'eventType',
  'createdAt',
  'status',
  'failureReason',
  'nextAttemptAt',
  'attemptCount',
  'waitingReason',
] as const;

/**
 * Concurrency leases share the Notifications table: one item per webhook whose requests are
 * counted (see ConcurrencyGate), id `lease#<webhookId>`, a string set `leases` of
 * `<random>@<expiresAtMs>` tokens, gone by TTL a day after its last use.
 */
export const LEASE_ITEM = {
  prefix: 'lease#',
  setAttribute: 'leases',
  idleTtlSeconds: 86_400,
} as const;
