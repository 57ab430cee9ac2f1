import { PayloadTooLargeError, ValidationError } from '../../lambdas/core/errors';
import {
  definitionMatches,
  MAX_BATCH_EVENTS,
  MAX_EVENT_BYTES,
  parseEvent,
  parseEvents,
} from '../../lambdas/core/events';
import { ulidTime } from '../../lambdas/core/ids';

const now = new Date('2026-11-28T10:00:00.000Z');

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('parseEvent', () => {
  it('accepts a full event and normalises occurredAt to UTC', () => {
    const data = { loanId: 'L-1', amount: 12.5 };

    const event = parseEvent(
      { type: 'LOAN_DISBURSEMENT', id: 'p-1', occurredAt: '2026-11-28T11:30:00+01:00', data },
      now,
    );

    expect(event).toEqual({
      id: 'p-1',
      type: 'LOAN_DISBURSEMENT',
      occurredAt: '2026-11-28T10:30:00.000Z',
      data,
    });
    expect(event.data).toBe(data);
  });

  it.each([
    ['2026-11-28T10:00:00.123456789Z', '2026-11-28T10:00:00.123Z'],
    ['2026-11-28t10:00:00z', '2026-11-28T10:00:00.000Z'],
    ['2026-11-28 10:00:00-00:30', '2026-11-28T10:30:00.000Z'],
    ['2024-02-29T00:00:00+14:00', '2024-02-28T10:00:00.000Z'],
  ])('reads occurredAt %s as %s', (occurredAt, expected) => {
    expect(parseEvent({ type: 'X', occurredAt, data: {} }, now).occurredAt).toBe(expected);
  });

  it('accepts non-ASCII types and ids, emoji included', () => {
    expect(parseEvent({ type: 'Prêt accordé 🎉', id: 'évènement-1', data: {} }, now)).toMatchObject(
      {
        type: 'Prêt accordé 🎉',
        id: 'évènement-1',
      },
    );
  });

  it('fills in a time-sortable id and the current time', () => {
    const event = parseEvent({ type: 'X', data: {} }, now);

    expect(event.id).toMatch(/^evt_/);
    expect(ulidTime(event.id)).toBeGreaterThan(0);
    expect(event.occurredAt).toBe(now.toISOString());
  });

  it.each([
    [{ data: {} }, 'type', 'is required'],
    [{ type: '', data: {} }, 'type', 'must not be empty'],
    [{ type: 5, data: {} }, 'type', 'must be a string'],
    [{ type: 'A'.repeat(257), data: {} }, 'type', 'at most 256'],
    [{ type: 'LOAN\nX', data: {} }, 'type', 'control characters'],
    [{ type: 'LOAN\u0085', data: {} }, 'type', 'control characters'],
    [{ type: 'LOAN\ud800', data: {} }, 'type', 'control characters'],
    [{ type: 'X', data: {}, id: 'a\u0000b' }, 'id', 'control characters'],
    [{ type: '*', data: {} }, 'type', 'wildcard'],
    [{ type: 'X' }, 'data', 'is required'],
    [{ type: 'X', data: [] }, 'data', 'array'],
    [{ type: 'X', data: null }, 'data', 'null'],
    [{ type: 'X', data: 'text' }, 'data', 'string'],
    [{ type: 'X', data: {}, id: '' }, 'id', 'must not be empty'],
    [{ type: 'X', data: {}, id: 7 }, 'id', 'must be a string'],
    [{ type: 'X', data: {}, id: 'x'.repeat(257) }, 'id', 'at most 256'],
    [{ type: 'X', data: {}, occurredAt: 'yesterday' }, 'occurredAt', 'ISO 8601'],
    [{ type: 'X', data: {}, occurredAt: '2026-11-28T10:00:00' }, 'occurredAt', 'ISO 8601'],
    [{ type: 'X', data: {}, occurredAt: '2026-02-30T10:00:00Z' }, 'occurredAt', 'ISO 8601'],
    [{ type: 'X', data: {}, occurredAt: 1764324000 }, 'occurredAt', 'ISO 8601'],
    [{ type: 'X', data: {}, occurredAt: '9999-12-31T23:59:59-23:59' }, 'occurredAt', 'ISO 8601'],
    [{ type: 'X', data: {}, occurredAt: '2026-11-28T24:00:00Z' }, 'occurredAt', 'ISO 8601'],
    [{ type: 'X', data: {}, extra: 1 }, 'extra', 'unknown field'],
  ])('refuses %j at path %s', (input, path, message) => {
    const err = caught(() => parseEvent(input, now));

    expect(err).toBeInstanceOf(ValidationError);
    const details = (err as ValidationError).details;
    expect(details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    expect(details.find((d) => d.path === path)!.message).toContain(message);
  });

  it('lists at most 50 problems, then says how many more there are', () => {
    const input: Record<string, unknown> = { type: 'X', data: {} };
    for (let i = 0; i < 500; i++) input[`f${i}`] = i;

    const err = caught(() => parseEvent(input, now)) as ValidationError;

    expect(err.details).toHaveLength(51);
    expect(err.details[50]!.message).toBe('450 more problems not listed');
  });

  it('lists exactly 50 problems in full', () => {
    const input: Record<string, unknown> = { type: 'X', data: {} };
    for (let i = 0; i < 50; i++) input[`f${i}`] = i;

    const err = caught(() => parseEvent(input, now)) as ValidationError;

    expect(err.details).toHaveLength(50);
    expect(err.details.every((d) => d.path?.startsWith('f'))).toBe(true);
  });

  it('takes a type, id and subject of 256 characters, refuses 257 and a blank one', () => {
    const at256 = 't'.repeat(256);
    const event = parseEvent({ type: at256, id: at256, subject: at256, data: {} }, now);
    expect([event.type, event.id, event.subject]).toEqual([at256, at256, at256]);
    for (const field of ['type', 'id', 'subject']) {
      const long = caught(() =>
        parseEvent({ type: 'X', data: {}, [field]: 't'.repeat(257) }, now),
      ) as ValidationError;
      expect(long.details).toEqual([{ path: field, message: 'must be at most 256 characters' }]);
      const blank = caught(() =>
        parseEvent({ type: 'X', data: {}, [field]: ' \t ' }, now),
      ) as ValidationError;
      expect(blank.details).toEqual([{ path: field, message: 'must not be empty' }]);
    }
  });

  it('refuses a body that is not an object', () => {
    for (const input of [null, [], 'x', 3]) {
      expect(() => parseEvent(input, now)).toThrow(ValidationError);
    }
  });

  it('refuses __proto__ and constructor as top-level fields, and keeps them as plain data inside data', () => {
    const hostile = JSON.parse(
      '{"type":"X","data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"p":1}}}}',
    );

    const event = parseEvent(hostile, now);
    const err = caught(() =>
      parseEvent(JSON.parse('{"type":"X","data":{},"__proto__":{"polluted":true}}'), now),
    );

    expect(Object.keys(event.data)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((err as ValidationError).details).toEqual([
      { path: '__proto__', message: 'unknown field' },
    ]);
  });

  it('accepts an event of exactly 256 KiB and refuses one byte more with PayloadTooLargeError', () => {
    const skeleton = JSON.stringify({ type: 'X', data: { s: '' } });
    const fits = { type: 'X', data: { s: 'a'.repeat(MAX_EVENT_BYTES - skeleton.length) } };
    const tooBig = { type: 'X', data: { s: 'a'.repeat(MAX_EVENT_BYTES - skeleton.length + 1) } };

    expect(parseEvent(fits, now).type).toBe('X');
    expect(caught(() => parseEvent(tooBig, now))).toBeInstanceOf(PayloadTooLargeError);
  });

  it('measures the request body as sent when its size is given', () => {
    const small = { type: 'X', data: { s: 'a' } };

    expect(parseEvent(small, now, { bodyBytes: MAX_EVENT_BYTES }).type).toBe('X');
    expect(caught(() => parseEvent(small, now, { bodyBytes: MAX_EVENT_BYTES + 1 }))).toBeInstanceOf(
      PayloadTooLargeError,
    );
    expect(
      caught(() => parseEvents(small, now, { bodyBytes: MAX_EVENT_BYTES + 1 })),
    ).toBeInstanceOf(PayloadTooLargeError);
    // A batch's events are measured each by their JSON text, whatever the body's size.
    expect(parseEvents({ events: [small] }, now, { bodyBytes: 4 * MAX_EVENT_BYTES }).batch).toBe(
      true,
    );
  });

  it('measures the size in UTF-8 bytes', () => {
    const skeleton = JSON.stringify({ type: 'X', data: { s: '' } });
    // 'é' is 1 UTF-16 unit but 2 UTF-8 bytes.
    const input = {
      type: 'X',
      data: { s: 'é'.repeat((MAX_EVENT_BYTES - skeleton.length) / 2 + 1) },
    };

    expect(JSON.stringify(input).length).toBeLessThan(MAX_EVENT_BYTES);
    expect(caught(() => parseEvent(input, now))).toBeInstanceOf(PayloadTooLargeError);
  });
});

describe('parseEvents', () => {
  it('treats a body without "events" as a single event', () => {
    const result = parseEvents({ type: 'X', data: { a: 1 } }, now);

    expect(result.batch).toBe(false);
    expect(result.events).toHaveLength(1);
  });

  it('accepts a batch and gives each event without id its own id, in order', () => {
    const result = parseEvents(
      {
        events: [
          { type: 'A', data: {} },
          { type: 'B', data: {}, id: 'mine' },
          { type: 'C', data: {} },
        ],
      },
      now,
    );

    expect(result.batch).toBe(true);
    expect(result.events.map((e) => e.type)).toEqual(['A', 'B', 'C']);
    expect(result.events[1]!.id).toBe('mine');
    expect(result.events[0]!.id < result.events[2]!.id).toBe(true);
  });

  it('names the index and path of every bad event in a batch', () => {
    const events = [
      { type: 'A', data: {} },
      { type: 'B', data: {} },
      { type: 'C', data: {} },
      { type: '', data: {} },
      { type: 'E', data: [], color: 'red' },
    ];

    const err = caught(() => parseEvents({ events }, now)) as ValidationError;

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ index: 3, path: 'events[3].type' }),
        expect.objectContaining({ index: 4, path: 'events[4].data' }),
        expect.objectContaining({ index: 4, path: 'events[4].color' }),
      ]),
    );
    expect(err.details.every((d) => d.index === 3 || d.index === 4)).toBe(true);
  });

  it('names the index of an event that is not an object', () => {
    const err = caught(() =>
      parseEvents({ events: [{ type: 'A', data: {} }, 'oops'] }, now),
    ) as ValidationError;

    expect(err.details).toEqual([expect.objectContaining({ index: 1, path: 'events[1]' })]);
  });

  it(`accepts ${MAX_BATCH_EVENTS} events and refuses ${MAX_BATCH_EVENTS + 1}`, () => {
    const batch = (n: number) => ({
      events: Array.from({ length: n }, (_, i) => ({ type: `T${i}`, data: {} })),
    });

    expect(parseEvents(batch(MAX_BATCH_EVENTS), now).events).toHaveLength(MAX_BATCH_EVENTS);
    const err = caught(() => parseEvents(batch(MAX_BATCH_EVENTS + 1), now)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.details[0]!.path).toBe('events');
  });

  it('refuses an empty batch, a non-array and extra fields next to events', () => {
    expect(() => parseEvents({ events: [] }, now)).toThrow(ValidationError);
    expect(() => parseEvents({ events: {} }, now)).toThrow(ValidationError);
    const err = caught(() =>
      parseEvents({ events: [{ type: 'A', data: {} }], extra: true }, now),
    ) as ValidationError;
    expect(err.details).toEqual([{ path: 'extra', message: 'unknown field' }]);
  });

  it('accepts a batch holding an event of exactly 256 KiB', () => {
    const skeleton = JSON.stringify({ type: 'X', data: { s: '' } });
    const fits = { type: 'X', data: { s: 'a'.repeat(MAX_EVENT_BYTES - skeleton.length) } };

    expect(parseEvents({ events: [fits, { type: 'A', data: {} }] }, now).events).toHaveLength(2);
  });

  it('refuses a batch holding an event larger than 256 KiB with its index', () => {
    const big = { type: 'X', data: { s: 'a'.repeat(MAX_EVENT_BYTES) } };

    const err = caught(() =>
      parseEvents({ events: [{ type: 'A', data: {} }, big] }, now),
    ) as PayloadTooLargeError;

    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.details).toEqual([expect.objectContaining({ index: 1, path: 'events[1]' })]);
  });
});

describe('definitionMatches', () => {
  it.each([
    [true, ['LOAN_DISBURSEMENT'], 'LOAN_DISBURSEMENT', true],
    [true, ['LOAN_REPAYMENT'], 'LOAN_DISBURSEMENT', false],
    [true, ['*'], 'ANYTHING', true],
    [false, ['*'], 'ANYTHING', false],
    [false, ['LOAN_DISBURSEMENT'], 'LOAN_DISBURSEMENT', false],
    [true, [], 'LOAN_DISBURSEMENT', false],
    [true, ['loan_disbursement'], 'LOAN_DISBURSEMENT', false],
  ])('enabled=%s events=%j type=%s -> %s', (enabled, events, type, expected) => {
    expect(definitionMatches({ enabled, events }, type)).toBe(expected);
  });
});
