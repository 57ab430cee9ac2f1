/**
 * Webhook definitions: create, list, get, replace, delete and preview. Input is validated in
 * full (webhook-input.ts); templates are checked by the Renderer against a sample event before
 * anything is stored.
 *
 * On replace (PUT), `auth`, `signingSecret` and `signing` follow "omitted keeps, null removes";
 * a password that is omitted or "***" keeps the stored one, but only for the same destination:
 * a kept password is never sent to another scheme, host or port than the one it was given for
 * (destination.ts), else anyone who may edit the URL could read it at a host of their own.
 * `"signingSecret":"generate"` makes a new secret; signing keys and their rotation:
 * webhook-signing.ts.
 */

import type { Clock, WebhookStore } from '../../ports';
import { destinationChanged } from '../destination';
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '../errors';
import { asQueued, parseEvent } from '../events';
import { newWebhookId, notificationIdFor } from '../ids';
import type { BasicAuth, RenderedRequest, WebhookDefinition } from '../model';
import type { Renderer } from '../render';
import { buildRenderContext, sampleEvent } from '../render-context';
import { MAX_RENDERED_REQUEST_BYTES, requestSizeBytes } from '../request-rules';
import { required } from '../required';
import { type RotationShown, rotateSigningKey } from '../signing-keys';
import { compareCodeUnits, type Page, pageWithinBudget } from './pages';
import { has, Issues, readObject } from './validation';
import { type AuthInput, parseWebhookInput } from './webhook-input';
import { type PreviewMatch, previewMatch } from './webhook-preview';
import { noSigningKey, parseRotation, resolveSigning } from './webhook-signing';
import { toView, type WebhookView } from './webhook-view';

/** The rendered request and whether the event would fire the webhook (when enabled). */
export type PreviewResult = RenderedRequest & PreviewMatch;

/** Destination health's part in a definition's changes (lambdas/core/health/service.ts). */
export interface DefinitionHealth {
  /** After a replace: a disabled webhook's waiting notifications end; a re-enabled one starts afresh. */
  definitionSaved(definition: WebhookDefinition): Promise<void>;
  /** After a delete: the webhook's waiting notifications end. */
  definitionDeleted(webhookId: string): Promise<void>;
}

export interface WebhookServiceDeps {
  readonly webhooks: WebhookStore;
  readonly renderer: Renderer;
  readonly clock: Clock;
  /** Told of disables, re-enables and deletes; none in tests of definitions alone. */
  readonly health?: DefinitionHealth;
}

export class WebhookService {
  constructor(private readonly deps: WebhookServiceDeps) {}

  async create(body: unknown): Promise<WebhookView> {
    const input = parseWebhookInput(body, 'create');
    const at = this.deps.clock.now();
    const now = at.toISOString();
    const signing = resolveSigning(input, undefined, at);
    const def: WebhookDefinition = withSecrets(
      { ...input.fields, id: newWebhookId(), version: 1, createdAt: now, updatedAt: now },
      input.auth
        ? {
            type: 'basic',
            username: input.auth.username,
            password: required(input.auth.password, 'auth.password'),
          }
        : undefined,
      signing.fields,
    );
    this.validateTemplates(def);
    await this.deps.webhooks.put(def);
    return toView(def, signing.revealSecret, at);
  }

  /** Oldest first (creation time, then id), in pages bounded by size (pages.ts). */
  async list(cursor?: string): Promise<Page<WebhookView>> {
    const defs = await this.deps.webhooks.list();
    const sorted = defs
      .slice()
      .sort((a, b) =>
        a.createdAt === b.createdAt
          ? compareCodeUnits(a.id, b.id)
          : compareCodeUnits(a.createdAt, b.createdAt),
      );
    const page = pageWithinBudget(sorted, (d) => [d.createdAt, d.id], cursor);
    const now = this.deps.clock.now();
    return {
      items: page.items.map((d) => toView(d, false, now)),
      nextCursor: page.nextCursor,
    };
  }

  async get(id: string): Promise<WebhookView> {
    return toView(await this.require(id), false, this.deps.clock.now());
  }

  async replace(id: string, body: unknown): Promise<WebhookView> {
    const input = parseWebhookInput(body, 'replace');
    const current = await this.require(id);
    if (input.id !== undefined && input.id !== id) {
      throw new ValidationError('The id in the body does not match the path.', [
        { path: 'id', message: `must be ${id} (or omitted)` },
      ]);
    }
    if (input.version !== undefined && input.version !== current.version) {
      throw new ConflictError(
        `Webhook ${id} is at version ${current.version}, not ${input.version}: it was changed meanwhile; fetch it again.`,
      );
    }
    const auth = resolveAuth(input.auth, current, input.fields.url);
    const at = this.deps.clock.now();
    const signing = resolveSigning(input, current, at);
    const def = withSecrets(
      {
        ...input.fields,
        id,
        version: current.version + 1,
        createdAt: current.createdAt,
        updatedAt: at.toISOString(),
      },
      auth,
      signing.fields,
    );
    this.validateTemplates(def);
    await this.deps.webhooks.put(def, current.version);
    await this.deps.health?.definitionSaved(def);
    return toView(def, signing.revealSecret, at);
  }

