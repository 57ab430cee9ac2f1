/**
 * Overview: deliveries and failures over the last 24 hours (from the history), circuits that
 * are not closed, waiting notifications by reason, and the sender IPs to copy.
 */
import { useState } from 'preact/hooks';
import type { ApiClient, NotificationSummary } from '../api/client';
import { ErrorBox, Loading, Page, Status, useApi, useAsync } from '../ui/common';
import { type Bucket, buckets, chartStart, HOURS } from './overview-buckets';
import { healthOf } from './webhooks';

/** The chart reads at most this many notifications (newest first). */
const MAX_ROWS = 2000;
/** Waiting notifications whose summary has no reason that are read one by one, at most. */
const LOOKUPS = 50;

async function recent(
  api: ApiClient,
): Promise<{ rows: NotificationSummary[]; truncated: boolean; now: number }> {
  // Read from the chart's first hour: the rows read and the hours drawn cover the same time.
  const now = Date.now();
  const from = new Date(chartStart(now)).toISOString();
  const rows: NotificationSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.listNotifications({ from, limit: 100, ...(cursor ? { cursor } : {}) });
    rows.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && rows.length < MAX_ROWS);
  return { rows, truncated: !!cursor, now };
}

/** Stacked bars, hand-drawn in SVG: no chart library for 24 bars. */
function Chart({ data }: { data: Bucket[] }) {
  const W = 720;
  const H = 200;
  const pad = 28;
  const max = Math.max(1, ...data.map((b) => b.sent + b.failed + b.other));
  const bw = (W - pad) / data.length;
  const y = (v: number) => ((H - 20) * v) / max;
  const total = data.reduce(
    (a, b) => ({ sent: a.sent + b.sent, failed: a.failed + b.failed, other: a.other + b.other }),
    { sent: 0, failed: 0, other: 0 },
  );
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H + 20}`}
        role="img"
        aria-label={`Last ${HOURS} hours: ${total.sent} sent, ${total.failed} failed, ${total.other} queued or waiting`}
      >
        <line x1={pad} y1={H} x2={W} y2={H} class="axis" />
        <text x={pad - 4} y={12} class="tick" text-anchor="end">
          {max}
        </text>
        <text x={pad - 4} y={H} class="tick" text-anchor="end">
          0
        </text>
        {data.map((b, i) => {
          const x = pad + i * bw + 2;
          const hs = y(b.sent);
          const hf = y(b.failed);
          const ho = y(b.other);
          const label = new Date(b.start).toLocaleTimeString(undefined, {
            hour: '2-digit',
            minute: '2-digit',
          });
          return (
            <g key={b.start}>
              <title>{`${label}: ${b.sent} sent, ${b.failed} failed, ${b.other} pending`}</title>
              <rect x={x} width={bw - 4} y={H - hs} height={hs} class="bar-sent" />
              <rect x={x} width={bw - 4} y={H - hs - hf} height={hf} class="bar-failed" />
              <rect x={x} width={bw - 4} y={H - hs - hf - ho} height={ho} class="bar-other" />
              {i % 4 === 0 ? (
                <text x={x} y={H + 14} class="tick">
                  {label}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      {total.sent + total.failed + total.other === 0 ? (
        <p class="muted">No notifications in the last {HOURS} hours.</p>
      ) : null}
      <figcaption>
        <span class="key key-sent" /> sent {total.sent} <span class="key key-failed" /> failed{' '}
        {total.failed} <span class="key key-other" /> queued or waiting {total.other}
      </figcaption>
    </figure>
  );
}

export function OverviewPage() {
  const api = useApi();
  const history = useAsync(() => recent(api), []);
  const circuits = useAsync(async () => {
    const hooks = (await api.listWebhooks()).items;
    const health = await healthOf(api, hooks);
    return { hooks, health };
  }, []);
  const waiting = useAsync(async () => {
    const page = await api.listNotifications({ status: 'WAITING', limit: 100 });
    const counts: Record<string, number> = {};
    // Every summary that carries its reason counts; one that does not (an older API) is read
    // itself, at most LOOKUPS of them, and the rest are left out of the counts (and said so).
    let lookups = 0;
    const reasons = await Promise.all(
      page.items.map(async (n) => {
        if (n.waitingReason !== undefined) return n.waitingReason;
        if (lookups++ >= LOOKUPS) return undefined;
        return (await api.getNotification(n.id).catch(() => n)).waitingReason;
      }),
    );
    let counted = 0;
    for (const reason of reasons) {
      if (reason === undefined) continue;
      const r = reason ?? 'RETRY_SCHEDULED';
      counts[r] = (counts[r] ?? 0) + 1;
      counted++;
    }
    return { counts, counted, total: page.items.length, more: page.nextCursor !== null };
  }, []);
  const ips = useAsync(() => api.senderIps(), []);
  const [copied, setCopied] = useState(false);

  const circuitData = circuits.data;
  const unhealthy = circuitData
    ? circuitData.hooks.flatMap((w) => {
        const h = circuitData.health[w.id];
        return h && h !== 'unavailable' && h.state !== 'CLOSED' ? [{ w, h }] : [];
      })
    : [];
  const healthKnown = circuits.data
    ? Object.values(circuits.data.health).some((h) => h !== 'unavailable')
    : false;

  return (
    <Page title="Overview">
      <section class="card">
        <h2>Deliveries and failures, last {HOURS} hours</h2>
        <ErrorBox error={history.error} />
        {history.data ? (
          <Chart data={buckets(history.data.rows, history.data.now)} />
        ) : history.error ? null : (
          <Loading what="history" />
        )}
        {history.data?.truncated ? (
          <p class="muted">Only the newest {MAX_ROWS} notifications are counted.</p>
        ) : null}
      </section>
      <div class="grid">
        <section class="card">
          <h2>Open circuits</h2>
          <ErrorBox error={circuits.error} />
          {!circuits.data && !circuits.error ? <Loading what="health" /> : null}
          {circuits.data && !healthKnown && circuits.data.hooks.length > 0 ? (
            <p class="muted">Health is not available from this API.</p>
          ) : null}
          {circuits.data &&
          (healthKnown || circuits.data.hooks.length === 0) &&
          unhealthy.length === 0 ? (
            <p>Every circuit is closed.</p>
          ) : null}
          <ul>
            {unhealthy.map(({ w, h }) => (
              <li key={w.id}>
                <a href={`#/webhooks/${encodeURIComponent(w.id)}`}>{w.name}</a>{' '}
                <Status value={h.state} /> {h.waiting} waiting
              </li>
            ))}
          </ul>
        </section>
        <section class="card">
          <h2>Waiting notifications</h2>
          <ErrorBox error={waiting.error} />
          {!waiting.data && !waiting.error ? <Loading what="waiting notifications" /> : null}
          {waiting.data && waiting.data.total === 0 ? <p>Nothing is waiting.</p> : null}
          <ul>
            {Object.entries(waiting.data?.counts ?? {}).map(([reason, n]) => (
              <li key={reason}>
                <a href="#/history?status=WAITING">{reason}</a>: {n}
              </li>
            ))}
          </ul>
          {waiting.data?.more || (waiting.data && waiting.data.counted < waiting.data.total) ? (
            <p class="muted">
              {waiting.data.more ? 'More than ' : ''}
              {waiting.data.total} wait; {waiting.data.counted} are counted.
            </p>
          ) : null}
        </section>
        <section class="card">
          <h2>Sender IPs</h2>
          <ErrorBox error={ips.error} />
          {ips.data ? (
            <>
              <p class="muted">
                Every request of region {ips.data.region} leaves from these addresses: give them to
                receivers for their allow-lists.
              </p>
              <pre class="mono" data-testid="sender-ips">
                {ips.data.ips.join('\n') || '(none configured)'}
              </pre>
              <button
                type="button"
                class="secondary"
                onClick={() =>
                  navigator.clipboard.writeText(ips.data?.ips.join('\n') ?? '').then(
                    () => setCopied(true),
                    () => setCopied(false),
                  )
                }
              >
                Copy sender IPs
              </button>
              {copied ? <span role="status"> Copied.</span> : null}
            </>
          ) : ips.error ? null : (
            <Loading what="sender IPs" />
          )}
        </section>
      </div>
    </Page>
  );
}
