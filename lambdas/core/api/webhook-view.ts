/**
 * A webhook definition as the API shows it. Secrets are write-only: responses carry
 * `"password":"***"` and `"signingSecret":"whsec_***"`; a generated signing secret is shown in
 * the one response that created it.
 */
import type { Conditions } from '../conditions';
import {
  type ContentType,
  type HttpMethod,
  MAX_CONCURRENCY,
  type WebhookDefinition,
} from '../model';
import { type SigningView, signingView } from './webhook-signing';

export const MASKED_PASSWORD = '***';
export const MASKED_SIGNING_SECRET = 'whsec_***';
export const GENERATE_SIGNING_SECRET = 'generate';

/** A definition as the API shows it: secrets masked, optional parts explicit. */
export interface WebhookView extends SigningView {
  readonly id: string;
  readonly name: string;
  readonly events: readonly string[];
  readonly enabled: boolean;
  readonly method: HttpMethod;
  readonly url: string;
  readonly contentType: ContentType;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly strict: boolean;
  /** Requests per second at most; null: no limit. */
  readonly rateLimitPerSecond: number | null;
  readonly auth: {
    readonly type: 'basic';
    readonly username: string;
    readonly password: string;
  } | null;
  readonly signingSecret: string | null;
  /** In force: the definition's, else the default. */
  readonly maxConcurrency: number;
  readonly conditions: Conditions | null;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toView(
  def: WebhookDefinition,
  revealSigningSecret = false,
  now: Date = new Date(),
): WebhookView {
  return {
    id: def.id,
    name: def.name,
    events: [...def.events],
    enabled: def.enabled,
    method: def.method,
    url: def.url,
    contentType: def.contentType,
    headers: { ...def.headers },
    body: def.body,
    strict: def.strict ?? false,
    rateLimitPerSecond: def.rateLimitPerSecond ?? null,
    auth: def.auth
      ? { type: 'basic', username: def.auth.username, password: MASKED_PASSWORD }
      : null,
    signingSecret: def.signingSecret
      ? revealSigningSecret
        ? def.signingSecret
        : MASKED_SIGNING_SECRET
      : null,
    ...signingView(def, now),
    maxConcurrency: def.maxConcurrency ?? MAX_CONCURRENCY.default,
    conditions: def.conditions ?? null,
    version: def.version,
    createdAt: def.createdAt,
    updatedAt: def.updatedAt,
  };
}
