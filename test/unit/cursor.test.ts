import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { fixedCursorKey } from '../../lambdas/adapters/cursor-key';
import {
  decodeCursor,
  encodeCursor,
  layoutOf,
  MAX_CURSOR_LENGTH,
  partitionsOf,
  planList,
  type Resume,
} from '../../lambdas/adapters/dynamo-listing';
import { NOTIFICATION_INDEX_SHARDS } from '../../lambdas/adapters/dynamo-schema';
import { InvalidCursorError } from '../../lambdas/core/errors';
import type { NotificationQuery } from '../../lambdas/ports';
import { MemoryNotificationStore } from '../support/memory-stores';

const KEY = Buffer.alloc(32, 7);
const plan = planList({ webhookId: 'wh_a', limit: 5 });
const fingerprint = plan.fingerprint;
const partitions = partitionsOf(plan.scope, []);
const resume: Resume = {
  after: '2026-11-28T10:00:04.000Z#ntf_00000000000000000000000004',
  layout: layoutOf(partitions),
  drained: Uint8Array.of(0b10100101),
};

/** `count` notifications of webhook wh_a, type T, one second apart from 10:00:00. */
async function seed(
  store: MemoryNotificationStore,
  count: number,
  status: 'SENT' | 'FAILED',
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await store.create(
      {
        id: `ntf_0000000000000000000000000${i}`,
        webhookId: 'wh_a',
        eventId: `evt_${i}`,
        eventType: 'T',
        createdAt: `2026-11-28T10:00:0${i}.000Z`,
        status,
        failureReason: status === 'FAILED' ? 'TIMEOUT' : null,
        attempts: [],
        nextAttemptAt: null,
      },
      2_000_000_000,
    );
  }
}

function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** A cursor with any body, signed as this installation signs its cursors. */
function signedByKey(value: unknown): string {
  const body = Buffer.from(JSON.stringify(value)).toString('base64url');
  const mac = createHmac('sha256', KEY).update('webhooks cursor v2\n').update(body).digest();
  return `${body}.${mac.toString('base64url')}`;
}

/** Every byWebhook partition of `count` webhooks: what a list across them reads. */
function historyPartitions(count: number) {
  const ids = Array.from({ length: count }, (_, i) => `wh_${String(i).padStart(26, '0')}`);
  return partitionsOf({ kind: 'history' }, ids);
}

