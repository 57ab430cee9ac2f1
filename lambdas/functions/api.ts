/**
 * Entry point of the api Lambda. Its dependencies are built here, at init, once per
 * container: a bad configuration fails the cold start, naming the variable.
 */
import { withLambdaContext } from '../adapters/observability';
import { composeApi } from '../composition/api';

const apiFunction = composeApi(process.env);

export const handler = withLambdaContext(apiFunction.logger, apiFunction.handler);
