/**
 * The configuration every Lambda reads at init, with made-up names: enough for an entry point
 * to build its dependencies (nothing is called), e.g. to load a bundle on its own.
 */
export const FUNCTION_ENV: Readonly<Record<string, string>> = {
  AWS_REGION: 'us-east-1',
  WEBHOOKS_TABLE: 'webhooks',
  NOTIFICATIONS_TABLE: 'notifications',
  PAYLOADS_TABLE: 'payloads',
  EVENT_TYPES_TABLE: 'event-types',
  SUBJECT_KEYS_TABLE: 'subject-keys',
  DELIVERY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/delivery',
  RETRY_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:retry',
  HEALTH_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:health',
  SECRETS_KMS_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000001',
  CURSOR_KMS_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
};
