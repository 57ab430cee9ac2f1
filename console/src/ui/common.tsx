/** Small pieces every page uses: the API context, loading state, errors, times, badges. */
import { type ComponentChildren, createContext } from 'preact';
import {
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
} from 'preact/hooks';
import { type ApiClient, ApiError } from '../api/client';

export const Api = createContext<ApiClient | null>(null);
export function useApi(): ApiClient {
  const api = useContext(Api);
  if (!api) throw new Error('no API client');
  return api;
}

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change; a newer run wins over an older one still in flight. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const run = useRef(0);
  const reload = useCallback(() => {
    const mine = ++run.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === run.current && setState({ data, loading: false }),
      // A failed reload keeps what was shown (a network blip must not blank a page that
      // refreshes itself); the error says the data may be stale.
      (error: unknown) =>
        mine === run.current && setState((s) => ({ data: s.data, error, loading: false })),
    );
  }, deps);
  useEffect(() => {
    reload();
  }, [reload]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Calls `tick` every `ms` while mounted and `active`. */
export function useInterval(tick: () => void, ms: number, active = true): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => saved.current(), ms);
    return () => clearInterval(t);
  }, [ms, active]);
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

export function ErrorBox({
  error,
  title,
  pathLabel = (path) => path,
}: {
  error: unknown;
  title?: string;
  /** How the page names a detail's path (a form numbers its rows from 1, the API from 0). */
  pathLabel?: (path: string) => string;
}) {
  if (!error) return null;
  const details = error instanceof ApiError ? error.details : [];
  // The API's message may quote a detail's path: named the page's way there too.
  const message = details.reduce(
    (m, d) =>
      d.path && pathLabel(d.path) !== d.path ? m.split(d.path).join(pathLabel(d.path)) : m,
    messageOf(error),
  );
  return (
    <div class="error" role="alert" tabIndex={-1}>
      <strong>{title ?? 'Error'}:</strong> {message}
      {details.length > 0 && (
        <ul>
          {details.map((d, i) => (
            <li key={i}>
              {d.path ? <code>{pathLabel(d.path)}</code> : null} {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading {what}…
    </p>
  );
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function Status({ value }: { value: string }) {
  return <span class={`badge badge-${value.toLowerCase()}`}>{value}</span>;
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

export function Page({
  title,
  actions,
  children,
}: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  const h = useRef<HTMLHeadingElement>(null);
  // Screen readers and keyboards land on the new page's heading as it appears, not a frame
  // later: a key pressed right after navigating never reaches what had focus before.
  useLayoutEffect(() => {
    document.title = `${title} · Webhooks console`;
    h.current?.focus();
  }, [title]);
  return (
    <section>
      <header class="page-head">
        <h1 tabIndex={-1} ref={h}>
          {title}
        </h1>
        {actions ? <div class="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/**
 * A page whose subject could not be read: "X not found" for an unknown id (a deep link to
 * something deleted or mistyped), else "Could not load the x", under its own heading and
 * title, with the way back.
 */
export function LoadFailed({
  what,
  error,
  back,
}: {
  what: 'Notification' | 'Webhook';
  error: unknown;
  back: { href: string; label: string };
}) {
  const missing = error instanceof ApiError && error.status === 404;
  return (
    <Page title={missing ? `${what} not found` : `Could not load the ${what.toLowerCase()}`}>
      <ErrorBox error={error} />
      <p>
        <a href={back.href}>{back.label}</a>
      </p>
    </Page>
  );
}
