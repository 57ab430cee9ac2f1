import { lastAttemptNumber, resendPending } from '../../console/src/pages/notification-follow';

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

  it('is not pending when nothing was resent, and counts no attempt as 0', () => {
    expect(resendPending(undefined, [])).toBe(false);
    expect(lastAttemptNumber([])).toBe(0);
    expect(resendPending(0, [])).toBe(true);
  });
});
