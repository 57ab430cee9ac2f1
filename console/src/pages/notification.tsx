/** One notification: the request exactly as sent, the attempt timeline, why it waits; Resend. */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ErrorBox,
  fmtTime,
  LoadFailed,
  Loading,
  Page,
  Status,
  useApi,
  useAsync,
} from '../ui/common';
import { lastAttemptNumber, pollDelay, resendPending } from './notification-follow';
import { RequestView } from './webhook-edit';

const WAITING_TEXT: Record<string, string> = {
  RETRY_SCHEDULED: 'an automatic retry is scheduled',
  CIRCUIT_OPEN: "the receiver's circuit is open; it goes out once a probe succeeds",
  PAUSED: 'the webhook is paused; it goes out when it is resumed',
  RATE_LIMITED: "the webhook's rate limit is reached; it goes out shortly",
};

export function NotificationPage({ id }: { id: string }) {
  const api = useApi();
  const n = useAsync(() => api.getNotification(id), [id]);
  const hook = useAsync(
    async () => (n.data ? api.getWebhook(n.data.webhookId).catch(() => undefined) : undefined),
    [n.data?.webhookId],
  );
  const [resendError, setResendError] = useState<unknown>();
  /** The last attempt's number when a resend was queued: the resend's attempt comes after it. */
  const [resentAfter, setResentAfter] = useState<number>();
  const [busy, setBusy] = useState(false);
  const [resends, setResends] = useState(0);

  const attempts = n.data?.attempts ?? [];
  const pending = resendPending(resentAfter, attempts);
  // After a resend, follow the notification until the new attempt shows, and while it is queued
  // or waits: fast at first, then backing off (a page left open on a waiting notification must
  // not read it every 0.7 s for hours). A resend starts over fast.
  const reads = useRef(0);
  const following = pending || n.data?.status === 'QUEUED' || n.data?.status === 'WAITING';
  const scheduledRetry =
    !pending &&
    n.data?.status === 'WAITING' &&
    (n.data.waitingReason ?? 'RETRY_SCHEDULED') === 'RETRY_SCHEDULED';
  const dueAt = scheduledRetry ? n.data?.nextAttemptAt : undefined;
  useEffect(() => {
    if (!following || n.loading) return;
    const t = setTimeout(
      () => {
        reads.current++;
        n.reload();
      },
      pollDelay(reads.current, Date.now(), dueAt),
    );
    return () => clearTimeout(t);
  }, [following, n.loading, dueAt, resends]);

  const resend = async () => {
    if (busy) return;
    setBusy(true);
    setResendError(undefined);
    try {
      await api.resend(id);
      reads.current = 0;
      setResends((k) => k + 1);
      setResentAfter(lastAttemptNumber(attempts));
    } catch (err) {
      setResendError(err);
    } finally {
      setBusy(false);
    }
  };

  if (n.error && !n.data)
    return (
      <LoadFailed
        what="Notification"
        error={n.error}
        back={{ href: '#/history', label: 'History' }}
      />
    );
  if (!n.data) return <Loading what="the notification" />;
  const d = n.data;
  return (
    <Page
      title={`Notification ${d.id}`}
      actions={
        // aria-disabled, not disabled: a disabled button would drop the keyboard's focus.
        <button type="button" onClick={resend} aria-disabled={busy}>
          Resend
        </button>
      }
    >
      <ErrorBox error={resendError} title="Resend" />
      {pending ? (
        <p class="muted" role="status">
          {/* What waits for the webhook (paused, circuit open, rate limit) holds the resend too. */}
          {d.status === 'WAITING' && d.waitingReason && d.waitingReason !== 'RETRY_SCHEDULED'
            ? `Resend queued; it waits like the notification: ${WAITING_TEXT[d.waitingReason] ?? d.waitingReason}.`
            : 'Resend queued; waiting for the attempt…'}
        </p>
      ) : null}
      <dl class="card facts">
        <dt>Status</dt>
        <dd>
          <Status value={d.status} />
          {d.failureReason ? ` ${d.failureReason}` : ''}
          {d.failureDetail ? <span class="muted"> — {d.failureDetail}</span> : null}
        </dd>
        {d.status === 'WAITING' ? (
          <>
            <dt>Why it waits</dt>
            <dd data-testid="waiting-reason">
              {d.waitingReason
                ? `${d.waitingReason}: ${WAITING_TEXT[d.waitingReason] ?? ''}`
                : 'an automatic retry is scheduled'}
            </dd>
          </>
        ) : null}
        <dt>Next attempt</dt>
        <dd>{fmtTime(d.nextAttemptAt)}</dd>
        <dt>Webhook</dt>
        <dd>
          <a href={`#/webhooks/${encodeURIComponent(d.webhookId)}`}>
            {hook.data?.name ?? d.webhookId}
          </a>
        </dd>
        <dt>Event</dt>
        <dd>
          {d.eventType} <span class="muted mono">{d.eventId}</span>
        </dd>
        <dt>Created</dt>
        <dd>{fmtTime(d.createdAt)}</dd>
      </dl>
      <h2>Request as sent</h2>
      <p class="muted">
        Rendered once and stored unchanged; auth and signature headers are added at send time.
      </p>
      {d.request && 'erased' in d.request ? (
        <p class="muted">
          Erased: the data subject's key was destroyed. {d.request.method}
          {d.request.host ? ` to ${d.request.host}` : ''}; no body, templated URL parts or header
          values remain.
        </p>
      ) : d.request ? (
        <RequestView request={d.request} />
      ) : (
        <p class="muted">
          {d.attempts.length === 0
            ? 'No request was stored (none rendered yet, or it failed before being stored).'
            : 'The request is no longer retained.'}
        </p>
      )}
      <h2>Attempts</h2>
      {d.attempts.length === 0 ? <p class="muted">No attempt yet.</p> : null}
      <ol class="timeline" aria-label="Attempts">
        {d.attempts.map((a) => (
          <li key={a.number} class={a.outcome === 'SENT' ? 'sent' : 'failed'}>
            <div class="t-head">
              <strong>#{a.number}</strong> <span class="badge">{a.trigger}</span>{' '}
              <Status value={a.outcome} /> {fmtTime(a.startedAt)} · {Math.round(a.durationMs)} ms ·{' '}
              {a.statusCode !== null ? `HTTP ${a.statusCode}` : 'no response'}
              {a.error ? ` · ${a.error}` : ''}
            </div>
            {a.responseBody ? <pre class="excerpt">{a.responseBody}</pre> : null}
          </li>
        ))}
      </ol>
    </Page>
  );
}
