/**
 * DynamoDB implementations of the stores (lambdas/ports.ts), on the low-level client with a
 * small codec for the few shapes stored. One request per operation, no read-before-write:
 * conditions make repeated writes (SQS at-least-once, Lambda retries) idempotent.
 */
export * from './dynamo-event-type-store';
export { fromAttribute, fromItem, toAttribute, toItem } from './dynamo-item';
export * from './dynamo-notification-store';
export * from './dynamo-payload-store';
export * from './dynamo-resend-job-store';
export * from './dynamo-webhook-store';
