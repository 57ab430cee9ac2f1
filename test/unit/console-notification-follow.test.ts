import {
  lastAttemptNumber,
  POLL_DUE_MARGIN_MS,
  POLL_FAST_MS,
  POLL_FAST_READS,
  POLL_MAX_BEFORE_DUE_MS,
  POLL_MAX_MS,
  pollDelay,
  resendPending,
} from '../../console/src/pages/notification-follow';

const numbered = (numbers: number[]) => numbers.map((number) => ({ number }));
/** A record past 500 attempts: the first six, then the latest 494 up to `last`. */
const full = (last: number) =>
  numbered([1, 2, 3, 4, 5, 6, ...Array.from({ length: 494 }, (_, i) => last - 493 + i)]);

describe('console: a resend followed on the notification page', () => {
  it('is pending until an attempt numbered after the last one shown appears', () => {
    const before = lastAttemptNumber(numbered([1, 2]));
    expect(resendPending(before, numbered([1, 2]))).toBe(true);
    expect(resendPending(before, numbered([1, 2, 3]))).toBe(false);
  });

  it('sees the new attempt of a record that keeps 500 attempts, whose count no longer grows', () => {
    const shown = full(700);
    const after = full(701);
    expect(after).toHaveLength(shown.length);
    const before = lastAttemptNumber(shown);
    expect(resendPending(before, shown)).toBe(true);
    expect(resendPending(before, after)).toBe(false);
  });

  it('takes the highest attempt number, whatever order the attempts come in', () => {
    expect(lastAttemptNumber(numbered([3, 7, 5]))).toBe(7);
    expect(resendPending(7, numbered([8, 2]))).toBe(false);
  });

  it('is not pending when nothing was resent, and counts no attempt as 0', () => {
    expect(resendPending(undefined, [])).toBe(false);
    expect(lastAttemptNumber([])).toBe(0);
    expect(resendPending(0, [])).toBe(true);
  });
});

describe('console: how often a notification page reads a notification that is still moving', () => {
  const NOW = Date.parse('2026-12-04T12:00:00.000Z');
  const at = (ms: number) => new Date(NOW + ms).toISOString();
  const schedule = (reads: number, dueAt?: string | null) =>
    Array.from({ length: reads }, (_, i) => pollDelay(i, NOW, dueAt));

  it('reads every 0.7 s at first, then doubles the wait up to 15 s and stays there', () => {
    expect(schedule(16)).toEqual([
      ...Array.from({ length: POLL_FAST_READS }, () => POLL_FAST_MS),
      1400,
      2800,
      5600,
      11_200,
      POLL_MAX_MS,
      POLL_MAX_MS,
      POLL_MAX_MS,
      POLL_MAX_MS,
    ]);
    expect(pollDelay(10_000, NOW)).toBe(POLL_MAX_MS);
  });

  it('before an automatic retry hours away, reads at most once a minute', () => {
    const due = at(3 * 3600_000);
    expect(schedule(20, due).every((d) => d === POLL_MAX_BEFORE_DUE_MS)).toBe(true);
  });

  it('reads just after a retry due sooner than the back-off, never faster than 0.7 s', () => {
    expect(pollDelay(12, NOW, at(3000))).toBe(3000 + POLL_DUE_MARGIN_MS);
    expect(pollDelay(0, NOW, at(30_000))).toBe(30_000 + POLL_DUE_MARGIN_MS);
    expect(pollDelay(0, NOW, at(10))).toBe(POLL_FAST_MS);
  });

  it('backs off as usual once the retry is due, or without a readable time', () => {
    expect(pollDelay(0, NOW, at(-5000))).toBe(POLL_FAST_MS);
    expect(pollDelay(12, NOW, at(-5000))).toBe(POLL_MAX_MS);
    expect(pollDelay(12, NOW, at(0))).toBe(POLL_MAX_MS);
    expect(pollDelay(12, NOW, null)).toBe(POLL_MAX_MS);
    expect(pollDelay(12, NOW, 'not a time')).toBe(POLL_MAX_MS);
  });
});
