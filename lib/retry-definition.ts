import { Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { HealthMachine, RETRY_STATE_NAMES, RetryMachine } from './constructs/retry-machine';
import { withTemporaryApp } from './temporary-app';

export { RETRY_STATE_NAMES };

/** Stand-in ARN of the attempt Lambda in a definition synthesized outside a real stack. */
export const LOCAL_ATTEMPT_FUNCTION_ARN =
  'arn:aws:lambda:us-east-1:123456789012:function:webhooks-attempt';

type Definition = Record<string, unknown>;

/**
 * Synthesizes the RetryMachine construct in a throwaway stack (no bundling, no CloudFormation
 * synthesis) and returns its ASL definition as an object, the Lambda function ARN replaced by
 * `attemptFunctionArn`. Local mode and tests execute exactly what is deployed.
 */
export function synthesizeRetryDefinition(
  opts: { schedule?: readonly number[]; attemptFunctionArn?: string } = {},
): Definition {
  return synthesize(opts.attemptFunctionArn, (stack, attemptFunction) => {
    const machine = new RetryMachine(stack, 'RetryMachine', {
      attemptFunction,
      scheduleSeconds: opts.schedule,
      observability: false,
    });
    return machine.stateMachine;
  });
}

/** The HealthMachine construct's ASL definition, as synthesizeRetryDefinition gives the retry machine's. */
export function synthesizeHealthDefinition(opts: { attemptFunctionArn?: string } = {}): Definition {
  return synthesize(opts.attemptFunctionArn, (stack, attemptFunction) => {
    const machine = new HealthMachine(stack, 'HealthMachine', {
      attemptFunction,
      observability: false,
    });
    return machine.stateMachine;
  });
}

function synthesize(
  attemptFunctionArn: string | undefined,
  build: (stack: Construct, attemptFunction: lambda.IFunction) => sfn.StateMachine,
): Definition {
  return withTemporaryApp({}, (app) => {
    const stack = new Stack(app, 'MachineDefinition');
    const attemptFunction = lambda.Function.fromFunctionArn(
      stack,
      'AttemptFunction',
      attemptFunctionArn ?? LOCAL_ATTEMPT_FUNCTION_ARN,
    );
    const cfn = build(stack, attemptFunction).node.defaultChild as sfn.CfnStateMachine;
    const resolved: unknown = stack.resolve(cfn.definitionString);
    if (typeof resolved !== 'string') {
      // Only literal values go in (the imported ARN), so anything else is a construct change to look at.
      throw new Error(
        `machine definition did not resolve to a plain string: ${JSON.stringify(resolved).slice(0, 200)}`,
      );
    }
    return JSON.parse(resolved) as Definition;
  });
}
