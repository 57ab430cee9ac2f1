/**
 * The one parser of timestamps: event times (`occurredAt`) and the history's `from`/`to`
 * bounds. Instants come back in UTC `toISOString()` form, so they compare with stored
 * timestamps as strings.
 */

// RFC 3339 date-time (ISO 8601 profile) with a mandatory offset.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 date-time with offset; returns the instant as ISO (UTC) or undefined. */
export function parseDateTime(value: string): string | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59)
    return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const ms = Date.parse(value.toUpperCase().replace(' ', 'T'));
  if (!Number.isFinite(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  // An offset can push year 9999 or 0000 out of four digits; keep the stored form plain.
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

/**
 * The forms a query bound may also take, brought to RFC 3339 before parsing: a date alone
 * (midnight UTC), a time without seconds, an offset without its colon.
 */
const LENIENT =
  /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2}))?$/;

/** Whether a value has one of the lenient shapes (a calendar check is parseDateTime's). */
export function isLenientTimestamp(value: string): boolean {
  return LENIENT.test(value);
}

/** parseDateTime, also accepting the lenient forms of LENIENT. */
export function parseLenientDateTime(value: string): string | undefined {
  const m = LENIENT.exec(value);
  if (!m) return undefined;
  const [, date, hm, seconds, zone] = m;
  if (hm === undefined) return parseDateTime(`${date}T00:00:00Z`);
  const offset = zone && zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  return parseDateTime(`${date}T${hm}${seconds ?? ':00'}${offset}`);
}
