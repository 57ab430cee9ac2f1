/** Composition root of the delivery Lambda: the delivery engine with the renderer. */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Logger } from '../adapters/observability';
import { Renderer } from '../core/render';
import { createDeliveryHandler } from '../handlers/delivery';
import { composeDeliveryRuntime } from './delivery-runtime';
import type { Env } from './support';

export interface DeliveryFunction {
  readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
  readonly logger: Logger;
}

/** Builds the delivery handler from `env`; a missing or malformed variable throws naming it. */
export function composeDelivery(env: Env): DeliveryFunction {
  const { service, logger, metrics, config } = composeDeliveryRuntime(env, new Renderer());
  const handler = createDeliveryHandler({
    service,
    logger,
    metrics,
    concurrency: config.deliveryConcurrency,
  });
  return { handler, logger };
}
