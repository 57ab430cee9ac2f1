/**
 * The domain model shared by every part of the platform: definitions, events, notifications,
 * attempts and the jobs that travel through the delivery queue. Shapes follow the public
 * contract of the HTTP API (docs/openapi.yaml).
 */
import type { Conditions } from './conditions';

export const NOTIFICATION_STATUSES = ['QUEUED', 'WAITING', 'SENT', 'FAILED'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** Bounds and default of a webhook's `maxConcurrency`. */
export const MAX_CONCURRENCY = { min: 1, max: 100, default: 10 } as const;
/**
 * Why a WAITING notification waits. RETRY_SCHEDULED: its retry state machine holds it. The
 * others park it in DynamoDB (not in flight in SQS) until the webhook's health driver releases
 * it; parking consumes no attempt.
 */
export const WAITING_REASONS = [
  'RETRY_SCHEDULED',
  'CIRCUIT_OPEN',
  'PAUSED',
  'RATE_LIMITED',
] as const;
export type WaitingReason = (typeof WAITING_REASONS)[number];
/** The reasons that park a notification (in the byParked index) rather than a running retry. */
export type ParkReason = Exclude<WaitingReason, 'RETRY_SCHEDULED'>;
export function isParkReason(reason: WaitingReason | null | undefined): reason is ParkReason {
  return reason === 'CIRCUIT_OPEN' || reason === 'PAUSED' || reason === 'RATE_LIMITED';
}

/** The waiting reason a status change records: the explicit one, else what the status implies. */
export function waitingReasonOf(update: {
  readonly status: NotificationStatus;
  readonly waitingReason?: WaitingReason | null;
}): WaitingReason | null {
  if (update.status !== 'WAITING') return null;
  return update.waitingReason ?? 'RETRY_SCHEDULED';
}

export const FAILURE_REASONS = [
  'INVALID_HTTP_RESPONSE',
  'TIMEOUT',
  'CONNECTION_ERROR',
  'TLS_ERROR',
  'BLOCKED_URL',
  'TEMPLATE_ERROR',
  'PAYLOAD_TOO_LARGE',
  'WEBHOOK_DISABLED',
  /** The request was erased with its subject's key before a retry could send it. */
  'ERASED',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export const HTTP_METHODS = ['POST', 'PUT', 'PATCH'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const CONTENT_TYPES = ['application/json', 'application/xml', 'text/plain'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export interface BasicAuth {
  readonly type: 'basic';
  readonly username: string;
  readonly password: string;
}

/**
 * The platform's ed25519 key pair of a webhook (Standard Webhooks asymmetric signatures):
 * `whsk_` + base64 of the 32-byte seed, `whpk_` + base64 of the 32-byte public key.
 */
export interface SigningKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

/** A key replaced by a rotation: it keeps signing (beside the new one) until `expiresAt`. */
export interface RetiredSigningKey {
  readonly expiresAt: string;
  /** HMAC secret (`whsec_...`), or the ed25519 pair. */
  readonly secret?: string;
  readonly keyPair?: SigningKeyPair;
}

/**
 * A webhook definition as the core sees it (secrets in clear in memory; the stores seal them
 * at rest and the API masks them).
 */
export interface WebhookDefinition {
  readonly id: string;
  readonly name: string;
  readonly events: readonly string[];
  readonly enabled: boolean;
  readonly method: HttpMethod;
  /** Liquid template rendering to an absolute http(s) URL. */
  readonly url: string;
  readonly contentType: ContentType;
  /** Header name -> Liquid template of its value. */
  readonly headers: Readonly<Record<string, string>>;
  /** Liquid template of the body. */
  readonly body: string;
  /** Missing variables are an error instead of rendering empty. */
  readonly strict?: boolean;
  readonly auth?: BasicAuth;
  /** `whsec_` + base64 secret (Standard Webhooks). */
  readonly signingSecret?: string;
  /**
   * Most requests in flight to this webhook at once, region-wide (MAX_CONCURRENCY bounds;
   * absent: MAX_CONCURRENCY.default). Keeps a slow receiver from holding the delivery Lambdas.
   */
  readonly maxConcurrency?: number;
  /** Only events whose fields match fire the webhook (Match All / Match Any). */
  readonly conditions?: Conditions;
  /** ed25519 signing (`"signing":{"scheme":"ed25519"}`): the key pair the platform made. */
  readonly signingKey?: SigningKeyPair;
  /** Keys replaced by rotations that still sign during their grace period. */
  readonly retiredSigningKeys?: readonly RetiredSigningKey[];
  /** At most this many requests per second to this webhook (1..10000); the excess waits RATE_LIMITED. */
  readonly rateLimitPerSecond?: number;
  /** Incremented on every replace; keys the compiled-template cache. */
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A producer's business event after validation (ids and time filled in). */
export interface EventEnvelope {
  readonly id: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly data: Record<string, unknown>;
  /** Whose data this is (e.g. a client id): requests about a subject can be erased. */
  readonly subject?: string;
}

/** The request exactly as rendered once; stored write-once, resent unchanged. */
export interface RenderedRequest {
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type AttemptTrigger = 'initial' | 'retry' | 'manual';

export interface Attempt {
  readonly number: number;
  readonly trigger: AttemptTrigger;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly outcome: 'SENT' | 'FAILED';
  readonly error: FailureReason | null;
  /** First 1 KiB of the response body, as text. */
  readonly responseBody: string | null;
}

export interface Notification {
  readonly id: string;
  readonly webhookId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly createdAt: string;
  readonly status: NotificationStatus;
  readonly failureReason: FailureReason | null;
  /** Human-readable detail of a failure that had no HTTP attempt (e.g. the template error). */
  readonly failureDetail?: string | null;
  readonly attempts: readonly Attempt[];
  readonly nextAttemptAt: string | null;
  /** Why a WAITING notification waits; null otherwise (absent in records written before it existed). */
  readonly waitingReason?: WaitingReason | null;
  /** Set while a manual resend waits for its webhook (see PendingResend); absent otherwise. */
  readonly pendingResend?: PendingResend | null;
  /**
   * The latest manual resends recorded (at most RESENDS_KEPT), as `<key>=<SENT|FAILED>` where the
   * key is the resend's job id (bulk) or resend id (one): a repeated delivery of the same resend
   * job finds itself here and sends nothing again. Internal; never shown by the API.
   */
  readonly resends?: readonly string[];
}

/** How many recorded manual resends a notification remembers (Notification.resends). */
export const RESENDS_KEPT = 20;

/**
 * A manual resend that found its webhook blocked (paused, circuit open, slowed or rate limited)
 * waits parked like any notification; the driver releases it as one manual attempt, after
 * which nothing automatic follows, and it counts in its bulk resend job (if any) then.
 */
export interface PendingResend {
  readonly jobId: string | null;
  /** A resend of one notification: its own id (DeliveryJob resendId), recorded when it goes out. */
  readonly resendId?: string;
}

/** What the delivery queue carries. */
export type DeliveryJob =
  /** First delivery of an event to one webhook: render, store, attempt. */
  | {
      readonly kind: 'deliver';
      readonly notificationId: string;
      readonly webhookId: string;
      /** The definition's version the event was matched against; delivery renders with it or a newer one. */
      readonly webhookVersion?: number;
      readonly event: EventEnvelope;
      /** Times the job was put back because its webhook was at its concurrency cap. */
      readonly deferrals?: number;
      /** Put back once to let another copy's first attempt be recorded (see DeliveryService). */
      readonly awaitedFirst?: true;
      /** Times the job was put back because AWS throttled one of its calls (see DeliveryService). */
      readonly throttled?: number;
    }
  /** A manual resend of the stored request (bulk resend runs through the queue). */
  | {
      readonly kind: 'resend';
      readonly notificationId: string;
      /** The notification's webhook: the message group (always set; absent only in older messages). */
      readonly webhookId?: string;
      readonly jobId?: string;
      /** A resend of one notification (no jobId): unique per request, so a repeat is known. */
      readonly resendId?: string;
      /** Times the job was put back because its webhook was at its concurrency cap. */
      readonly deferrals?: number;
      /** Times the job was put back because AWS throttled one of its calls. */
      readonly throttled?: number;
    }
  /**
   * A bulk resend by date range, expanded page by page by the delivery Lambda: each page
   * enqueues 'resend' jobs and, while more remain, a continuation with the next cursor.
   */
  | {
      readonly kind: 'resendQuery';
      readonly jobId: string;
      readonly query: ResendQuery;
      readonly cursor?: string;
      /** Times the job was put back because AWS throttled one of its calls. */
      readonly throttled?: number;
    }
  /** Make sure a webhook's health driver runs (after a resume): it releases what waits. */
  | {
      readonly kind: 'health';
      readonly webhookId: string;
      /** Times the job was put back because AWS throttled one of its calls. */
      readonly throttled?: number;
    };

export interface ResendQuery {
  readonly from: string;
  readonly to: string;
  readonly webhookId?: string;
  readonly status: NotificationStatus;
}
