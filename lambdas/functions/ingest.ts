/**
 * Entry point of the ingest Lambda. Its dependencies are built here, at init, once per
 * container: a bad configuration fails the cold start, naming the variable.
 */
import { withLambdaContext } from '../adapters/observability';
import { composeIngest } from '../composition/ingest';

const ingestFunction = composeIngest(process.env);

export const handler = withLambdaContext(ingestFunction.logger, ingestFunction.handler);
