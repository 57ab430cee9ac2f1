/**
 * Composition root of the retry sweeper Lambda: the Notifications table (byStatus index and
 * single reads) and the retry state machine, nothing else (it sends no webhooks).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { awsClientConfig } from '../adapters/aws-client-config';
import { DynamoNotificationStore } from '../adapters/dynamo-notification-store';
import { createLogger, createMetrics, type Logger } from '../adapters/observability';
import { SfnRetryScheduler } from '../adapters/sfn-scheduler';
import { loadSweeperConfig, type SweeperConfig } from '../config';
import { RetrySweeper } from '../core/retry-sweep';
import { createSweeperHandler, type SweeperHandler } from '../handlers/sweeper';
import { type Env, systemClock } from './support';

export interface SweeperFunction {
  readonly handler: SweeperHandler;
  readonly logger: Logger;
  readonly config: SweeperConfig;
}

/** The sweeper lists nothing: the store's list cursors and webhook history are never asked for. */
const NOT_LISTING = {
  key: () => Promise.reject(new Error('the retry sweeper lists no notifications')),
  historyIds: () => Promise.reject(new Error('the retry sweeper lists no notifications')),
};

/** Builds the sweeper handler from `env`; a missing or malformed variable throws naming it. */
export function composeSweeper(env: Env): SweeperFunction {
  const config = loadSweeperConfig(env);
  const logger = createLogger();
  const metrics = createMetrics();
  const notifications = new DynamoNotificationStore(
    new DynamoDBClient(awsClientConfig(env, 'DYNAMODB')),
    config.notificationsTable,
    NOT_LISTING,
    NOT_LISTING,
  );
  // Only retry executions are started here; the health machine's ARN is never used.
  const scheduler = new SfnRetryScheduler(new SFNClient(awsClientConfig(env, 'SFN')), {
    retry: config.retryStateMachineArn,
    health: config.retryStateMachineArn,
  });
  const sweeper = new RetrySweeper({
    notifications,
    scheduler,
    settings: { graceMs: config.graceMs, maxStarts: config.maxStarts, slotMs: config.slotMs },
  });
  return {
    handler: createSweeperHandler({ sweeper, clock: systemClock, metrics, logger }),
    logger,
    config,
  };
}