describe('pagination cursors', () => {
  it('decode to what was encoded, under the same key and query', () => {
    const cursor = encodeCursor(KEY, fingerprint, resume);
    expect(decodeCursor(KEY, cursor, fingerprint)).toEqual({
      ...resume,
      drained: Buffer.from(resume.drained),
    });
  });

  it('issued by another installation are INVALID_CURSOR', () => {
    const cursor = encodeCursor(Buffer.alloc(32, 8), fingerprint, resume);
    const err = refusal(() => decodeCursor(KEY, cursor, fingerprint));
    expect(err).toBeInstanceOf(InvalidCursorError);
    expect((err as InvalidCursorError).details[0]?.message).toBe('not issued by this installation');
  });

  it.each([
    ['a position over 1 KiB', { after: `2026-11-28T10:00:00.000Z#${'A'.repeat(1100)}` }],
    ['a position without an instant', { after: 'x#ntf_1' }],
    ['a number for a position', { after: 5 }],
    ['an object for a position', { after: { S: 'x' } }],
    ['a layout that is no digest', { layout: 'wh_a#0' }],
  ])('bound every decoded field even under the right key: %s', (_name, bad) => {
    const cursor = encodeCursor(KEY, fingerprint, { ...resume, ...bad } as Resume);
    expect(refusal(() => decodeCursor(KEY, cursor, fingerprint))).toBeInstanceOf(
      InvalidCursorError,
    );
  });

  it.each([
    ['a number for the drained partitions', 5],
    ['drained partitions that are no base64url', '%%'],
  ])('bound the drained partitions too, even under the right key: %s', (_name, d) => {
    const cursor = signedByKey({ v: 3, f: fingerprint, k: resume.after, l: resume.layout, d });
    const err = refusal(() => decodeCursor(KEY, cursor, fingerprint));
    expect(err).toBeInstanceOf(InvalidCursorError);
    expect((err as InvalidCursorError).details[0]?.message).toBe('malformed');
  });

  it('stay small over hundreds of webhooks: one position and one bit per partition', () => {
    const many = historyPartitions(500);
    expect(many).toHaveLength(500 * NOTIFICATION_INDEX_SHARDS);
    const drained = Uint8Array.from({ length: many.length / 8 }, (_, i) => i % 256);
    const cursor = encodeCursor(KEY, fingerprint, { ...resume, layout: layoutOf(many), drained });
    expect(cursor.length).toBeLessThan(1200);
    expect(decodeCursor(KEY, cursor, fingerprint).drained).toEqual(Buffer.from(drained));
  });

  it('leave the drained partitions out rather than grow past the length they are refused at', () => {
    const many = historyPartitions(8000);
    const drained = new Uint8Array(many.length / 8).fill(0xff);
    const cursor = encodeCursor(KEY, fingerprint, { ...resume, layout: layoutOf(many), drained });
    expect(cursor.length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH);
    expect(decodeCursor(KEY, cursor, fingerprint)).toEqual({
      after: resume.after,
      layout: layoutOf(many),
      drained: Buffer.alloc(0),
    });
  });

  it('of exactly the longest length are accepted: what is issued is never refused as too long', () => {
    let found: { cursor: string; resume: Resume } | undefined;
    for (let bytes = 4000; bytes < 5000 && !found; bytes++) {
      for (let idLength = 1; idLength <= 64 && !found; idLength++) {
        const r: Resume = {
          ...resume,
          after: `2026-11-28T10:00:04.000Z#${'n'.repeat(idLength)}`,
          drained: new Uint8Array(bytes).fill(0x5a),
        };
        const cursor = encodeCursor(KEY, fingerprint, r);
        if (cursor.length === MAX_CURSOR_LENGTH) found = { cursor, resume: r };
      }
    }
    if (found === undefined) throw new Error('no cursor of exactly MAX_CURSOR_LENGTH was made');
    expect(decodeCursor(KEY, found.cursor, fingerprint)).toEqual({
      after: found.resume.after,
      layout: found.resume.layout,
      drained: Buffer.from(found.resume.drained),
    });
  });

  it('of an earlier version, signed by this installation, are refused as such', () => {
    // An earlier cursor's MAC: the same key and label over its own body.
    const cursor = signedByKey({ v: 2, f: fingerprint, k: resume.after, l: resume.layout, d: '' });
    const err = refusal(() => decodeCursor(KEY, cursor, fingerprint));
    expect(err).toBeInstanceOf(InvalidCursorError);
    expect((err as InvalidCursorError).details[0]?.message).toBe('unknown version');
  });

  it('of another query are refused, even with the same partitions', () => {
    const cursor = encodeCursor(KEY, fingerprint, resume);
    const other = planList({ webhookId: 'wh_a', status: 'SENT', limit: 5 });
    const err = refusal(() => decodeCursor(KEY, cursor, other.fingerprint));
    expect((err as InvalidCursorError).details[0]?.message).toBe('it belongs to a different query');
  });

  it('refuse a MAC spelled differently, even where base64url decodes it to the same bytes', () => {
    const cursor = encodeCursor(KEY, fingerprint, resume);
    const last = cursor.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const i = alphabet.indexOf(last);
    const sibling = alphabet[i ^ 1]!;
    const respelled = cursor.slice(0, -1) + sibling;
    expect(Buffer.from(respelled.split('.')[1]!, 'base64url')).toEqual(
      Buffer.from(cursor.split('.')[1]!, 'base64url'),
    );
    expect(refusal(() => decodeCursor(KEY, respelled, fingerprint))).toBeInstanceOf(
      InvalidCursorError,
    );
  });

  it('refuse any change to a real cursor, and any string at all, with INVALID_CURSOR', () => {
    const cursor = encodeCursor(KEY, fingerprint, resume);
    fc.assert(
      fc.property(
        fc.nat({ max: cursor.length - 1 }),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
        (at, char) => {
          fc.pre(cursor[at] !== char);
          const changed = cursor.slice(0, at) + char + cursor.slice(at + 1);
          expect(refusal(() => decodeCursor(KEY, changed, fingerprint))).toBeInstanceOf(
            InvalidCursorError,
          );
        },
      ),
      { numRuns: 2000, seed: 20261203 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 9000 }), (junk) => {
        expect(refusal(() => decodeCursor(KEY, junk, fingerprint))).toBeInstanceOf(
          InvalidCursorError,
        );
      }),
      { numRuns: 300, seed: 20261203 },
    );
  });

  it('from a store are accepted by another store of the same installation only', async () => {
    const shared = fixedCursorKey();
    const a = new MemoryNotificationStore(shared);
    const other = new MemoryNotificationStore(fixedCursorKey());
    await seed(a, 3, 'SENT');
    const page = await a.list({ webhookId: 'wh_a', limit: 1 });
    expect(
      (await a.list({ webhookId: 'wh_a', limit: 1, cursor: page.nextCursor! })).items,
    ).toHaveLength(1);
    await expect(
      other.list({ webhookId: 'wh_a', limit: 1, cursor: page.nextCursor! }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
  });
});

describe('a cursor handed back with another query', () => {
  const store = new MemoryNotificationStore(fixedCursorKey());
  const query = {
    webhookId: 'wh_a',
    status: 'FAILED' as const,
    eventType: 'T',
    from: '2026-11-28T09:00:00.000Z',
    to: '2026-11-28T11:00:00.000Z',
  };
  let cursor: string;
  beforeAll(async () => {
    await seed(store, 4, 'FAILED');
    cursor = (await store.list({ ...query, limit: 1 })).nextCursor!;
    expect(cursor).toEqual(expect.any(String));
  });

  it.each<[string, Partial<NotificationQuery>]>([
    ['another webhookId', { webhookId: 'wh_b' }],
    ['no webhookId', { webhookId: undefined }],
    ['another status', { status: 'WAITING' }],
    ['another eventType', { eventType: 'U' }],
    ['no eventType', { eventType: undefined }],
    ['another from', { from: '2026-11-28T08:00:00.000Z' }],
    ['another to', { to: '2026-11-28T12:00:00.000Z' }],
    ['no to', { to: undefined }],
  ])('is refused with INVALID_CURSOR for %s', async (_name, change) => {
    const other = { ...query, ...change, limit: 1, cursor };
    const err = await store.list(other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidCursorError);
    expect((err as InvalidCursorError).details[0]?.message).toBe('it belongs to a different query');
  });

  it('is accepted at another page size, with from and to written as other forms of the same instants', async () => {
    const page = await store.list({
      ...query,
      from: '2026-11-28T09:00:00Z',
      to: '2026-11-28T12:00:00+01:00',
      limit: 2,
      cursor,
    });
    expect(page.items.map((n) => n.id)).toEqual([
      'ntf_00000000000000000000000002',
      'ntf_00000000000000000000000001',
    ]);
  });
});
