import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { RETRY_STATE_NAMES, RetryMachine } from './constructs/retry-machine';

export { RETRY_STATE_NAMES };

/** Stand-in ARN of the attempt Lambda in a definition synthesized outside a real stack. */
export const LOCAL_ATTEMPT_FUNCTION_ARN =
  'arn:aws:lambda:us-east-1:123456789012:function:webhooks-attempt';

/**
 * Synthesizes the RetryMachine construct in a throwaway stack (no bundling, no CloudFormation
 * synthesis) and returns its ASL definition as an object, the Lambda function ARN replaced by
 * `attemptFunctionArn`. Local mode and tests execute exactly what is deployed.
 */
export function synthesizeRetryDefinition(
  opts: { schedule?: readonly number[]; attemptFunctionArn?: string } = {},
): Record<string, unknown> {
  const arn = opts.attemptFunctionArn ?? LOCAL_ATTEMPT_FUNCTION_ARN;
  const stack = new Stack(new App(), 'RetryDefinition');
  const attemptFunction = lambda.Function.fromFunctionArn(stack, 'AttemptFunction', arn);
  const machine = new RetryMachine(stack, 'RetryMachine', {
    attemptFunction,
    scheduleSeconds: opts.schedule,
    observability: false,
  });
  const cfn = machine.stateMachine.node.defaultChild as sfn.CfnStateMachine;
  const resolved: unknown = stack.resolve(cfn.definitionString);
  if (typeof resolved !== 'string') {
    // Only literal values go in (the imported ARN), so anything else is a construct change to look at.
    throw new Error(
      `retry definition did not resolve to a plain string: ${JSON.stringify(resolved).slice(0, 200)}`,
    );
  }
  return JSON.parse(resolved) as Record<string, unknown>;
}
