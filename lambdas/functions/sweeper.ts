/**
 * Entry point of the retry sweeper Lambda (scheduled). Its dependencies are built here, at
 * init, once per container: a bad configuration fails the cold start, naming the variable.
 */
import { withLambdaContext } from '../adapters/observability';
import { composeSweeper } from '../composition/sweeper';

const sweeperFunction = composeSweeper(process.env);

export const handler = withLambdaContext(sweeperFunction.logger, sweeperFunction.handler);
