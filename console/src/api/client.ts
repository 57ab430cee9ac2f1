/**
 * The one API client every page uses. Shapes come from docs/openapi.yaml (schema.d.ts is
 * generated from it by `npm run console:types`), so a change of the API that the console does
 * not follow fails the console's type-check. Routes are named by their OpenAPI path.
 *
 * How a request is authorized is the transport's business: a bearer token in local mode, SigV4
 * with the identity pool's credentials on AWS.
 */
import type { components, paths } from './schema';

type Schemas = components['schemas'];
export type Webhook = Schemas['Webhook'];
export type WebhookInput = Schemas['WebhookInput'];
export type WebhookReplaceInput = Schemas['WebhookReplaceInput'];
export type RenderedRequest = Schemas['RenderedRequest'];
export type NotificationSummary = Schemas['NotificationSummary'] & WaitingInfo;
export type Notification = Schemas['Notification'] & WaitingInfo;
export type NotificationPage = Schemas['NotificationPage'];
export type NotificationStatus = Schemas['NotificationStatus'];
export type Attempt = Schemas['Attempt'];
export type ResendJob = Schemas['ResendJob'];
export type BulkResendInput = Schemas['BulkResendInput'];
export type ErrorDetail = Schemas['Error']['error']['details'][number];

/** Optional fields of the HTTP API that not every API version describes yet. */
export interface WaitingInfo {
  readonly waitingReason?: WaitingReason | null;
}
export type WaitingReason = 'RETRY_SCHEDULED' | 'CIRCUIT_OPEN' | 'PAUSED' | 'RATE_LIMITED';

export type Conditions = Schemas['Conditions'];
export type ConditionRule = Schemas['ConditionRule'];
export type Operator = ConditionRule['op'];
export type Scalar = Exclude<ConditionRule['value'], unknown[]>;
/** Every operator once: the Record type refuses a missing or an unknown one. */
const OPERATOR_SET: Record<Operator, true> = {
  eq: true,
  ne: true,
  gt: true,
  gte: true,
  lt: true,
  lte: true,
  in: true,
  nin: true,
  exists: true,
  prefix: true,
  contains: true,
};
export const OPERATORS = Object.keys(OPERATOR_SET) as Operator[];
export type WebhookDefinition = Webhook;
export type PreviewResult = RenderedRequest & {
  /** Whether this event would create a notification (type and conditions). */
  matches?: boolean;
  /** Whether the webhook's events take the event's type. */
  subscribed?: boolean;
  /** The condition rules that did not hold. */
  failedRules?: { index: number; field: string; op: string }[];
};

/** GET /webhooks/{id}/health (README "Destination health"). */
export interface WebhookHealth {
  state: 'CLOSED' | 'OPEN' | 'HALF_OPEN' | 'PAUSED' | 'DISABLED';
  since: string;
  consecutiveFailures: number;
  recent: { sent: number; failed: number; windowSeconds: number };
  waiting: number;
  nextProbeAt: string | null;
  disabledReason: null | 'AUTO_DISABLED' | 'MANUAL';
}
/** GET /event-types items. */
export interface EventTypeInfo {
  type: string;
  firstSeenAt: string;
  lastSeenAt: string;
  webhooks: number;
}
export interface SenderIps {
  region: string;
  ips: string[];
}

/** Routes of the contract the generated paths may not list yet. */
type ExtraPath =
  | '/webhooks/{id}/health'
  | '/webhooks/{id}/pause'
  | '/webhooks/{id}/resume'
  | '/event-types';
export type ApiPath = keyof paths | ExtraPath;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Sends one request; resolves with the raw response. */
export type Transport = (method: string, url: string, body?: string) => Promise<Response>;

