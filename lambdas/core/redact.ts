/**
 * Keeps a webhook's own secrets out of what the history stores about its receiver: response
 * excerpts and failure details. A receiver may echo the request (its Authorization header, the
 * signature, a body quoting them), in clear or in the encodings echoes commonly use.
 */
import type { WebhookDefinition } from './model';

export const REDACTED = '[REDACTED]';
/** A cut excerpt ending in at least this many characters of a secret loses them too. */
const MIN_TRAILING_PREFIX = 4;

/** The encodings a secret is searched in: as is, base64 (+url, unpadded), JSON, HTML, URL, hex. */
function spellings(raw: string): string[] {
  const bytes = Buffer.from(raw, 'utf8');
  const base64 = bytes.toString('base64');
  const forms = [
    raw,
    base64,
    base64.replace(/=+$/, ''),
    bytes.toString('base64url'),
    base64.replaceAll('/', '\\/'),
    JSON.stringify(raw).slice(1, -1),
    // JSON as ASCII-only serializers write it (Python's json.dumps, Jackson's ESCAPE_NON_ASCII).
    JSON.stringify(raw)
      .slice(1, -1)
      .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    // HTML, as an error page quoting the request writes it (&#39; and &#x27; for the apostrophe).
    htmlEscaped(raw, '&#39;'),
    htmlEscaped(raw, '&#x27;'),
    encodeURIComponent(raw),
    encodeURIComponent(base64),
    bytes.toString('hex'),
  ];
  return forms;
}

function htmlEscaped(raw: string, apostrophe: string): string {
  return raw
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", apostrophe);
}

type SecretFields = Pick<WebhookDefinition, 'auth' | 'signingSecret' | 'retiredSigningKeys'>;

/**
 * What must never be stored for `def`: the password, its Basic credential (`user:password`, as
 * sent base64-encoded in `Authorization: Basic ...`), the signing secret and the secrets a
 * rotation replaced (they still sign in their grace period, so receivers hold them too), each
 * with and without its `whsec_` prefix and as key bytes, in every spelling above.
 */
export function secretNeedles(def: SecretFields): string[] {
  const raws: string[] = [];
  if (def.auth) raws.push(def.auth.password, `${def.auth.username}:${def.auth.password}`);
  const secrets = [def.signingSecret, ...(def.retiredSigningKeys ?? []).map((k) => k.secret)];
  for (const secret of secrets) {
    if (!secret) continue;
    raws.push(secret);
    const encoded = secret.replace(/^whsec_/, '');
    raws.push(encoded);
    const key = Buffer.from(encoded, 'base64');
    if (key.length > 0) {
      raws.push(key.toString('base64url'), key.toString('hex'));
    }
  }
  const needles = new Set<string>();
  for (const raw of raws) for (const form of spellings(raw)) if (form !== '') needles.add(form);
  // Longest first, so a spelling that contains another is replaced whole.
  return [...needles].sort((a, b) => b.length - a.length);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `text` with every occurrence of a needle (any letter case) replaced by [REDACTED], and a
 * trailing start of a needle (the excerpt was cut inside it) as well.
 */
export function redactSecrets(text: string, needles: readonly string[]): string {
  if (needles.length === 0 || text === '') return text;
  return redact(text, needles, new RegExp(needles.map(escapeRegExp).join('|'), 'gi'));
}

function redact(text: string, needles: readonly string[], pattern: RegExp): string {
  const out = text.replace(pattern, REDACTED);
  const lower = out.toLowerCase();
  for (const needle of needles) {
    const n = needle.toLowerCase();
    for (let k = Math.min(n.length - 1, lower.length); k >= MIN_TRAILING_PREFIX; k--) {
      if (lower.endsWith(n.slice(0, k))) return out.slice(0, out.length - k) + REDACTED;
    }
  }
  return out;
}

type Redactor = (text: string) => string;
const redactors = new WeakMap<object, Redactor>();

/**
 * redactSecrets bound to `def`'s secrets, kept per definition object (the delivery path reuses
 * cached definitions, so the needles and their pattern are built once per version).
 */
export function redactorFor(def: SecretFields): Redactor {
  let redactor = redactors.get(def);
  if (!redactor) {
    const needles = secretNeedles(def);
    const pattern =
      needles.length === 0 ? undefined : new RegExp(needles.map(escapeRegExp).join('|'), 'gi');
    redactor = (text) =>
      pattern === undefined || text === '' ? text : redact(text, needles, pattern);
    redactors.set(def, redactor);
  }
  return redactor;
}
