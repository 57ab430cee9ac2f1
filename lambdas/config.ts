/**
 * Environment variables, read and validated once at cold start. A missing required value
 * fails the cold start with a message naming it. Names are shared with lib/ (which sets them)
 * and local/ (which sets them for local mode).
 */
export const ENV = {
  WEBHOOKS_TABLE: 'WEBHOOKS_TABLE',
  NOTIFICATIONS_TABLE: 'NOTIFICATIONS_TABLE',
  PAYLOADS_TABLE: 'PAYLOADS_TABLE',
  DELIVERY_QUEUE_URL: 'DELIVERY_QUEUE_URL',
  RETRY_STATE_MACHINE_ARN: 'RETRY_STATE_MACHINE_ARN',
  /** JSON array of 5 numbers (seconds). */
  RETRY_SCHEDULE_SECONDS: 'RETRY_SCHEDULE_SECONDS',
  /** Multiplies every back-off wait (local mode; 1 on AWS). */
  RETRY_TIME_SCALE: 'RETRY_TIME_SCALE',
  RETENTION_DAYS: 'RETENTION_DAYS',
  /** Comma list of the region's sender IPs (NAT gateway EIPs). */
  SENDER_IPS: 'SENDER_IPS',
  EGRESS_ALLOW_CIDRS: 'EGRESS_ALLOW_CIDRS',
  ALLOW_HTTP: 'ALLOW_HTTP',
  /** How long ingestion and delivery cache definitions in memory (seconds, default 30). */
  DEFINITION_CACHE_TTL_SECONDS: 'DEFINITION_CACHE_TTL_SECONDS',
  /** How many notifications of one SQS batch are delivered at once (default 16). */
  DELIVERY_CONCURRENCY: 'DELIVERY_CONCURRENCY',
  AWS_REGION: 'AWS_REGION',
} as const;

/** CloudWatch namespace of the EMF metrics; the dashboard and alarms use the same names. */
export const METRICS_NAMESPACE = 'Webhooks';
export const METRIC_NAMES = {
  eventsIngested: 'EventsIngested',
  notificationSent: 'NotificationSent',
  notificationFailed: 'NotificationFailed',
  retryScheduled: 'RetryScheduled',
  deliveryLatency: 'DeliveryLatency',
} as const;
