/**
 * One webhook: create or edit every field of the definition, preview the rendered request
 * against a sample event (with the condition check), health, pause/resume, delete.
 * Secrets are write-only: the form never shows a stored password or signing secret.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
// The API's own rule (one owner): a kept password is only sent to the destination it was given for.
import { destinationChanged } from '../../../lambdas/core/destination';
import {
  ApiError,
  type Conditions,
  isMissingRoute,
  OPERATORS,
  type Operator,
  type PreviewResult,
  type Scalar,
  type WebhookDefinition,
  type WebhookHealth,
  type WebhookInput,
  type WebhookReplaceInput,
} from '../api/client';
import {
  ErrorBox,
  fmtTime,
  LoadFailed,
  Loading,
  messageOf,
  navigate,
  Page,
  Status,
  useApi,
  useAsync,
  useInterval,
} from '../ui/common';
import { pretty } from '../ui/format';
import { type HealthOrMissing, PauseResume, successRate } from './webhooks';

interface RuleRow {
  field: string;
  op: Operator;
  value: string;
}
interface Form {
  name: string;
  events: string;
  enabled: boolean;
  method: 'POST' | 'PUT' | 'PATCH';
  contentType: 'application/json' | 'application/xml' | 'text/plain';
  url: string;
  headers: { name: string; value: string }[];
  body: string;
  strict: boolean;
  authType: 'none' | 'basic';
  username: string;
  password: string;
  signing: 'none' | 'keep' | 'rotate' | 'generate' | 'enter' | 'ed25519';
  secret: string;
  conditionsOn: boolean;
  match: 'all' | 'any';
  rules: RuleRow[];
  rateLimit: string;
  maxConcurrency: string;
}

const EMPTY: Form = {
  name: '',
  events: '',
  enabled: true,
  method: 'POST',
  contentType: 'application/json',
  url: '',
  headers: [],
  body: '',
  strict: false,
  authType: 'none',
  username: '',
  password: '',
  signing: 'none',
  secret: '',
  conditionsOn: false,
  match: 'all',
  rules: [],
  rateLimit: '',
  maxConcurrency: '',
};

function formOf(w: WebhookDefinition): Form {
  return {
    name: w.name,
    events: w.events.join(', '),
    enabled: w.enabled,
    method: w.method as Form['method'],
    contentType: w.contentType as Form['contentType'],
    url: w.url,
    headers: Object.entries(w.headers).map(([name, value]) => ({ name, value })),
    body: w.body,
    strict: w.strict,
    authType: w.auth ? 'basic' : 'none',
    username: w.auth?.username ?? '',
    password: '',
    signing: w.signingSecret || w.signing ? 'keep' : 'none',
    secret: '',
    conditionsOn: !!w.conditions,
    match: w.conditions?.match ?? 'all',
    rules: (w.conditions?.rules ?? []).map((r) => ({
      field: r.field,
      op: r.op,
      value: JSON.stringify(r.value),
    })),
    rateLimit: w.rateLimitPerSecond ? String(w.rateLimitPerSecond) : '',
    maxConcurrency: w.maxConcurrency ? String(w.maxConcurrency) : '',
  };
}

function ruleValue(r: RuleRow): Scalar | Scalar[] {
  const raw = r.value.trim();
  try {
    return JSON.parse(raw) as Scalar | Scalar[];
  } catch {
    if (r.op === 'in' || r.op === 'nin')
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    return raw;
  }
}

/** The request body for POST (create) or PUT (replace). */
function inputOf(f: Form, existing?: WebhookDefinition): WebhookInput & WebhookReplaceInput {
  const headers: Record<string, string> = {};
  for (const h of f.headers) if (h.name.trim()) headers[h.name.trim()] = h.value;
  const out: WebhookInput & WebhookReplaceInput = {
    name: f.name,
    events: f.events.split(/[,\s]+/).filter(Boolean),
    enabled: f.enabled,
    method: f.method,
    contentType: f.contentType,
    url: f.url,
    headers,
    strict: f.strict,
  };
  // An empty JSON body means "the API's default body"; XML and text need one (the API says so).
  if (f.body.trim() || f.contentType !== 'application/json') out.body = f.body;
  out.auth =
    f.authType === 'none'
      ? null
      : f.password === '' && existing?.auth
        ? ({ type: 'basic', username: f.username, password: '***' } as const)
        : { type: 'basic', username: f.username, password: f.password };
  // Signing: a Standard Webhooks secret or an ed25519 key pair; leaving both out keeps a key pair.
  const hadKeyPair = !!existing?.signing;
  // A rotation is its own call after the save (see save()); the save keeps the current key.
  const signing = f.signing === 'rotate' ? 'keep' : f.signing;
  if (signing === 'keep' && hadKeyPair) {
    // neither field: the stored key pair stays
  } else if (signing === 'ed25519') {
    out.signing = { scheme: 'ed25519' };
    if (existing?.signingSecret) out.signingSecret = null;
  } else {
    out.signingSecret =
      signing === 'none'
        ? null
        : signing === 'keep'
          ? existing
            ? 'whsec_***'
            : null
          : signing === 'generate'
            ? 'generate'
            : f.secret;
    if (hadKeyPair) out.signing = null;
  }
  if (f.maxConcurrency.trim()) out.maxConcurrency = Number(f.maxConcurrency);
  // Fields beyond the base schema are sent only when used (or when clearing them).
  if (f.conditionsOn) {
    const c: Conditions = {
      match: f.match,
      rules: f.rules.map((r) => ({ field: r.field, op: r.op, value: ruleValue(r) })),
    };
    out.conditions = c;
  } else if (existing?.conditions) out.conditions = null;
  if (f.rateLimit.trim()) out.rateLimitPerSecond = Number(f.rateLimit);
  else if (existing?.rateLimitPerSecond) out.rateLimitPerSecond = null;
  if (existing) out.version = existing.version;
  return out;
}

