/**
 * Named errors of the domain. One mapper at the API edge turns them into HTTP statuses;
 * a client never sees a stack trace.
 */
export interface ErrorDetail {
  readonly path?: string;
  readonly message: string;
  readonly index?: number;
}

export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input: 400. */
export class ValidationError extends DomainError {
  readonly code = 'VALIDATION_ERROR';
}

/**
 * A pagination cursor that this installation did not issue for this query, or that cannot be
 * one: 400. Cursors carry a MAC under a per-installation key, so a client cannot build one.
 */
export class InvalidCursorError extends DomainError {
  readonly code = 'INVALID_CURSOR';
  constructor(reason: string) {
    super(`cursor is not valid for this query (${reason}); start again without a cursor`, [
      { path: 'cursor', message: reason },
    ]);
  }
}

/** A template does not parse, or renders to something invalid (e.g. a JSON body that does not parse). */
export class TemplateError extends DomainError {
  readonly code = 'TEMPLATE_ERROR';
}

/** A producer published an event type the platform keeps for itself (`platform.*`): 400. */
export class ReservedEventTypeError extends DomainError {
  readonly code = 'RESERVED_EVENT_TYPE';
}

/** A definition's conditions are invalid (details name the rule's index and a reason): 400. */
export class InvalidConditionsError extends DomainError {
  readonly code = 'INVALID_CONDITIONS';
}

/** 404. */
export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
}

/** 409. */
export class ConflictError extends DomainError {
  readonly code = 'CONFLICT';
}

/**
 * The stored request was erased with its subject's key (crypto-shredding): 409 ERASED. What
 * stays readable is the method and host.
 */
export class ErasedError extends DomainError {
  readonly code = 'ERASED';
  constructor(
    message: string,
    readonly method: string,
    readonly host: string,
  ) {
    super(message);
  }
}

/**
 * A resend to a webhook that is disabled or deleted: 409 WEBHOOK_DISABLED. Nothing is queued
 * and the notification is unchanged; enable the webhook (or resend to another) first.
 */
export class WebhookDisabledError extends DomainError {
  readonly code = 'WEBHOOK_DISABLED';
}

/** 413. */
export class PayloadTooLargeError extends DomainError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** 415. */
export class UnsupportedMediaTypeError extends DomainError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
}
