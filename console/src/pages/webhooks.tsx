/** Webhooks: every definition with its circuit state and recent success rate; pause and resume. */
import { useRef, useState } from 'preact/hooks';
import {
  type ApiClient,
  isMissingRoute,
  type WebhookDefinition,
  type WebhookHealth,
} from '../api/client';
import { ErrorBox, Loading, Page, Status, useApi, useAsync } from '../ui/common';

export type HealthOrMissing = WebhookHealth | 'unavailable';

/** Health of each webhook; an API without the health route gives 'unavailable' for all. */
export async function healthOf(
  api: ApiClient,
  hooks: readonly WebhookDefinition[],
): Promise<Record<string, HealthOrMissing>> {
  const out: Record<string, HealthOrMissing> = {};
  let missing = false;
  for (let i = 0; i < hooks.length; i += 8) {
    await Promise.all(
      hooks.slice(i, i + 8).map(async (w) => {
        if (missing) {
          out[w.id] = 'unavailable';
          return;
        }
        try {
          out[w.id] = await api.health(w.id);
        } catch (err) {
          if (isMissingRoute(err)) missing = true;
          out[w.id] = 'unavailable';
        }
      }),
    );
  }
  return out;
}

export function successRate(h: HealthOrMissing | undefined): string {
  if (!h || h === 'unavailable') return '—';
  const total = h.recent.sent + h.recent.failed;
  if (total === 0) return `no attempts in ${Math.round(h.recent.windowSeconds / 60)} min`;
  return `${Math.round((h.recent.sent / total) * 100)} % of ${total} in ${Math.round(h.recent.windowSeconds / 60)} min`;
}

export function PauseResume({
  id,
  name,
  health,
  onChange,
}: {
  id: string;
  /** Names the webhook to assistive technology when several rows have the same button. */
  name?: string;
  health: HealthOrMissing | undefined;
  onChange: (h: WebhookHealth) => void;
}) {
  const api = useApi();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  if (!health || health === 'unavailable') return null;
  // Disabled in its definition: resume does not turn it on (the definition's Enabled does).
  if (health.state === 'DISABLED' && health.disabledReason === 'MANUAL')
    return <span class="muted">disabled in its definition</span>;
  const paused = health.state === 'PAUSED' || health.state === 'DISABLED';
  const act = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onChange(await (paused ? api.resume(id) : api.pause(id)));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      // The button was disabled meanwhile, which drops keyboard focus: give it back.
      requestAnimationFrame(() => button.current?.focus());
    }
  };
  const label = paused ? 'Resume' : 'Pause';
  return (
    <>
      <button
        ref={button}
        type="button"
        class="secondary"
        disabled={busy}
        onClick={act}
        aria-label={name ? `${label} ${name}` : undefined}
      >
        {label}
      </button>
      <ErrorBox error={error} />
    </>
  );
}

export function WebhooksPage() {
  const api = useApi();
  const list = useAsync(() => api.listWebhooks(), []);
  const hooks = list.data?.items ?? [];
  const health = useAsync(() => healthOf(api, hooks), [list.data]);
  const [override, setOverride] = useState<Record<string, WebhookHealth>>({});
  return (
    <Page
      title="Webhooks"
      actions={
        <a class="button" href="#/webhooks/new">
          New webhook
        </a>
      }
    >
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="webhooks" /> : null}
      {list.data && hooks.length === 0 ? (
        <p class="empty">
          No webhooks yet. <a href="#/webhooks/new">Create the first one</a>: it says which events
          to send where.
        </p>
      ) : null}
      {hooks.length > 0 ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Events</th>
                <th scope="col">Target</th>
                <th scope="col">Health</th>
                <th scope="col">Recent success</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {hooks.map((w) => {
                const h = override[w.id] ?? health.data?.[w.id];
                return (
                  <tr key={w.id}>
                    <td class="wrap">
                      <a href={`#/webhooks/${encodeURIComponent(w.id)}`}>{w.name}</a>
                      {!w.enabled ? <span class="badge badge-failed">disabled</span> : null}
                    </td>
                    <td class="wrap">{w.events.join(', ')}</td>
                    <td class="mono clip" title={w.url}>
                      {w.method} {w.url}
                    </td>
                    <td>
                      {h && h !== 'unavailable' ? (
                        <Status value={h.state} />
                      ) : (
                        <span class="muted">{h ? 'n/a' : '…'}</span>
                      )}
                    </td>
                    <td>{successRate(h)}</td>
                    <td class="row-actions">
                      <a
                        href={`#/history?webhookId=${encodeURIComponent(w.id)}`}
                        aria-label={`History of ${w.name}`}
                      >
                        History
                      </a>
                      <PauseResume
                        id={w.id}
                        name={w.name}
                        health={h}
                        onChange={(n) => {
                          setOverride((o) => ({ ...o, [w.id]: n }));
                          // Resume turned an auto-disabled webhook on: the row's mark follows.
                          if ((n.state === 'DISABLED') === w.enabled) list.reload();
                        }}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