/** Why the password field is required again: the API refuses "***" for a new destination. */
export const PASSWORD_AGAIN =
  'Enter the password again: the URL now goes to another destination (scheme, host or port), and the saved password is only sent to the one it was given for.';

/**
 * True when saving `f` would keep the saved password (left empty, sent as "***") for a URL
 * whose destination differs from the saved one: the API refuses that, so the form asks first.
 */
export function passwordNeededAgain(f: Form, existing?: WebhookDefinition): boolean {
  return (
    !!existing?.auth &&
    f.authType === 'basic' &&
    f.password === '' &&
    destinationChanged(existing.url, f.url)
  );
}

/** `conditions.rules[2].value` and the like: a rule's index (0-based, as the API counts) and part. */
const RULE_PATH = /^conditions\.rules\[(\d+)\](?:\.(\w+))?/;

/**
 * An error detail's path as the form names it: rules are numbered from 1 there ("Value 3"),
 * where the API counts from 0 (`conditions.rules[2].value`).
 */
export function formPath(path: string): string {
  const m = RULE_PATH.exec(path);
  if (!m) return path;
  const n = Number(m[1]) + 1;
  const part = m[2] ? `${m[2].charAt(0).toUpperCase()}${m[2].slice(1)} ${n}` : `Rule ${n}`;
  const rest = path.slice(m[0].length);
  return rest ? `${part} (${rest.replace(/^\./, '')})` : part;
}

/**
 * API error details by the form field they concern (first segment of `path`); a rule's errors
 * under `rule-<index>-<part>` (or `rule-<index>`), shown on that rule's row.
 */
