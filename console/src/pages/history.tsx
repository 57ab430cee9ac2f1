/**
 * History: notifications newest first, filtered by webhook, status, event type and date range,
 * paged by cursor. Select rows (shift+click for a range) or take the whole filtered range and
 * resend in bulk; the progress bar follows the job's counters.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { NotificationSummary, ResendJob } from '../api/client';
import {
  ErrorBox,
  fmtTime,
  Loading,
  navigate,
  Page,
  Status,
  useApi,
  useAsync,
  useInterval,
} from '../ui/common';

const STATUSES = ['QUEUED', 'WAITING', 'SENT', 'FAILED'] as const;
const PAGE_SIZE = 50;
const FILTERS = ['webhookId', 'status', 'eventType', 'from', 'to'] as const;
type Filter = Partial<Record<(typeof FILTERS)[number], string>>;

/** datetime-local (the browser's zone) <-> ISO (UTC). */
/**
 * The history as the operator left it (filters, rows read, the notification opened): coming back
 * to the same filters (browser back from a notification) reads as many rows again and puts the
 * keyboard on the notification opened, instead of starting over at the first page.
 */
let kept: { key: string; count: number; opened?: string } | undefined;

const toIso = (local: string) => (local ? new Date(local).toISOString() : '');
const toLocal = (iso: string | undefined) => {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

export function HistoryPage({ query }: { query: URLSearchParams }) {
  const api = useApi();
  const filter: Filter = {};
  for (const k of FILTERS) {
    const v = query.get(k);
    if (v) filter[k] = v;
  }
  const key = JSON.stringify(filter);
  const hooks = useAsync(() => api.listWebhooks(), []);
  const names = new Map((hooks.data?.items ?? []).map((w) => [w.id, w.name]));
  const [rows, setRows] = useState<NotificationSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [anchor, setAnchor] = useState<number>();
  const [job, setJob] = useState<ResendJob>();
  const [jobError, setJobError] = useState<unknown>();
  // A range resend can queue thousands: it asks first, naming what it would resend.
  const [confirming, setConfirming] = useState(false);
  const rangeButton = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  // Focus moves as the confirm appears, not after the next frame: a key pressed right after
  // "Resend range" lands on "Resend them", never back on "Resend range".
  useLayoutEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);
  const endConfirm = () => {
    setConfirming(false);
    rangeButton.current?.focus();
  };
  const [draft, setDraft] = useState<Filter>(filter);

  // Only the latest load may fill the table: an answer to an earlier filter that comes back
  // late is dropped, so the rows always match the filter shown.
  const latest = useRef(0);
  /** After a load, the keyboard goes to this row's link (the first added, or the one opened). */
  const focusRow = useRef<string | undefined>(undefined);
  const table = useRef<HTMLTableSectionElement>(null);
  /** Reads a page after `after` (else the first), and on until `atLeast` rows are read. */
  const load = async (after?: string, atLeast = 0) => {
    const mine = ++latest.current;
    setLoading(true);
    try {
      const items: NotificationSummary[] = [];
      let next: string | null = after ?? null;
      do {
        const page = await api.listNotifications({
          ...filter,
          limit: PAGE_SIZE,
          ...(next ? { cursor: next } : {}),
        });
        if (mine !== latest.current) return;
        items.push(...page.items);
        next = page.nextCursor;
      } while (next && items.length < atLeast);
      if (after && items[0]) focusRow.current = items[0].id;
      setRows((r) => (after ? [...r, ...items] : items));
      setCursor(next);
      setError(undefined);
    } catch (err) {
      if (mine === latest.current) setError(err);
    } finally {
      if (mine === latest.current) setLoading(false);
    }
  };
  useEffect(() => {
    setDraft(filter);
    setSelected(new Set());
    const back = kept?.key === key ? kept : undefined;
    focusRow.current = back?.opened;
    void load(undefined, back?.count ?? 0);
  }, [key]);
  useEffect(() => {
    kept = { ...(kept?.key === key ? kept : {}), key, count: rows.length };
    const id = focusRow.current;
    if (id === undefined) return;
    const link = [...(table.current?.querySelectorAll('a') ?? [])].find((a) => a.text === id);
    if (!link) return;
    focusRow.current = undefined;
    link.focus();
  }, [rows]);

  const apply = (e: Event) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of FILTERS) {
      const value = draft[k];
      if (value) q.set(k, value);
    }
    const target = `#/history${q.size ? `?${q}` : ''}`;
    // The same filters again: load them again. Other filters: the new address loads them.
    if (target === location.hash) void load();
    else navigate(target);
  };

  const toggle = (i: number, shift: boolean) => {
    const id = rows[i]?.id;
    if (id === undefined) return;
    setSelected((s) => {
      const next = new Set(s);
      const on = !s.has(id);
      if (shift && anchor !== undefined) {
        const [a, b] = anchor < i ? [anchor, i] : [i, anchor];
        for (const row of rows.slice(a, b + 1)) next.add(row.id);
      } else if (on) next.add(id);
      else next.delete(id);
      return next;
    });
    setAnchor(i);
  };

  const startJob = async (body: Parameters<typeof api.bulkResend>[0]) => {
    setJobError(undefined);
    try {
      const { jobId, count } = await api.bulkResend(body);
      setJob({
        jobId,
        count,
        queued: 0,
        sent: 0,
        failed: 0,
        erased: 0,
        createdAt: new Date().toISOString(),
      });
    } catch (err) {
      setJobError(err);
    }
  };
  const finished = (j: ResendJob) => j.sent + j.failed + (j.erased ?? 0);
  const done = job ? finished(job) >= job.count : true;
  useInterval(
    () => {
      if (job) api.resendJob(job.jobId).then(setJob, setJobError);
    },
    700,
    !done,
  );
  // When a job finishes, the list shows the new statuses.
  useEffect(() => {
    if (job && done) void load();
  }, [done]);

  const rangeBody = () => ({
    from: filter.from ?? new Date(Date.now() - 24 * 3600_000).toISOString(),
    to: filter.to ?? new Date(Date.now() + 60_000).toISOString(),
    ...(filter.webhookId ? { webhookId: filter.webhookId } : {}),
    status: (filter.status ?? 'FAILED') as (typeof STATUSES)[number],
  });

  return (
    <Page title="History">
      <form class="card filters" onSubmit={apply} aria-label="Filters">
        <label>
          Webhook
          <select
            value={draft.webhookId ?? ''}
            onChange={(e) => setDraft({ ...draft, webhookId: e.currentTarget.value })}
          >
            <option value="">All</option>
            {(hooks.data?.items ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select
            value={draft.status ?? ''}
            onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })}
          >
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Event type
          <input
            value={draft.eventType ?? ''}
            onInput={(e) => setDraft({ ...draft, eventType: e.currentTarget.value })}
          />
        </label>
        <label>
          From
          <input
            type="datetime-local"
            value={toLocal(draft.from)}
            onInput={(e) => setDraft({ ...draft, from: toIso(e.currentTarget.value) })}
          />
        </label>
        <label>
          To
          <input
            type="datetime-local"
            value={toLocal(draft.to)}
            onInput={(e) => setDraft({ ...draft, to: toIso(e.currentTarget.value) })}
          />
        </label>
        <button type="submit">Apply filters</button>
      </form>
      <ErrorBox error={error} />
      <section class="bulk card" aria-label="Bulk resend">
        <button
          type="button"
          disabled={selected.size === 0}
          onClick={() => void startJob({ ids: [...selected] })}
        >
          Resend selected ({selected.size})
        </button>
        <button
          ref={rangeButton}
          type="button"
          class="secondary"
          onClick={() => setConfirming(true)}
          title="Every notification of the filtered range (status FAILED unless filtered)"
        >
          Resend range
        </button>
        {confirming ? (
          <fieldset aria-label="Confirm range resend">
            <p>
              Resend every {rangeBody().status} notification
              {filter.webhookId ? ` of ${names.get(filter.webhookId) ?? filter.webhookId}` : ''}{' '}
              created from {fmtTime(rangeBody().from)} to {fmtTime(rangeBody().to)}?
            </p>
            <button
              ref={confirmButton}
              type="button"
              onClick={() => {
                void startJob(rangeBody());
                endConfirm();
              }}
            >
              Resend them
            </button>{' '}
            <button type="button" class="link" onClick={endConfirm}>
              Cancel
            </button>
          </fieldset>
        ) : null}
        {selected.size > 0 ? (
          <button type="button" class="link" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        ) : null}
        {job ? (
          <div class="progress" role="status">
            <progress
              max={Math.max(job.count, 1)}
              value={job.count === 0 ? 1 : finished(job)}
              aria-label="Bulk resend progress"
            />
            <span data-testid="job-progress">
              {finished(job)} of {job.count} done ({job.sent} sent, {job.failed} failed
              {job.erased ? `, ${job.erased} erased` : ''})
              {done ? ' — finished' : ` — ${job.queued} of ${job.count} queued so far`}
            </span>
          </div>
        ) : null}
        <ErrorBox error={jobError} title="Bulk resend" />
      </section>
      {loading && rows.length === 0 ? <Loading what="history" /> : null}
      {!loading && rows.length === 0 && !error ? (
        <p class="empty">
          {cursor
            ? // A page stops reading after a while (filters the history is not keyed by).
              'None found in the part of the history read so far: load more to read on.'
            : 'No notifications match these filters.'}
        </p>
      ) : null}
      {rows.length > 0 ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select all shown"
                    checked={rows.length > 0 && rows.every((r) => selected.has(r.id))}
                    onChange={(e) =>
                      setSelected(
                        e.currentTarget.checked ? new Set(rows.map((r) => r.id)) : new Set(),
                      )
                    }
                  />
                </th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
                <th scope="col">Event type</th>
                <th scope="col">Webhook</th>
                <th scope="col">Attempts</th>
                <th scope="col">Notification</th>
              </tr>
            </thead>
            <tbody ref={table}>
              {rows.map((n, i) => (
                <tr key={n.id} class={selected.has(n.id) ? 'selected' : undefined}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select ${n.id}`}
                      checked={selected.has(n.id)}
                      onClick={(e) => toggle(i, e.shiftKey)}
                    />
                  </td>
                  <td>{fmtTime(n.createdAt)}</td>
                  <td>
                    <Status value={n.status} />
                    {n.failureReason ? <span class="muted"> {n.failureReason}</span> : null}
                    {n.waitingReason ? <span class="muted"> {n.waitingReason}</span> : null}
                  </td>
                  <td>{n.eventType}</td>
                  <td>{names.get(n.webhookId) ?? n.webhookId}</td>
                  <td>{n.attemptCount}</td>
                  <td>
                    <a
                      class="mono"
                      href={`#/notifications/${encodeURIComponent(n.id)}`}
                      onClick={() => {
                        kept = { key, count: rows.length, opened: n.id };
                      }}
                    >
                      {n.id}
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {cursor ? (
        // aria-disabled, not disabled: a disabled button would drop the keyboard's focus.
        <button
          type="button"
          class="secondary"
          aria-disabled={loading}
          onClick={() => {
            if (!loading) void load(cursor);
          }}
        >
          Load more
        </button>
      ) : null}
    </Page>
  );
}
