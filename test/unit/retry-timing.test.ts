import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/core/retry-schedule';
import { nextWaitSeconds, parseRetryAfter } from '../../lambdas/core/retry-timing';

const now = new Date('2026-11-28T10:00:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['120', 120],
    ['0', 0],
    [' 30 ', 30],
    ['Sat, 28 Nov 2026 10:02:00 GMT', 120],
    ['Saturday, 28-Nov-26 10:00:30 GMT', 30],
    ['Sat Nov 28 10:01:00 2026', 60],
    ['Fri, 27 Nov 2026 10:00:00 GMT', 0], // a date in the past means "now"
    ['Sat, 28 Nov 2026 10:00:00 GMT', 0],
  ])('reads %j as %d seconds', (value, seconds) => {
    expect(parseRetryAfter(value, now)).toBe(seconds);
  });

  it('rounds a date with a sub-second remainder up to whole seconds', () => {
    expect(
      parseRetryAfter('Sat, 28 Nov 2026 10:00:10 GMT', new Date('2026-11-28T10:00:00.500Z')),
    ).toBe(10);
  });

  it.each([
    [undefined],
    [''],
    ['-5'],
    ['1.5'],
    ['soon'],
    ['2026-11-28T10:02:00Z'],
    ['Sat, 31 Nov 2026 10:02:00 GMT'],
    ['Sat, 28 Nov 2026 25:02:00 GMT'],
    ['Sat, 28 Nov 2026 10:02:00 CET'],
  ])('refuses %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('nextWaitSeconds', () => {
  const schedule = DEFAULT_RETRY_SCHEDULE_SECONDS;

  it('applies -20 % .. +20 % jitter uniformly around the step', () => {
    expect(nextWaitSeconds({ schedule, step: 0, random: () => 0 })).toBe(48);
    expect(nextWaitSeconds({ schedule, step: 0, random: () => 0.5 })).toBe(60);
    expect(nextWaitSeconds({ schedule, step: 0, random: () => 0.999999 })).toBe(72);
    expect(nextWaitSeconds({ schedule, step: 4, random: () => 0.25 })).toBe(33750);
  });

  it('stays within the jitter band for random draws', () => {
    for (let step = 0; step < schedule.length; step++) {
      for (let i = 0; i < 200; i++) {
        const wait = nextWaitSeconds({ schedule, step });
        expect(wait).toBeGreaterThanOrEqual(Math.round(schedule[step]! * 0.8));
        expect(wait).toBeLessThanOrEqual(Math.round(schedule[step]! * 1.2));
      }
    }
  });

  it('honours Retry-After below the step ceiling, without jitter', () => {
    expect(nextWaitSeconds({ schedule, step: 1, retryAfterSeconds: 42, random: () => 0 })).toBe(42);
  });

  it('caps Retry-After at the step ceiling', () => {
    expect(nextWaitSeconds({ schedule, step: 1, retryAfterSeconds: 100000, random: () => 0 })).toBe(
      300,
    );
  });

  it('waits at least one second when Retry-After is zero', () => {
    expect(nextWaitSeconds({ schedule, step: 0, retryAfterSeconds: 0 })).toBe(1);
  });

  it('scales waits for local mode without rounding', () => {
    expect(nextWaitSeconds({ schedule, step: 0, random: () => 0.5, timeScale: 0.001 })).toBeCloseTo(
      0.06,
      10,
    );
    expect(
      nextWaitSeconds({ schedule, step: 2, retryAfterSeconds: 10, timeScale: 0.01 }),
    ).toBeCloseTo(0.1, 10);
  });

  it('refuses a step outside the schedule', () => {
    expect(() => nextWaitSeconds({ schedule, step: 5 })).toThrow(RangeError);
    expect(() => nextWaitSeconds({ schedule, step: -1 })).toThrow(RangeError);
  });
});