function fieldErrors(err: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!(err instanceof ApiError)) return out;
  for (const d of err.details) {
    const rule = RULE_PATH.exec(d.path ?? '');
    // The password has a field of its own; the rest of auth shows under the fieldset.
    const password = d.path === 'auth.password';
    // Condition errors without a path belong to Conditions as a whole.
    const key = password
      ? 'password'
      : rule
        ? `rule-${rule[1]}${rule[2] && ['field', 'op', 'value'].includes(rule[2]) ? `-${rule[2]}` : ''}`
        : (d.path ?? '').split(/[.[]/)[0] ||
          (err.code === 'INVALID_CONDITIONS' ? 'conditions' : '_');
    const list = out[key] ?? [];
    list.push(
      rule && d.path
        ? `${formPath(d.path)}: ${d.message}`
        : d.path && d.path !== key && !password
          ? `${d.path}: ${d.message}`
          : d.message,
    );
    out[key] = list;
  }
  // A template or URL error without a path still belongs to some field.
  if (Object.keys(out).length === 0 && err.code === 'BLOCKED_URL') out.url = [err.message];
  return out;
}

function FieldError({ id, errors }: { id: string; errors: Record<string, string[]> }) {
  const list = errors[id];
  if (!list) return null;
  return (
    <span class="field-error" id={`err-${id}`}>
      {list.join('; ')}
    </span>
  );
}

/** Props that tie an input to its field error for assistive technology. */
function errProps(id: string, errors: Record<string, string[]>, describedBy = `err-${id}`) {
  return errors[id] ? { 'aria-invalid': true, 'aria-describedby': describedBy } : {};
}

/** The errors of rule `index` (whole rule, field, operator, value), shown under its row. */
function ruleErrors(index: number, errors: Record<string, string[]>): string[] {
  return ['', '-field', '-op', '-value'].flatMap((p) => errors[`rule-${index}${p}`] ?? []);
}

/**
 * What a create hands to the page of the webhook it made: that page is a new component (its
 * address names the id), and the secret the create returned is shown there, once.
 */
let handover: { id: string; secret?: string; notice: string } | undefined;

/** How long the previous key keeps signing after a rotation from the console (the API's default). */
const ROTATION_GRACE_HOURS = 24;
/** How often the webhook's page reads its health again. */
const HEALTH_REFRESH_MS = 5000;

function takeHandover(id: string | undefined): typeof handover {
  const taken = handover && handover.id === id ? handover : undefined;
  handover = undefined;
  return taken;
}