  /**
   * A new signing key of the webhook's scheme, shown once (`{"secret"}` for HMAC,
   * `{"publicKey"}` for ed25519); the old key signs beside it for `graceHours`.
   */
  async rotateSigningKey(id: string, body: unknown): Promise<RotationShown> {
    const issues = new Issues();
    const graceHours = parseRotation(body, issues);
    issues.throwIfAny('Invalid rotation request');
    const current = await this.require(id);
    const at = this.deps.clock.now();
    const rotated = rotateSigningKey(current, at, graceHours);
    if (!rotated) throw noSigningKey(id);
    const { signingSecret: _s, signingKey: _k, retiredSigningKeys: _r, ...rest } = current;
    const def: WebhookDefinition = {
      ...rest,
      ...rotated.fields,
      version: current.version + 1,
      updatedAt: at.toISOString(),
    };
    await this.deps.webhooks.put(def, current.version);
    return rotated.shown;
  }

  /**
   * Deletes the definition, then has what waits for it settled. The second step runs on a
   * repeated DELETE too (answered 404): a DELETE that failed after the definition went (a 5xx)
   * is completed by retrying it, as a client does.
   */
  async delete(id: string): Promise<void> {
    const deleted = await this.deps.webhooks.delete(id);
    await this.deps.health?.definitionDeleted(id);
    if (!deleted) throw notFound(id);
  }

  /** Renders the request a sample event would produce; nothing is sent or stored. */
  async preview(id: string, body: unknown): Promise<PreviewResult> {
    const def = await this.require(id);
    const issues = new Issues();
    const input =
      body === undefined
        ? {}
        : readObject(body, '', ['type', 'data', 'id', 'occurredAt', 'subject'], issues);
    issues.throwIfAny('Invalid preview request');
    const defaultType = def.events.find((e) => e !== '*') ?? sampleEvent().type;
    // The producer's own validation (it fills in id and occurredAt), so a preview accepts
    // exactly what POST /events accepts.
    const event = asQueued(
      parseEvent(
        {
          type: has(input, 'type') ? input.type : defaultType,
          data: has(input, 'data') ? input.data : {},
          ...(has(input, 'id') ? { id: input.id } : {}),
          ...(has(input, 'occurredAt') ? { occurredAt: input.occurredAt } : {}),
          ...(has(input, 'subject') ? { subject: input.subject } : {}),
        },
        this.deps.clock.now(),
      ),
    );
    // The delivery's own render, on the data the delivery will see.
    const ctx = buildRenderContext(def, event, notificationIdFor(def.id, event.id));
    const request = this.deps.renderer.render(def, ctx);
    // What the delivery would refuse to send is not shown either (a render may reach 1 MiB).
    const size = requestSizeBytes(request);
    if (size > MAX_RENDERED_REQUEST_BYTES)
      throw new PayloadTooLargeError(
        `The rendered request would be ${size} bytes, more than the ${MAX_RENDERED_REQUEST_BYTES} a delivery sends: its notification would fail PAYLOAD_TOO_LARGE.`,
      );
    return { ...request, ...previewMatch(def, event) };
  }

  private validateTemplates(def: WebhookDefinition): void {
    const { version: _v, createdAt: _c, updatedAt: _u, ...rest } = def;
    this.deps.renderer.validate(rest);
  }

  private async require(id: string): Promise<WebhookDefinition> {
    const def = await this.deps.webhooks.get(id);
    if (!def) throw notFound(id);
    return def;
  }
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Webhook ${id} not found.`);
}

function withSecrets(
  base: Omit<WebhookDefinition, 'auth' | 'signingSecret' | 'signingKey' | 'retiredSigningKeys'>,
  auth: BasicAuth | undefined,
  signing: Pick<WebhookDefinition, 'signingSecret' | 'signingKey' | 'retiredSigningKeys'>,
): WebhookDefinition {
  return { ...base, ...(auth ? { auth } : {}), ...signing };
}

/**
 * The auth a replace stores. A password that is omitted or "***" (or an omitted `auth`) keeps
 * the stored one, only while the URL's destination is unchanged: a changed destination needs
 * the password again (as GitHub and others do), so "***" cannot carry it to another host.
 */
function resolveAuth(
  input: AuthInput | null | undefined,
  current: WebhookDefinition,
  url: string,
): BasicAuth | undefined {
  if (input === null) return undefined;
  if (input?.password !== undefined)
    return { type: 'basic', username: input.username, password: input.password };
  if (!current.auth) {
    if (input === undefined) return undefined;
    throw new ValidationError(
      'auth.password is required: this webhook has no stored password to keep.',
      [{ path: 'auth.password', message: 'required (no stored password to keep)' }],
    );
  }
  if (destinationChanged(current.url, url)) {
    throw new ValidationError(
      'auth.password must be given again: the URL sends to another destination (scheme, host or port) than the stored password was given for.',
      [
        {
          path: 'auth.password',
          message:
            'required again because the destination changed (a kept password is only sent to the scheme, host and port it was given for)',
        },
      ],
    );
  }
  if (input === undefined) return current.auth;
  return { type: 'basic', username: input.username, password: current.auth.password };
}
