/** The one timestamp parser: event times strictly RFC 3339, history bounds in lenient forms too. */
import { parseDateTime, parseLenientDateTime } from '../../lambdas/core/date-time';

describe('timestamps', () => {
  it('reads RFC 3339 date-times with an offset and returns the instant in UTC', () => {
    expect(parseDateTime('2026-11-28T10:00:00Z')).toBe('2026-11-28T10:00:00.000Z');
    expect(parseDateTime('2026-11-28t11:30:00.5+01:30')).toBe('2026-11-28T10:00:00.500Z');
  });

  it('refuses a date-time without an offset, impossible dates and times', () => {
    for (const value of [
      '2026-11-28T10:00:00',
      '2026-11-28',
      '2026-02-29T10:00:00Z',
      '2026-11-28T24:00:00Z',
      '2026-11-28T10:00:00+24:00',
    ]) {
      expect({ value, parsed: parseDateTime(value) }).toEqual({ value, parsed: undefined });
    }
  });

  it('reads the lenient forms of a history bound through the same rules', () => {
    expect(parseLenientDateTime('2026-11-28')).toBe('2026-11-28T00:00:00.000Z');
    expect(parseLenientDateTime('2026-11-28T10:00+0100')).toBe('2026-11-28T09:00:00.000Z');
    expect(parseLenientDateTime('2026-11-28 10:00:30Z')).toBe('2026-11-28T10:00:30.000Z');
    expect(parseLenientDateTime('2026-02-31')).toBeUndefined();
    expect(parseLenientDateTime('2026-11-28T10:00')).toBeUndefined();
  });
});