export function WebhookEditPage({ id }: { id?: string }) {
  const api = useApi();
  const loaded = useAsync(async () => (id ? api.getWebhook(id) : undefined), [id]);
  const catalogue = useAsync(
    () =>
      api.eventTypes().then(
        (r) => r.items,
        (err) => (isMissingRoute(err) ? [] : Promise.reject(err)),
      ),
    [],
  );
  const [arrived] = useState(() => takeHandover(id));
  const [form, setForm] = useState<Form>(EMPTY);
  const [saved, setSaved] = useState<WebhookDefinition | undefined>();
  const [saveError, setSaveError] = useState<unknown>();
  const [notice, setNotice] = useState<string | undefined>(arrived?.notice);
  const [busy, setBusy] = useState(false);
  const [health, setHealth] = useState<HealthOrMissing | undefined>();
  const [revealed, setRevealed] = useState<string | undefined>(arrived?.secret);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    if (loaded.data) {
      setSaved(loaded.data);
      setForm(formOf(loaded.data));
    }
  }, [loaded.data]);
  // A failed read keeps the health shown (a network blip must not hide the panel); an API
  // without the route, or a first read that failed, leaves the panel out.
  const refreshHealth = (webhookId: string) =>
    api
      .health(webhookId)
      .then(setHealth, (err: unknown) =>
        setHealth((h) => (h && !isMissingRoute(err) ? h : 'unavailable')),
      );
  useEffect(() => {
    if (id) void refreshHealth(id);
  }, [id]);
  // Resume turns an auto-disabled webhook on again, and an open circuit can turn it off: both
  // change the definition (enabled, version). When the health says so, the definition is read
  // again and the form takes its Enabled, so a Save neither undoes it nor meets a conflict.
  useEffect(() => {
    if (!saved || !health || health === 'unavailable') return;
    if ((health.state === 'DISABLED') === !saved.enabled) return;
    api.getWebhook(saved.id).then(
      (w) => {
        setSaved(w);
        setForm((f) => ({ ...f, enabled: w.enabled }));
      },
      () => undefined,
    );
  }, [health]);
  // Health changes by itself (a circuit opens, a probe is due, an open circuit disables the
  // webhook): the panel follows it while the page is open.
  useInterval(
    () => {
      if (saved) void refreshHealth(saved.id);
    },
    HEALTH_REFRESH_MS,
    !!saved && health !== 'unavailable',
  );

  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));
  const passwordAgain = passwordNeededAgain(form, saved);
  const errors = fieldErrors(saveError);
  // Shown as soon as the URL moves, before any Save (the API's own message replaces it after one).
  if (passwordAgain && !errors.password) errors.password = [PASSWORD_AGAIN];

  // After a refused save, the keyboard lands on the first field the API named, else on the
  // error (the Save button keeps focus otherwise: it is never disabled, so focus never drops).
  // It moves as the error appears, not after the next frame, so no key pressed meanwhile is lost.
  const formRef = useRef<HTMLFormElement>(null);
  useLayoutEffect(() => {
    if (!saveError) return;
    const target =
      formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]') ??
      formRef.current?.querySelector<HTMLElement>('.error[role="alert"]');
    target?.focus();
  }, [saveError]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setNotice(undefined);
    if (passwordAgain) {
      // Refused here as the API would refuse it: the same detail, on the password field.
      setSaveError(
        new ApiError(400, 'VALIDATION_ERROR', 'auth.password must be given again.', [
          { path: 'auth.password', message: PASSWORD_AGAIN },
        ]),
      );
      return;
    }
    setBusy(true);
    setSaveError(undefined);
    try {
      const body = inputOf(form, saved);
      const result = saved
        ? await api.replaceWebhook(saved.id, body)
        : await api.createWebhook(body);
      const secret =
        result.signingSecret && result.signingSecret !== 'whsec_***'
          ? result.signingSecret
          : undefined;
      const savedNotice = `Saved (version ${result.version}).`;
      if (!saved) {
        // The webhook's own page takes over: it shows the secret and the notice.
        handover = { id: result.id, ...(secret ? { secret } : {}), notice: savedNotice };
        navigate(`#/webhooks/${encodeURIComponent(result.id)}`);
        return;
      }
      if (secret) setRevealed(secret);
      if (form.signing === 'rotate') {
        const rotated = await api.rotateSigningKey(result.id, { graceHours: ROTATION_GRACE_HOURS });
        if ('secret' in rotated) setRevealed(rotated.secret);
        // The new public key is on the definition the reload below shows.
        const reloaded = await api.getWebhook(result.id);
        setSaved(reloaded);
        setForm(formOf(reloaded));
        setNotice(
          `Saved (version ${reloaded.version}); new signing key made, the previous one signs beside it for ${ROTATION_GRACE_HOURS} h.`,
        );
        void refreshHealth(result.id);
        return;
      }
      setSaved(result);
      setForm(formOf(result));
      setNotice(savedNotice);
      // Enabled on or off changes the health the panel shows.
      void refreshHealth(result.id);
    } catch (err) {
      setSaveError(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!saved) return;
    try {
      await api.deleteWebhook(saved.id);
      dialog.current?.close();
      navigate('#/webhooks');
    } catch (err) {
      dialog.current?.close();
      setSaveError(err);
    }
  };

  if (id && loaded.error)
    return (
      <LoadFailed
        what="Webhook"
        error={loaded.error}
        back={{ href: '#/webhooks', label: 'Webhooks' }}
      />
    );
  if (id && !saved) return <Loading what="the webhook" />;
  const known = (catalogue.data ?? []).map((t) => t.type);
  const events = form.events.split(/[,\s]+/).filter(Boolean);
  const toggleEvent = (t: string) =>
    set('events', (events.includes(t) ? events.filter((x) => x !== t) : [...events, t]).join(', '));

  return (
    <Page
      title={saved ? saved.name : 'New webhook'}
      actions={
        saved ? <a href={`#/history?webhookId=${encodeURIComponent(saved.id)}`}>History</a> : null
      }
    >
      {revealed ? (
        <div class="notice" role="status">
          Signing secret, shown this once: <code class="mono">{revealed}</code>{' '}
          <button type="button" class="secondary" onClick={() => setRevealed(undefined)}>
            Hide
          </button>
        </div>
      ) : null}
      {saved ? <HealthPanel id={saved.id} health={health} onChange={setHealth} /> : null}
      <div class="split">
        <form
          ref={formRef}
          class="card form"
          onSubmit={save}
          noValidate
          aria-label="Webhook definition"
        >
          <label>
            Name
            <input
              value={form.name}
              required
              onInput={(e) => set('name', e.currentTarget.value)}
              {...errProps('name', errors)}
            />
            <FieldError id="name" errors={errors} />
          </label>
          <fieldset>
            <legend>Events</legend>
            <label>
              <span>
                Event types (comma separated; <code>*</code> for all)
              </span>
              <input
                value={form.events}
                list="event-types"
                onInput={(e) => set('events', e.currentTarget.value)}
                {...errProps('events', errors)}
              />
            </label>
            <FieldError id="events" errors={errors} />
            <datalist id="event-types">
              {known.map((t) => (
                <option key={t} value={t} />
              ))}
            </datalist>
            {known.length > 0 ? (
              <fieldset class="chips">
                <legend>Published event types</legend>
                {(catalogue.data ?? []).map((t) => (
                  <label key={t.type} class="chip">
                    <input
                      type="checkbox"
                      checked={events.includes(t.type)}
                      onChange={() => toggleEvent(t.type)}
                    />
                    {t.type} <span class="muted">({t.webhooks} webhooks)</span>
                  </label>
                ))}
              </fieldset>
            ) : null}
          </fieldset>
          <label class="inline">
            <input
              type="checkbox"
              checked={form.enabled}
              onChange={(e) => set('enabled', e.currentTarget.checked)}
            />{' '}
            Enabled
          </label>
          <div class="row">
            <label>
              Method
              <select
                value={form.method}
                onChange={(e) => set('method', e.currentTarget.value as Form['method'])}
              >
                <option>POST</option>
                <option>PUT</option>
                <option>PATCH</option>
              </select>
            </label>
            <label>
              Content type
              <select
                value={form.contentType}
                onChange={(e) => set('contentType', e.currentTarget.value as Form['contentType'])}
                {...errProps('contentType', errors)}
              >
                <option>application/json</option>
                <option>application/xml</option>
                <option>text/plain</option>
              </select>
            </label>
          </div>
          <label>
            URL (Liquid template)
            <input
              class="mono"
              value={form.url}
              required
              placeholder="https://example.com/hooks/{{ data.id }}"
              onInput={(e) => set('url', e.currentTarget.value)}
              {...errProps('url', errors)}
            />
            <FieldError id="url" errors={errors} />
          </label>
          <fieldset>
            <legend>Headers</legend>
            {form.headers.map((h, i) => (
              <div class="row" key={i}>
                <label>
                  Header name {i + 1}
                  <input
                    value={h.name}
                    onInput={(e) =>
                      set(
                        'headers',
                        form.headers.map((x, j) =>
                          j === i ? { ...x, name: e.currentTarget.value } : x,
                        ),
                      )
                    }
                  />
                </label>
                <label>
                  Header value {i + 1}
                  <input
                    class="mono"
                    value={h.value}
                    onInput={(e) =>
                      set(
                        'headers',
                        form.headers.map((x, j) =>
                          j === i ? { ...x, value: e.currentTarget.value } : x,
                        ),
                      )
                    }
                  />
                </label>
                <button
                  type="button"
                  class="secondary"
                  aria-label={`Remove header ${i + 1}`}
                  onClick={() =>
                    set(
                      'headers',
                      form.headers.filter((_, j) => j !== i),
                    )
                  }
                >
                  Remove
                </button>
              </div>
            ))}
            <FieldError id="headers" errors={errors} />
            <button
              type="button"
              class="secondary"
              onClick={() => set('headers', [...form.headers, { name: '', value: '' }])}
            >
              Add header
            </button>
          </fieldset>
          <label>
            Body (Liquid template
            {form.contentType === 'application/json' ? '; empty for the default event JSON' : ''})
            <textarea
              class="mono"
              rows={8}
              value={form.body}
              onInput={(e) => set('body', e.currentTarget.value)}
              {...errProps('body', errors)}
            />
            <FieldError id="body" errors={errors} />
          </label>
          <label class="inline">
            <input
              type="checkbox"
              checked={form.strict}
              onChange={(e) => set('strict', e.currentTarget.checked)}
            />{' '}
            Strict (a missing variable fails the render)
          </label>
          <fieldset>
            <legend>Authentication</legend>
            <label>
              Basic Auth
              <select
                value={form.authType}
                onChange={(e) => set('authType', e.currentTarget.value as Form['authType'])}
              >
                <option value="none">None</option>
                <option value="basic">Basic</option>
              </select>
            </label>
            {form.authType === 'basic' ? (
              <div class="row">
                <label>
                  User name
                  <input
                    value={form.username}
                    autoComplete="off"
                    onInput={(e) => set('username', e.currentTarget.value)}
                    {...errProps('auth', errors)}
                  />
                </label>
                <label>
                  Password{passwordAgain ? ' (required)' : ''}
                  <input
                    type="password"
                    autoComplete="new-password"
                    value={form.password}
                    required={passwordAgain}
                    placeholder={saved?.auth && !passwordAgain ? 'unchanged' : ''}
                    onInput={(e) => set('password', e.currentTarget.value)}
                    {...errProps('password', errors)}
                  />
                  <FieldError id="password" errors={errors} />
                </label>
              </div>
            ) : null}
            <FieldError id="auth" errors={errors} />
            <label>
              Signing secret
              <select
                value={form.signing}
                onChange={(e) => set('signing', e.currentTarget.value as Form['signing'])}
                {...errProps('signingSecret', errors)}
              >
                <option value="none">None</option>
                {saved?.signingSecret || saved?.signing ? (
                  <>
                    <option value="keep">
                      {saved.signing ? 'Keep the ed25519 key pair' : 'Keep the current secret'}
                    </option>
                    <option value="rotate">
                      {`Rotate: a new ${saved.signing ? 'key pair' : 'secret'}, the current one signs beside it for ${ROTATION_GRACE_HOURS} h`}
                    </option>
                  </>
                ) : null}
                <option value="generate">
                  {saved?.signingSecret
                    ? 'Replace with a new secret now (receivers on the current one fail)'
                    : 'Generate a new secret'}
                </option>
                <option value="enter">Enter a secret</option>
                <option value="ed25519">New ed25519 key pair (asymmetric, v1a)</option>
              </select>
            </label>
            {form.signing === 'enter' ? (
              <label>
                Secret (whsec_…)
                <input
                  type="password"
                  autoComplete="off"
                  value={form.secret}
                  onInput={(e) => set('secret', e.currentTarget.value)}
                />
              </label>
            ) : null}
            {saved?.publicKey ? (
              <p class="muted">
                Public key for receivers: <code class="mono">{saved.publicKey}</code>
              </p>
            ) : null}
            <FieldError id="signingSecret" errors={errors} />
            <FieldError id="signing" errors={errors} />
          </fieldset>
          <fieldset>
            <legend>Conditions</legend>
            <label class="inline">
              <input
                type="checkbox"
                checked={form.conditionsOn}
                onChange={(e) => set('conditionsOn', e.currentTarget.checked)}
              />{' '}
              Only for events whose data match
            </label>
            {form.conditionsOn ? (
              <>
                <label>
                  Match
                  <select
                    value={form.match}
                    onChange={(e) => set('match', e.currentTarget.value as Form['match'])}
                  >
                    <option value="all">All rules</option>
                    <option value="any">Any rule</option>
                  </select>
                </label>
                {form.rules.map((r, i) => {
                  const upd = (p: Partial<RuleRow>) =>
                    set(
                      'rules',
                      form.rules.map((x, j) => (j === i ? { ...x, ...p } : x)),
                    );
                  const rowErrors = ruleErrors(i, errors);
                  const rowErr = (part: string) =>
                    errProps(`rule-${i}-${part}`, errors, `err-rule-${i}`);
                  return (
                    <div class="row" key={i}>
                      <label>
                        Field {i + 1}
                        <input
                          class="mono"
                          placeholder="data.amount"
                          value={r.field}
                          onInput={(e) => upd({ field: e.currentTarget.value })}
                          {...rowErr('field')}
                        />
                      </label>
                      <label>
                        Operator {i + 1}
                        <select
                          value={r.op}
                          onChange={(e) => upd({ op: e.currentTarget.value as Operator })}
                          {...rowErr('op')}
                        >
                          {OPERATORS.map((o) => (
                            <option key={o}>{o}</option>
                          ))}
                        </select>
                      </label>
                      <label>
                        Value {i + 1}
                        <input
                          class="mono"
                          placeholder='1000 or "EUR" or ["EUR","USD"]'
                          value={r.value}
                          onInput={(e) => upd({ value: e.currentTarget.value })}
                          {...rowErr('value')}
                        />
                      </label>
                      <button
                        type="button"
                        class="secondary"
                        aria-label={`Remove rule ${i + 1}`}
                        onClick={() =>
                          set(
                            'rules',
                            form.rules.filter((_, j) => j !== i),
                          )
                        }
                      >
                        Remove
                      </button>
                      {rowErrors.length > 0 ? (
                        <span class="field-error" id={`err-rule-${i}`}>
                          {rowErrors.join('; ')}
                        </span>
                      ) : null}
                    </div>
                  );
                })}
                <button
                  type="button"
                  class="secondary"
                  onClick={() =>
                    set('rules', [...form.rules, { field: 'data.', op: 'eq', value: '' }])
                  }
                >
                  Add rule
                </button>
              </>
            ) : null}
            <FieldError id="conditions" errors={errors} />
          </fieldset>
          <label>
            Rate limit (requests per second, optional)
            <input
              type="number"
              min={1}
              max={10000}
              value={form.rateLimit}
              onInput={(e) => set('rateLimit', e.currentTarget.value)}
              {...errProps('rateLimitPerSecond', errors)}
            />
            <FieldError id="rateLimitPerSecond" errors={errors} />
          </label>
          <label>
            Most requests in flight at once (1 to 100; empty for the default)
            <input
              type="number"
              min={1}
              max={100}
              value={form.maxConcurrency}
              onInput={(e) => set('maxConcurrency', e.currentTarget.value)}
              {...errProps('maxConcurrency', errors)}
            />
            <FieldError id="maxConcurrency" errors={errors} />
          </label>
          <ErrorBox error={saveError} title="Not saved" pathLabel={formPath} />
          {notice ? (
            <p class="ok" role="status">
              {notice}
            </p>
          ) : null}
          <div class="actions">
            <button type="submit" aria-disabled={busy}>
              Save
            </button>
            {saved ? (
              <button type="button" class="danger" onClick={() => dialog.current?.showModal()}>
                Delete
              </button>
            ) : null}
          </div>
        </form>
        {saved ? (
          <PreviewPanel webhook={saved} known={known} />
        ) : (
          <aside class="card muted">
            Save the webhook to preview its request against a sample event.
          </aside>
        )}
      </div>
      <dialog ref={dialog} aria-labelledby="delete-title">
        <h2 id="delete-title">
          Delete “<bdi>{saved?.name}</bdi>”?
        </h2>
        <p>Its history stays; nothing more will be sent to it.</p>
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class="danger" onClick={remove}>
            Delete webhook
          </button>
        </div>
      </dialog>
    </Page>
  );
}

