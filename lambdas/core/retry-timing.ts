/**
 * How long to wait before the next automatic retry: the schedule step with +-20 % jitter, or
 * the receiver's Retry-After when it asks for less than the step's ceiling.
 */

const DELTA_SECONDS = /^\d+$/;
const DAY = '(Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// The three HTTP-date forms of RFC 9110 section 5.6.7.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

// Regex groups arrive as `string | undefined`; a missing one is no date.
function utc(
  year: number,
  month: string | undefined,
  day: string | undefined,
  hh: string | undefined,
  mm: string | undefined,
  ss: string | undefined,
): number | undefined {
  if ([month, day, hh, mm, ss].includes(undefined) || month === undefined) return undefined;
  const m = MONTHS.indexOf(month);
  const d = Number(day);
  const [h, mi, s] = [Number(hh), Number(mm), Number(ss)];
  if (h > 23 || mi > 59 || s > 60 || d < 1) return undefined;
  if (d > new Date(Date.UTC(year, m + 1, 0)).getUTCDate()) return undefined;
  return Date.UTC(year, m, d, h, mi, Math.min(s, 59));
}

function parseHttpDate(value: string, now: Date): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[4]), m[3], m[2], m[5], m[6], m[7]);
  m = RFC850_DATE.exec(value);
  if (m) {
    // Two-digit years that would lie more than 50 years ahead belong to the previous century.
    const thisYear = now.getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[4]);
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[3], m[2], m[5], m[6], m[7]);
  }
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[7]), m[2], m[3]?.trim(), m[4], m[5], m[6]);
  return undefined;
}

/**
 * Retry-After as delta-seconds or HTTP-date, in whole seconds from `now` (a past date gives 0).
 * Anything else (negative, fractional, unparseable) gives undefined.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (DELTA_SECONDS.test(v)) {
    const seconds = Number(v);
    return Number.isSafeInteger(seconds) ? seconds : Number.MAX_SAFE_INTEGER;
  }
  const at = parseHttpDate(v, now);
  if (at === undefined) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

export const JITTER = 0.2;

/**
 * step = index into schedule (0 = wait before retry 1). Without Retry-After:
 * schedule[step] * (0.8..1.2), uniformly. With Retry-After: min(retryAfter, schedule[step]),
 * no jitter. The result is multiplied by timeScale (default 1); when timeScale === 1 it is
 * rounded to whole seconds, at least 1.
 */
export function nextWaitSeconds(opts: {
  schedule: readonly number[];
  step: number;
  retryAfterSeconds?: number;
  random?: () => number;
  timeScale?: number;
}): number {
  const { schedule, step, retryAfterSeconds, random = Math.random, timeScale = 1 } = opts;
  const ceiling = schedule[step];
  if (ceiling === undefined || !Number.isInteger(step)) {
    throw new RangeError(`retry step ${step} is outside the schedule (0..${schedule.length - 1})`);
  }
  const wait =
    retryAfterSeconds !== undefined && retryAfterSeconds >= 0
      ? Math.min(retryAfterSeconds, ceiling)
      : ceiling * (1 - JITTER + 2 * JITTER * random());
  const scaled = wait * timeScale;
  return timeScale === 1 ? Math.max(1, Math.round(scaled)) : scaled;
}
