/** Composition root of the attempt Lambda: the delivery engine without a renderer. */
import type { Logger } from '../adapters/observability';
import { type AttemptHandler, createAttemptHandler } from '../handlers/attempt';
import { composeDeliveryRuntime } from './delivery-runtime';
import type { Env } from './support';

export interface AttemptFunction {
  readonly handler: AttemptHandler;
  readonly logger: Logger;
}

/** Builds the attempt handler from `env`; a missing or malformed variable throws naming it. */
export function composeAttempt(env: Env): AttemptFunction {
  const { service, driver, logger, metrics } = composeDeliveryRuntime(env);
  return { handler: createAttemptHandler({ service, driver, metrics }), logger };
}