function HealthPanel({
  id,
  health,
  onChange,
}: {
  id: string;
  health: HealthOrMissing | undefined;
  onChange: (h: WebhookHealth) => void;
}) {
  if (!health) return <Loading what="health" />;
  if (health === 'unavailable') return null;
  return (
    <section class="card health" aria-label="Health">
      <div>
        Circuit <Status value={health.state} /> since {fmtTime(health.since)}
        {health.disabledReason ? ` (${health.disabledReason})` : ''}
      </div>
      <div>Recent success: {successRate(health)}</div>
      <div>Consecutive failures: {health.consecutiveFailures}</div>
      <div>Waiting: {health.waiting}</div>
      {health.nextProbeAt ? <div>Next probe: {fmtTime(health.nextProbeAt)}</div> : null}
      <PauseResume id={id} health={health} onChange={onChange} />
    </section>
  );
}

function PreviewPanel({ webhook, known }: { webhook: WebhookDefinition; known: string[] }) {
  const api = useApi();
  const types = [...new Set([...webhook.events.filter((e) => e !== '*'), ...known])];
  const [type, setType] = useState(types[0] ?? 'SAMPLE_EVENT');
  const [data, setData] = useState('{\n  "id": "sample-1",\n  "amount": 1000\n}');
  const [result, setResult] = useState<PreviewResult>();
  const [error, setError] = useState<unknown>();
  const [dataError, setDataError] = useState<string>();

  const run = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch (err) {
      setDataError(`Not JSON: ${messageOf(err)}`);
      return;
    }
    setDataError(undefined);
    try {
      setResult(await api.preview(webhook.id, { type, data: parsed as Record<string, never> }));
      setError(undefined);
    } catch (err) {
      setResult(undefined);
      setError(err);
    }
  };
  // Live: the preview follows the saved definition and the sample as it is edited.
  useEffect(() => {
    const t = setTimeout(() => void run(), 400);
    return () => clearTimeout(t);
  }, [webhook.version, type, data]);

  return (
    <aside class="card preview" aria-label="Preview">
      <h2>Preview</h2>
      <p class="muted">The saved definition rendered against a sample event; nothing is sent.</p>
      <label>
        Sample event type
        <input value={type} list="preview-types" onInput={(e) => setType(e.currentTarget.value)} />
        <datalist id="preview-types">
          {types.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
      </label>
      <label>
        Sample data (JSON)
        <textarea
          class="mono"
          rows={6}
          value={data}
          onInput={(e) => setData(e.currentTarget.value)}
          aria-invalid={dataError ? true : undefined}
          aria-describedby={dataError ? 'err-sample' : undefined}
        />
        {dataError ? (
          <span class="field-error" id="err-sample">
            {dataError}
          </span>
        ) : null}
      </label>
      <button type="button" onClick={() => void run()}>
        Preview
      </button>
      <ErrorBox error={error} title="Preview failed" />
      {result ? (
        <div class="rendered" aria-live="polite">
          {result.matches !== undefined ? (
            <div class={result.matches ? 'ok' : 'warn'} data-testid="match">
              {result.matches
                ? 'This event would match: a notification would be sent.'
                : 'This event would not match: nothing would be sent.'}
              {result.subscribed === false ? (
                <div>The webhook does not subscribe to this event type.</div>
              ) : null}
              {result.failedRules && result.failedRules.length > 0 ? (
                <ul>
                  {result.failedRules.map((r) => (
                    <li key={r.index}>
                      Rule {r.index + 1} does not hold: <code>{r.field}</code> {r.op}
                    </li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : null}
          <RequestView request={result} contentType={webhook.contentType} />
        </div>
      ) : null}
    </aside>
  );
}

export function RequestView({
  request,
  contentType,
}: {
  request: { method: string; url: string; headers: Record<string, string>; body: string };
  contentType?: string;
}) {
  const ct =
    contentType ??
    Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  return (
    <div class="request">
      <p class="mono">
        <strong>{request.method}</strong> {request.url}
      </p>
      {Object.keys(request.headers).length > 0 ? (
        <table class="kv">
          <caption class="sr-only">Headers</caption>
          <tbody>
            {Object.entries(request.headers).map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td class="mono">{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <pre class="body">{pretty(request.body, ct)}</pre>
    </div>
  );
}