export interface ListFilter {
  webhookId?: string;
  status?: string;
  eventType?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly transport: Transport,
  ) {}

  async call<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: ApiPath,
    opts: { params?: Record<string, string>; query?: object; body?: unknown } = {},
  ): Promise<T> {
    let p: string = path;
    for (const [k, v] of Object.entries(opts.params ?? {}))
      p = p.replace(`{${k}}`, encodeURIComponent(v));
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const qs = q.toString();
    let res: Response;
    try {
      res = await this.transport(
        method,
        `${this.baseUrl}${p}${qs ? `?${qs}` : ''}`,
        opts.body === undefined ? undefined : JSON.stringify(opts.body),
      );
    } catch (err) {
      // fetch rejects with a TypeError ("Failed to fetch") when no answer came at all.
      if (err instanceof TypeError)
        throw new ApiError(
          0,
          'NETWORK_ERROR',
          'The API did not answer: the network is down or the platform is not running',
        );
      throw err;
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (
        json as { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | undefined
      )?.error;
      throw new ApiError(
        res.status,
        e?.code ?? `HTTP_${res.status}`,
        e?.message ?? (res.statusText || `HTTP ${res.status}`),
        e?.details ?? [],
      );
    }
    return json as T;
  }

  /** Every definition: a large set comes in pages bounded by size (follows nextCursor). */
  listWebhooks = async (): Promise<{ items: WebhookDefinition[] }> => ({
    items: await this.allPages<WebhookDefinition>('/webhooks'),
  });
  getWebhook = (id: string) =>
    this.call<WebhookDefinition>('GET', '/webhooks/{id}', { params: { id } });
  createWebhook = (body: WebhookInput) =>
    this.call<WebhookDefinition>('POST', '/webhooks', { body });
  replaceWebhook = (id: string, body: WebhookReplaceInput) =>
    this.call<WebhookDefinition>('PUT', '/webhooks/{id}', { params: { id }, body });
  deleteWebhook = (id: string) => this.call<void>('DELETE', '/webhooks/{id}', { params: { id } });
  preview = (id: string, body: Schemas['PreviewInput']) =>
    this.call<PreviewResult>('POST', '/webhooks/{id}/preview', { params: { id }, body });
  /** A new signing key; the current one keeps signing beside it for `graceHours`. */
  rotateSigningKey = (id: string, body: Schemas['RotationInput']) =>
    this.call<Schemas['RotationResult']>('POST', '/webhooks/{id}/signing-secrets/rotate', {
      params: { id },
      body,
    });
  health = (id: string) =>
    this.call<WebhookHealth>('GET', '/webhooks/{id}/health', { params: { id } });
  pause = (id: string) =>
    this.call<WebhookHealth>('POST', '/webhooks/{id}/pause', { params: { id } });
  resume = (id: string) =>
    this.call<WebhookHealth>('POST', '/webhooks/{id}/resume', { params: { id } });
  eventTypes = async (): Promise<{ items: EventTypeInfo[] }> => ({
    items: await this.allPages<EventTypeInfo>('/event-types'),
  });

  private async allPages<T>(path: '/webhooks' | '/event-types'): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.call<{ items: T[]; nextCursor?: string | null }>('GET', path, {
        query: { cursor },
      });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return items;
  }
  listNotifications = (query: ListFilter) =>
    this.call<{ items: NotificationSummary[]; nextCursor: string | null }>(
      'GET',
      '/notifications',
      { query },
    );
  getNotification = (id: string) =>
    this.call<Notification>('GET', '/notifications/{id}', { params: { id } });
  resend = (id: string) =>
    this.call<{ notificationId: string; queued: true }>('POST', '/notifications/{id}/resend', {
      params: { id },
    });
  bulkResend = (body: BulkResendInput) =>
    this.call<{ jobId: string; count: number }>('POST', '/notifications/resend', { body });
  resendJob = (jobId: string) =>
    this.call<ResendJob>('GET', '/notifications/resend/{jobId}', { params: { jobId } });
  senderIps = () => this.call<SenderIps>('GET', '/sender-ips');
}

/** A 404 or 405 on a route means this API does not have it (yet): the page leaves that part out. */
export function isMissingRoute(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || err.status === 405);
}
