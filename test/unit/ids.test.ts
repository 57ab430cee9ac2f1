import { createHash } from 'node:crypto';
import {
  newEventId,
  newJobId,
  newWebhookId,
  notificationIdFor,
  ulid,
  ulidTime,
} from '../../lambdas/core/ids';

const BASE32 = '[0-9A-HJKMNP-TV-Z]';

describe('ids', () => {
  it('makes webhook ids of 26 random base32 characters', () => {
    const ids = new Set(Array.from({ length: 1000 }, newWebhookId));

    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(new RegExp(`^wh_${BASE32}{26}$`));
  });

  it('draws webhook ids from all 32 characters of the alphabet', () => {
    const seen = new Set(
      Array.from({ length: 1000 }, newWebhookId).flatMap((id) => [...id.slice(3)]),
    );

    expect([...seen].sort().join('')).toBe('0123456789ABCDEFGHJKMNPQRSTVWXYZ');
  });

  it('makes event and job ids that sort by creation, also within one millisecond', () => {
    const events = Array.from({ length: 2000 }, newEventId);
    const jobs = Array.from({ length: 50 }, newJobId);

    expect([...events].sort()).toEqual(events);
    expect(new Set(events).size).toBe(events.length);
    expect([...jobs].sort()).toEqual(jobs);
    expect(events[0]).toMatch(new RegExp(`^evt_${BASE32}{26}$`));
    expect(jobs[0]).toMatch(new RegExp(`^job_${BASE32}{26}$`));
  });

  it('encodes the creation time in the first ten characters', () => {
    const before = Date.now();
    const id = newEventId();
    const after = Date.now();

    expect(ulidTime(id)).toBeGreaterThanOrEqual(before);
    expect(ulidTime(id)).toBeLessThanOrEqual(after);
    expect(ulid()).toMatch(new RegExp(`^${BASE32}{26}$`));
  });

  it('refuses to read a time from an id that is not a ULID', () => {
    expect(() => ulidTime('evt_01ARZ3NDEU')).toThrow('not a ULID: evt_01ARZ3NDEU');
  });

  it('derives notification ids deterministically from webhook and event id', () => {
    const a = notificationIdFor('wh_1', 'evt_1');

    expect(a).toMatch(new RegExp(`^ntf_${BASE32}{26}$`));
    expect(notificationIdFor('wh_1', 'evt_1')).toBe(a);
    expect(notificationIdFor('wh_2', 'evt_1')).not.toBe(a);
    expect(notificationIdFor('wh_1', 'evt_2')).not.toBe(a);
    // The separator keeps the two parts apart.
    expect(notificationIdFor('wh_1e', 'vt_1')).not.toBe(notificationIdFor('wh_1', 'evt_1'));
  });

  it('takes the notification id from the leading bits of the sha256 digest', () => {
    // sha256("wh_1\nevt_1") starts with these 130 bits, in Crockford base32.
    const digest = createHash('sha256').update('wh_1\nevt_1').digest();
    let bits = '';
    for (const byte of digest) bits += byte.toString(2).padStart(8, '0');
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    let expected = '';
    for (let i = 0; i < 26; i++)
      expected += alphabet[Number.parseInt(bits.slice(i * 5, i * 5 + 5), 2)];

    expect(notificationIdFor('wh_1', 'evt_1')).toBe(`ntf_${expected}`);
  });
});
