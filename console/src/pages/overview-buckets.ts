/** The overview chart's hours; no DOM, so unit tests run it in Node. */

export const HOURS = 24;
const HOUR = 3600_000;

export interface Bucket {
  start: number;
  sent: number;
  failed: number;
  other: number;
}

/**
 * Where the chart starts: 24 hour buckets that end with the current, partial hour. The history
 * is read from here, so every notification read falls in a bucket.
 */
export function chartStart(now: number): number {
  return Math.floor(now / HOUR) * HOUR - (HOURS - 1) * HOUR;
}

/** Notifications created since `chartStart(now)` counted per hour, by status. */
export function buckets(
  rows: readonly { createdAt: string; status: string }[],
  now: number,
): Bucket[] {
  const first = chartStart(now);
  const out: Bucket[] = Array.from({ length: HOURS }, (_, i) => ({
    start: first + i * HOUR,
    sent: 0,
    failed: 0,
    other: 0,
  }));
  for (const r of rows) {
    const b = out[Math.floor((Date.parse(r.createdAt) - first) / HOUR)];
    if (!b) continue;
    if (r.status === 'SENT') b.sent++;
    else if (r.status === 'FAILED') b.failed++;
    else b.other++;
  }
  return out;
}
