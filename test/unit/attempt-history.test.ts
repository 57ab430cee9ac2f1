import {
  attemptsToStore,
  FIRST_EXCERPTS_KEPT,
  LATEST_EXCERPTS_KEPT,
  MAX_ATTEMPTS_KEPT,
  nextAttemptNumber,
} from '../../lambdas/core/attempt-history';
import type { Attempt } from '../../lambdas/core/model';

function failed(number: number, responseBody: string | null = `error page ${number}`): Attempt {
  return {
    number,
    trigger: number === 1 ? 'initial' : 'retry',
    startedAt: '2026-12-04T02:00:00.000Z',
    durationMs: 5,
    statusCode: 503,
    outcome: 'FAILED',
    error: 'INVALID_HTTP_RESPONSE',
    responseBody,
  };
}

function attempts(count: number): Attempt[] {
  return Array.from({ length: count }, (_, i) => failed(i + 1));
}

describe('attemptsToStore', () => {
  const window = FIRST_EXCERPTS_KEPT + LATEST_EXCERPTS_KEPT;

  it('appends alone while every excerpt is kept', () => {
    expect(FIRST_EXCERPTS_KEPT).toBe(6);
    for (let n = 0; n < window; n++)
      expect(attemptsToStore(attempts(n), failed(n + 1))).toBe(undefined);
  });

  it('drops the excerpt of the attempt that leaves the latest ones, keeping the first ones', () => {
    const previous = attempts(window);
    const next = failed(window + 1);
    const stored = attemptsToStore(previous, next);
    expect(stored).toHaveLength(window + 1);
    expect(stored?.at(-1)).toBe(next);
    const withExcerpt = (stored ?? []).filter((a) => a.responseBody !== null).map((a) => a.number);
    expect(withExcerpt).toEqual([
      ...[1, 2, 3, 4, 5, 6],
      ...Array.from(
        { length: LATEST_EXCERPTS_KEPT },
        (_, i) => window + 2 - LATEST_EXCERPTS_KEPT + i,
      ),
    ]);
    // Only the excerpt goes: the attempt itself stays as it was.
    expect(stored?.[FIRST_EXCERPTS_KEPT]).toEqual({
      ...previous[FIRST_EXCERPTS_KEPT],
      responseBody: null,
    });
    // The list read is left untouched.
    expect(previous.every((a) => a.responseBody !== null)).toBe(true);
  });

  it('keeps a long history bounded: 1 + 5 + 20 excerpts however many attempts there are', () => {
    let list: Attempt[] = [];
    for (let n = 1; n <= 300; n++) {
      const next = failed(n, 'x'.repeat(1024));
      list = [...(attemptsToStore(list, next) ?? [...list, next])];
    }
    expect(list).toHaveLength(300);
    expect(list.map((a) => a.number)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(list.filter((a) => a.responseBody !== null)).toHaveLength(window);
    // Once trimmed, the next attempt rewrites nothing new but the one leaving the window.
    const next = failed(301);
    const again = attemptsToStore(list, next);
    expect(again?.filter((a, i) => a.responseBody !== list[i]?.responseBody && i < 300)).toEqual([
      { ...list[300 - LATEST_EXCERPTS_KEPT], responseBody: null },
    ]);
  });

  it('holds at most MAX_ATTEMPTS_KEPT attempts: the first ones and the latest, each with its number', () => {
    let list: Attempt[] = [];
    for (let n = 1; n <= 600; n++) {
      const next = failed(nextAttemptNumber(list));
      expect(next.number).toBe(n);
      list = [...(attemptsToStore(list, next) ?? [...list, next])];
    }
    expect(MAX_ATTEMPTS_KEPT).toBe(500);
    expect(list).toHaveLength(MAX_ATTEMPTS_KEPT);
    expect(list.map((a) => a.number)).toEqual([
      ...[1, 2, 3, 4, 5, 6],
      ...Array.from({ length: 494 }, (_, i) => 107 + i),
    ]);
    expect(list.filter((a) => a.responseBody !== null)).toHaveLength(
      FIRST_EXCERPTS_KEPT + LATEST_EXCERPTS_KEPT,
    );
    expect(nextAttemptNumber(list)).toBe(601);
    expect(nextAttemptNumber([])).toBe(1);
  });

  it('asks for no rewrite when the attempt leaving the window had no excerpt', () => {
    const previous = attempts(window);
    previous[FIRST_EXCERPTS_KEPT] = failed(FIRST_EXCERPTS_KEPT + 1, null);
    expect(attemptsToStore(previous, failed(window + 1))).toBe(undefined);
  });
});
