import fc from 'fast-check';
import { fixedCursorKey } from '../../lambdas/adapters/cursor-key';
import { decodeCursor, encodeCursor, planList } from '../../lambdas/adapters/dynamo-listing';
import { InvalidCursorError } from '../../lambdas/core/errors';
import { MemoryNotificationStore } from '../support/memory-stores';

const KEY = Buffer.alloc(32, 7);
const plan = planList({ webhookId: 'wh_a', limit: 5 });
const positions = plan.partitions.map((_, i) =>
  i % 2 === 0 ? `2026-11-28T10:00:0${i}.000Z#ntf_0000000000000000000000000${i}` : null,
);

function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('pagination cursors', () => {
  it('decode to what was encoded, under the same key and query', () => {
    const cursor = encodeCursor(KEY, plan.fingerprint, positions);
    expect(decodeCursor(KEY, cursor, plan)).toEqual(positions);
  });

  it('issued by another installation are INVALID_CURSOR', () => {
    const cursor = encodeCursor(Buffer.alloc(32, 8), plan.fingerprint, positions);
    const err = refusal(() => decodeCursor(KEY, cursor, plan));
    expect(err).toBeInstanceOf(InvalidCursorError);
    expect((err as InvalidCursorError).details[0]?.message).toBe('not issued by this installation');
  });

  it.each([
    ['a position over 1 KiB', `2026-11-28T10:00:00.000Z#${'A'.repeat(1100)}`],
    ['a position without an instant', 'x#ntf_1'],
    ['a number other than the finished mark', 5],
    ['an object', { S: 'x' }],
  ])('bound every decoded field even under the right key: %s', (_name, bad) => {
    const cursor = encodeCursor(KEY, plan.fingerprint, [bad as string, ...positions.slice(1)]);
    expect(refusal(() => decodeCursor(KEY, cursor, plan))).toBeInstanceOf(InvalidCursorError);
  });

  it('refuse a MAC spelled differently, even where base64url decodes it to the same bytes', () => {
    const cursor = encodeCursor(KEY, plan.fingerprint, positions);
    const last = cursor.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const i = alphabet.indexOf(last);
    const sibling = alphabet[i ^ 1]!;
    const respelled = cursor.slice(0, -1) + sibling;
    expect(Buffer.from(respelled.split('.')[1]!, 'base64url')).toEqual(
      Buffer.from(cursor.split('.')[1]!, 'base64url'),
    );
    expect(refusal(() => decodeCursor(KEY, respelled, plan))).toBeInstanceOf(InvalidCursorError);
  });

  it('refuse any change to a real cursor, and any string at all, with INVALID_CURSOR', () => {
    const cursor = encodeCursor(KEY, plan.fingerprint, positions);
    fc.assert(
      fc.property(
        fc.nat({ max: cursor.length - 1 }),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
        (at, char) => {
          fc.pre(cursor[at] !== char);
          const changed = cursor.slice(0, at) + char + cursor.slice(at + 1);
          expect(refusal(() => decodeCursor(KEY, changed, plan))).toBeInstanceOf(
            InvalidCursorError,
          );
        },
      ),
      { numRuns: 2000, seed: 20261203 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 9000 }), (junk) => {
        expect(refusal(() => decodeCursor(KEY, junk, plan))).toBeInstanceOf(InvalidCursorError);
      }),
      { numRuns: 300, seed: 20261203 },
    );
  });

  it('from a store are accepted by another store of the same installation only', async () => {
    const shared = fixedCursorKey();
    const a = new MemoryNotificationStore(shared);
    const other = new MemoryNotificationStore(fixedCursorKey());
    for (let i = 0; i < 3; i++) {
      await a.create(
        {
          id: `ntf_0000000000000000000000000${i}`,
          webhookId: 'wh_a',
          eventId: `evt_${i}`,
          eventType: 'T',
          createdAt: `2026-11-28T10:00:0${i}.000Z`,
          status: 'SENT',
          failureReason: null,
          attempts: [],
          nextAttemptAt: null,
        },
        2_000_000_000,
      );
    }
    const page = await a.list({ webhookId: 'wh_a', limit: 1 });
    expect(
      (await a.list({ webhookId: 'wh_a', limit: 1, cursor: page.nextCursor! })).items,
    ).toHaveLength(1);
    await expect(
      other.list({ webhookId: 'wh_a', limit: 1, cursor: page.nextCursor! }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
  });
});
