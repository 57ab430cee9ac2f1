/**
 * The operator console: sign-in, the shell (navigation) and the hash router.
 * Deep links: #/webhooks/{id}, #/notifications/{id}, #/history?status=FAILED, ...
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  answerChallenge,
  type ConsoleConfig,
  clearSession,
  cognitoTransport,
  loadSession,
  rememberToken,
  type SignInStep,
  signIn,
  tokenTransport,
} from './api/auth';
import { ApiClient, ApiError } from './api/client';
import { HistoryPage } from './pages/history';
import { NotificationPage } from './pages/notification';
import { OverviewPage } from './pages/overview';
import { WebhookEditPage } from './pages/webhook-edit';
import { WebhooksPage } from './pages/webhooks';
import { Api, ErrorBox, messageOf, Page } from './ui/common';
import './styles.css';

interface Route {
  path: string[];
  query: URLSearchParams;
}
/** A malformed escape (`%ZZ`) is kept as written: that page then says it found nothing. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
function parseHash(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const [p = '', q = ''] = raw.split('?', 2);
  return {
    path: p.split('/').filter(Boolean).map(decodeSegment),
    query: new URLSearchParams(q),
  };
}
function useRoute(): Route {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Router({ route }: { route: Route }) {
  const [a, b] = route.path;
  if (a === 'webhooks' && b === 'new') return <WebhookEditPage key="new" />;
  if (a === 'webhooks' && b) return <WebhookEditPage key={b} id={b} />;
  if (a === 'webhooks') return <WebhooksPage />;
  if (a === 'notifications' && b) return <NotificationPage key={b} id={b} />;
  if (a === 'history' || a === 'notifications') return <HistoryPage query={route.query} />;
  // Keyed by the path: going from #/ to #/overview reads the overview again.
  if (a === undefined || a === 'overview') return <OverviewPage key={a ?? ''} />;
  return (
    <Page title="Page not found">
      <p>
        The console has no page at <code>#/{route.path.join('/')}</code>.{' '}
        <a href="#/overview">Overview</a>
      </p>
    </Page>
  );
}

const NAV = [
  ['overview', 'Overview'],
  ['webhooks', 'Webhooks'],
  ['history', 'History'],
] as const;

function Shell({ api, onSignOut }: { api: ApiClient; onSignOut: () => void }) {
  const route = useRoute();
  const current = route.path[0] === 'notifications' ? 'history' : (route.path[0] ?? 'overview');
  return (
    <Api.Provider value={api}>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Webhooks</span>
        <nav aria-label="Main">
          {NAV.map(([id, label]) => (
            <a key={id} href={`#/${id}`} aria-current={current === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Router route={route} />
      </main>
    </Api.Provider>
  );
}

/** Why the console went back to the sign-in form by itself (a token the platform refused). */
let refusedNotice: string | undefined;

function TokenLogin({ onDone, baseUrl }: { onDone: (api: ApiClient) => void; baseUrl: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(() => {
    const notice = refusedNotice;
    refusedNotice = undefined;
    return notice ? new Error(notice) : undefined;
  });
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const api = new ApiClient(baseUrl, tokenTransport(token.trim()));
    try {
      await api.listWebhooks();
      rememberToken(token.trim());
      onDone(api);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401 ? new Error('That token was refused.') : err,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="login card" onSubmit={submit}>
      <h1>Webhooks console</h1>
      <p class="muted">
        Local mode: sign in with the API token that <code>npm start</code> printed. It is kept for
        this tab only.
      </p>
      <label>
        API token
        <input
          type="password"
          autoComplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
      </label>
      <ErrorBox error={error} title="Sign-in failed" />
      <button type="submit" disabled={busy}>
        Sign in
      </button>
    </form>
  );
}

function CognitoLogin({
  config,
  onDone,
}: {
  config: Extract<ConsoleConfig, { mode: 'cognito' }>;
  onDone: () => void;
}) {
  const [username, setUsername] = useState('');
  const [secret, setSecret] = useState('');
  const [step, setStep] = useState<SignInStep | undefined>();
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const next =
        step && (step.kind === 'newPassword' || step.kind === 'totp')
          ? await answerChallenge(config, username, step, secret)
          : await signIn(config, username, secret);
      setSecret('');
      if (next.kind === 'done') onDone();
      else if (next.kind === 'unsupported')
        setError(`Sign-in step ${next.challenge} is not supported here.`);
      else setStep(next);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const label =
    step?.kind === 'newPassword'
      ? 'New password'
      : step?.kind === 'totp'
        ? 'Authenticator code'
        : 'Password';
  return (
    <form class="login card" onSubmit={submit}>
      <h1>Webhooks console</h1>
      <label>
        User name
        <input
          autoComplete="username"
          required
          value={username}
          disabled={!!step}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
      </label>
      <label htmlFor="secret">{label}</label>
      {step?.kind === 'totp' ? (
        <input
          id="secret"
          inputMode="numeric"
          autoComplete="one-time-code"
          required
          value={secret}
          onInput={(e) => setSecret(e.currentTarget.value)}
        />
      ) : (
        <input
          id="secret"
          type="password"
          autoComplete={step ? 'new-password' : 'current-password'}
          required
          value={secret}
          onInput={(e) => setSecret(e.currentTarget.value)}
        />
      )}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit">{step ? 'Continue' : 'Sign in'}</button>
    </form>
  );
}

function App({ config }: { config: ConsoleConfig }) {
  const baseUrl = (config.apiUrl ?? '').replace(/\/$/, '');
  const [epoch, setEpoch] = useState(0);
  const signOut = () => {
    clearSession();
    setEpoch((n) => n + 1);
  };
  const api = useMemo(() => {
    const s = loadSession();
    if (config.mode === 'token' && s?.mode === 'token')
      return new ApiClient(
        baseUrl,
        tokenTransport(s.token, () => {
          refusedNotice =
            'That token is no longer accepted (local mode makes a new one each start unless API_TOKEN is set). Sign in with the current one.';
          signOut();
        }),
      );
    if (config.mode === 'cognito' && s?.mode === 'cognito')
      return new ApiClient(baseUrl, cognitoTransport(config, signOut));
    return undefined;
  }, [epoch]);
  if (api) return <Shell api={api} onSignOut={signOut} />;
  return config.mode === 'token' ? (
    <TokenLogin baseUrl={baseUrl} onDone={() => setEpoch((n) => n + 1)} />
  ) : (
    <CognitoLogin config={config} onDone={() => setEpoch((n) => n + 1)} />
  );
}

async function boot(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('index.html has no #app element');
  let config: ConsoleConfig;
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    config = res.ok ? ((await res.json()) as ConsoleConfig) : { mode: 'token' };
  } catch {
    config = { mode: 'token' };
  }
  render(<App config={config} />, root);
}
void boot();
