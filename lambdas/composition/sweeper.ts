/**
 * Composition root of the retry sweeper Lambda: the Notifications table (byStatus index, single
 * reads, health records), the retry state machine, and for the driver watch the Webhooks
 * table's ids and the health machine; nothing else (it sends no webhooks, opens no secret).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { awsClientConfig } from '../adapters/aws-client-config';
import { DynamoHealthStore } from '../adapters/dynamo-health';
import { DynamoNotificationStore } from '../adapters/dynamo-notification-store';
import { webhookHistoryIds } from '../adapters/dynamo-webhook-store';
import {
  createHealthObserver,
  createLogger,
  createMetrics,
  type Logger,
} from '../adapters/observability';
import { SfnRetryScheduler } from '../adapters/sfn-scheduler';
import { loadSweeperConfig, type SweeperConfig } from '../config';
import { watchDrivers } from '../core/health/driver-watch';
import { HealthGate } from '../core/health/gate';
import { DEFAULT_HEALTH_SETTINGS } from '../core/health/model';
import { WAITING_COUNT_CAP } from '../core/health/service';
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
  const dynamo = new DynamoDBClient(awsClientConfig(env, 'DYNAMODB'));
  const notifications = new DynamoNotificationStore(
    dynamo,
    config.notificationsTable,
    NOT_LISTING,
    NOT_LISTING,
  );
  const watch = config.driverWatch;
  const scheduler = new SfnRetryScheduler(new SFNClient(awsClientConfig(env, 'SFN')), {
    retry: config.retryStateMachineArn,
    // Without the driver watch no health driver is started here.
    health: watch?.healthStateMachineArn ?? config.retryStateMachineArn,
  });
  let drivers: (() => ReturnType<typeof watchDrivers>) | undefined;
  if (watch) {
    const store = new DynamoHealthStore(dynamo, config.notificationsTable);
    // Only ensureDriver is used: the lease and the driver's start, as the delivery path does it.
    const gate = new HealthGate({
      store,
      scheduler,
      clock: systemClock,
      settings: DEFAULT_HEALTH_SETTINGS,
      observer: createHealthObserver(logger, metrics),
    });
    drivers = () =>
      watchDrivers({
        webhookIds: () => webhookHistoryIds(dynamo, watch.webhooksTable),
        store,
        gate,
        clock: systemClock,
        settings: DEFAULT_HEALTH_SETTINGS,
        countParked: (webhookId) => notifications.countParked(webhookId, WAITING_COUNT_CAP),
      });
  }
  const sweeper = new RetrySweeper({
    notifications,
    scheduler,
    settings: { graceMs: config.graceMs, maxStarts: config.maxStarts, slotMs: config.slotMs },
    ...(drivers ? { drivers } : {}),
  });
  return {
    handler: createSweeperHandler({ sweeper, clock: systemClock, metrics, logger }),
    logger,
    config,
  };
}
