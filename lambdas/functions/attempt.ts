/**
 * Entry point of the attempt Lambda. Its dependencies are built here, at init, once per
 * container: a bad configuration fails the cold start, naming the variable.
 */
import { withLambdaContext } from '../adapters/observability';
import { composeAttempt } from '../composition/attempt';

const attemptFunction = composeAttempt(process.env);

export const handler = withLambdaContext(attemptFunction.logger, attemptFunction.handler);
