/**
 * The one mapper from errors to HTTP responses, shared by the api and ingest Lambdas.
 * DomainErrors become `{"error":{"code","message","details"}}` with their status; anything
 * AWS throttling our own calls (DynamoDB, SQS, KMS) is load, not a fault: 503 THROTTLED with
 * `Retry-After`, logged. Anything else is a bug or an outage: 500 INTERNAL_ERROR with no detail,
 * logged server-side.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { isThrottlingError } from '../../adapters/aws-errors';
import { DomainError } from '../../core/errors';

/** Seconds a caller is asked to wait after a 503 THROTTLED (the SDK already retried a few times). */
export const THROTTLED_RETRY_AFTER_SECONDS = 1;

/** The body is not parseable JSON (or not UTF-8): 400. */
export class InvalidJsonError extends DomainError {
  readonly code = 'INVALID_JSON';
}

/** A known path asked with a method it does not serve: 405 with an Allow header. */
export class MethodNotAllowedError extends DomainError {
  readonly code = 'METHOD_NOT_ALLOWED';
  constructor(
    message: string,
    readonly allow: readonly string[],
  ) {
    super(message);
  }
}

export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details: readonly unknown[];
  };
}

export interface HttpErrorResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: ErrorBody;
}

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  INVALID_CURSOR: 400,
  TEMPLATE_ERROR: 400,
  RESERVED_EVENT_TYPE: 400,
  INVALID_CONDITIONS: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  ERASED: 409,
  WEBHOOK_DISABLED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

export function errorResponse(err: unknown, logger: Pick<Logger, 'error'>): HttpErrorResponse {
  if (err instanceof DomainError) {
    const status = STATUS_BY_CODE[err.code];
    if (status !== undefined) {
      const headers: Record<string, string> = {};
      if (err instanceof MethodNotAllowedError) headers.allow = err.allow.join(', ');
      // Details are built by our own validators (path, index, message): safe to return.
      const details = err.details.map((d) => ({ ...d }));
      return {
        status,
        headers,
        body: { error: { code: err.code, message: err.message, details } },
      };
    }
  }
  // Log the error object only (never the request): messages of our own code and the SDK
  // do not carry request bodies, which may hold secrets on the webhooks routes.
  if (isThrottlingError(err)) {
    logger.error('Throttled by AWS; answered 503', err as Error);
    return {
      status: 503,
      headers: { 'retry-after': String(THROTTLED_RETRY_AFTER_SECONDS) },
      body: {
        error: {
          code: 'THROTTLED',
          message:
            'The platform is busy; try again shortly. A POST /events repeated with the same producer id creates nothing twice.',
          details: [],
        },
      },
    };
  }
  if (err instanceof Error) logger.error('Unhandled error', err);
  else logger.error('Unhandled error', { error: String(err) });
  return {
    status: 500,
    headers: {},
    body: {
      error: {
        code: 'INTERNAL_ERROR',
        message: 'Internal error; it has been logged.',
        details: [],
      },
    },
  };
}
