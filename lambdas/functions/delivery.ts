/**
 * Entry point of the delivery Lambda. Its dependencies are built here, at init, once per
 * container: a bad configuration fails the cold start, naming the variable.
 */
import { withLambdaContext } from '../adapters/observability';
import { composeDelivery } from '../composition/delivery';

const deliveryFunction = composeDelivery(process.env);

export const handler = withLambdaContext(deliveryFunction.logger, deliveryFunction.handler);
